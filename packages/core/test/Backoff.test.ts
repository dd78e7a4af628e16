import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, FastCheck, Random, Schedule } from "effect"
import * as Backoff from "../src/Backoff.js"
import { failing, runTimed } from "./utils.js"

const millis = (ds: ReadonlyArray<Duration.Duration>) => ds.map(Duration.toMillis)

const base = { base: "100 millis", factor: 2, cap: "1 second" } as const

/** The delays Backoff.make chooses for n recurrences under the given random draws. */
const runDelays = (options: Backoff.Options, draws: ReadonlyArray<number>, n = draws.length) =>
  Schedule.run(Backoff.make(options), 0, Array.from({ length: n }, () => undefined)).pipe(
    Effect.map((out) => millis(Chunk.toArray(out))),
    Effect.withRandom(Random.fixed([draws[0] ?? 0, ...draws.slice(1)]))
  )

describe("Backoff.delays", () => {
  it("none: capped exponential, draws ignored", () => {
    assert.deepStrictEqual(
      millis(Backoff.delays({ ...base, jitter: "none" }, [0.9, 0.1, 0.5, 0.5, 0.5, 0.5])),
      [100, 200, 400, 800, 1000, 1000]
    )
  })

  it("full: U(0, expo)", () => {
    assert.deepStrictEqual(
      millis(Backoff.delays({ ...base, jitter: "full" }, [0.5, 0.5, 0.5, 0.5, 0.5, 0, 1])),
      [50, 100, 200, 400, 500, 0, 1000]
    )
  })

  it("equal: expo/2 + U(0, expo/2)", () => {
    assert.deepStrictEqual(
      millis(Backoff.delays({ ...base, jitter: "equal" }, [0.5, 0.5, 0.5, 0.5, 0.5, 0, 1])),
      [75, 150, 300, 600, 750, 500, 1000]
    )
  })

  it("decorrelated: min(cap, U(base, prev·3)), prev starting at base", () => {
    // prev 100 -> U(100, 300) = 200; prev 200 -> U(100, 600) = 350; prev 350 -> U(100, 1050) = 575;
    // prev 575 -> U(100, 1725) = 912.5; prev 912.5 -> min(1000, 1418.75) = 1000; r = 0 -> base
    assert.deepStrictEqual(
      millis(Backoff.delays({ ...base, jitter: "decorrelated" }, [0.5, 0.5, 0.5, 0.5, 0.5, 0])),
      [200, 350, 575, 912.5, 1000, 100]
    )
  })

  it("defaults: base 500 ms, factor 2, cap 8 s, full jitter", () => {
    assert.deepStrictEqual(
      millis(Backoff.delays({}, [1, 1, 1, 1, 1, 1])),
      [500, 1000, 2000, 4000, 8000, 8000]
    )
    assert.deepStrictEqual(millis(Backoff.delays({}, [0.5])), [250])
  })

  it("no overflow to NaN for huge retry counts or a zero base", () => {
    const many = Array.from({ length: 2000 }, () => 0.5)
    const delays = millis(Backoff.delays({ base: "1 millis", cap: "1 second", jitter: "none" }, many))
    assert.strictEqual(delays[1999], 1000)
    const zero = millis(Backoff.delays({ base: 0, cap: "1 second", jitter: "full" }, many))
    assert.isTrue(zero.every((d) => d === 0))
    // an infinite cap lets the exponential overflow to infinity; a zero draw still gives zero
    const unbounded = millis(Backoff.delays({ base: "1 millis", cap: Duration.infinity, jitter: "full" }, [...many, 0]))
    assert.strictEqual(unbounded[1999], Infinity)
    assert.strictEqual(unbounded[2000], 0)
    // decorrelated with an infinite cap: the previous delay overflows, a zero draw falls back to base
    const ones = Array.from({ length: 700 }, () => 1)
    const decorrelated = millis(
      Backoff.delays({ base: "1 millis", cap: Duration.infinity, jitter: "decorrelated" }, [...ones, 0, 1])
    )
    assert.strictEqual(decorrelated[699], Infinity)
    assert.deepStrictEqual(decorrelated.slice(700), [1, 3])
  })
})

describe("Backoff.make", () => {
  it.effect("agrees with Backoff.delays under Random.fixed", () =>
    Effect.gen(function*() {
      const draws = [0.1, 0.9, 0.3, 0.7, 0.5]
      for (const jitter of ["none", "full", "equal", "decorrelated"] as const) {
        const options = { ...base, jitter }
        assert.deepStrictEqual(yield* runDelays(options, draws), millis(Backoff.delays(options, draws)), jitter)
      }
    }))

  it.effect("draws one random number per retry, in order", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* runDelays({ ...base, jitter: "full" }, [0.1, 0.9, 0.3]), [10, 180, 120])
    }))

  it.effect("jitter \"none\" draws no random number", () =>
    Effect.gen(function*() {
      const next = yield* Schedule.run(Backoff.make({ ...base, jitter: "none" }), 0, [undefined, undefined]).pipe(
        Effect.zipRight(Random.next),
        Effect.withRandom(Random.fixed([0.1, 0.2, 0.3]))
      )
      assert.strictEqual(next, 0.1)
    }))

  it.effect("exact attempt times under TestClock, bounded with Schedule.recurs", () =>
    Effect.gen(function*() {
      const { attempt, starts } = yield* failing(() => "boom")
      const policy = Backoff.make({ ...base, jitter: "full" }).pipe(Schedule.intersect(Schedule.recurs(5)))
      const { endedAt, result } = yield* runTimed(
        attempt.pipe(Effect.retry(policy), Effect.withRandom(Random.fixed([0.5])))
      )
      assert.deepStrictEqual(yield* starts, [0, 50, 150, 350, 750, 1250])
      assert.strictEqual(endedAt, 1250)
      assert.isTrue(Either.isLeft(result))
    }))

  it.effect.prop(
    "every delay lies within its jitter's bounds and never exceeds cap",
    {
      baseMs: FastCheck.integer({ min: 0, max: 10_000 }),
      capMs: FastCheck.integer({ min: 0, max: 60_000 }),
      factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
      jitter: FastCheck.constantFrom<Backoff.Jitter>("none", "full", "equal", "decorrelated"),
      // Duration keeps whole nanoseconds, hence the 1e-6 ms tolerance against the exact formulas.
      draws: FastCheck.array(FastCheck.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 })
    },
    ({ baseMs, capMs, draws, factor, jitter }) =>
      Effect.gen(function*() {
        const options: Backoff.Options = { base: baseMs, cap: capMs, factor, jitter }
        const delays = millis(Backoff.delays(options, draws))
        assert.deepStrictEqual(yield* runDelays(options, draws), delays)
        let prev = baseMs
        delays.forEach((d, n) => {
          const expo = baseMs === 0 ? 0 : Math.min(capMs, baseMs * factor ** n)
          assert.isTrue(d >= 0 && d <= capMs, `delay ${d} outside [0, ${capMs}]`)
          switch (jitter) {
            case "none":
              assert.closeTo(d, expo, 1e-6)
              break
            case "full":
              assert.isTrue(d <= expo + 1e-6)
              break
            case "equal":
              assert.isTrue(d >= expo / 2 - 1e-6 && d <= expo + 1e-6)
              break
            case "decorrelated":
              assert.isTrue(d >= Math.min(baseMs, capMs) - 1e-6)
              assert.isTrue(d <= Math.max(Math.min(capMs, prev * 3), Math.min(baseMs, capMs)) + 1e-6)
              prev = d
              break
          }
        })
      }),
    { fastCheck: { numRuns: 200 } }
  )
})
