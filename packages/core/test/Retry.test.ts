import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck,
  Fiber,
  Option,
  Random,
  Ref,
  Schedule,
  TestClock
} from "effect"
import type * as Backoff from "../src/Backoff.js"
import * as Classification from "../src/Classification.js"
import * as Retry from "../src/Retry.js"
import {
  failing,
  leftOrThrow,
  overloaded,
  permanent,
  rateLimited,
  runTimed,
  TestError
} from "./utils.js"

const fast = { base: "100 millis", factor: 2, cap: "1 second" } as const

/** Runs Retry.retry over an attempt that always fails, and collects what happened. */
const scenario = <E>(
  error: (attempt: number) => E,
  options: Retry.RetryOptions<E>,
  duration?: (attempt: number) => Duration.DurationInput
) =>
  Effect.gen(function*() {
    const { attempt, starts } = yield* failing(error, duration)
    const decisions = yield* Ref.make<ReadonlyArray<Retry.Decision<E>>>([])
    const record = (d: Retry.Decision<E>) => Ref.update(decisions, (ds) => [...ds, d])
    const { endedAt, result, t0 } = yield* runTimed(
      attempt.pipe(Retry.retry({ ...options, onRetry: record, onGiveUp: record }))
    )
    const all = yield* Ref.get(decisions)
    return {
      /** attempt start times, relative to the start of the scenario */
      starts: (yield* Ref.get(starts)).map((t) => t - t0),
      endedAt,
      error: leftOrThrow(result),
      steps: all.filter(Retry.isStep),
      giveUps: all.filter(Retry.isGiveUp)
    }
  })

const delaysOf = (steps: ReadonlyArray<Retry.Step<unknown>>) => steps.map((s) => Duration.toMillis(s.delay))

describe("Retry.retry: exact attempt times per jitter (Random.fixed([0.5]))", () => {
  const cases: ReadonlyArray<readonly [Backoff.Jitter, ReadonlyArray<number>, ReadonlyArray<number>]> = [
    ["none", [100, 200, 400, 800, 1000], [0, 100, 300, 700, 1500, 2500]],
    ["full", [50, 100, 200, 400, 500], [0, 50, 150, 350, 750, 1250]],
    ["equal", [75, 150, 300, 600, 750], [0, 75, 225, 525, 1125, 1875]],
    ["decorrelated", [200, 350, 575, 912.5, 1000], [0, 200, 550, 1125, 2037.5, 3037.5]]
  ]
  for (const [jitter, delays, starts] of cases) {
    it.effect(jitter, () =>
      Effect.gen(function*() {
        const r = yield* scenario(overloaded, { ...fast, jitter, maxRetries: 5 }).pipe(
          Effect.withRandom(Random.fixed([0.5]))
        )
        assert.deepStrictEqual(delaysOf(r.steps), delays)
        assert.deepStrictEqual(r.starts, starts)
        assert.deepStrictEqual(r.steps.map((s) => s.attempt), [1, 2, 3, 4, 5])
        assert.isTrue(r.steps.every((s) => s.reason === "backoff"))
        // gives up when the 6th attempt fails, with that attempt's error, without sleeping
        assert.strictEqual(r.endedAt, starts[5])
        assert.strictEqual(r.error.attempt, 6)
        assert.deepStrictEqual(r.giveUps.map((g) => [g.reason, g.attempt]), [["max-retries", 6]])
      }))
  }

  it.effect("step by step with TestClock.adjust: nothing fires a millisecond early", () =>
    Effect.gen(function*() {
      const { attempt, starts } = yield* failing(overloaded)
      const count = Effect.map(Ref.get(starts), (s) => s.length)
      const fiber = yield* attempt.pipe(
        Retry.retry({ ...fast, jitter: "full", maxRetries: 2 }),
        Effect.withRandom(Random.fixed([0.1, 0.9])),
        Effect.fork
      )
      yield* TestClock.adjust("9 millis") // first delay: 0.1 · 100 = 10
      assert.strictEqual(yield* count, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* count, 2)
      yield* TestClock.adjust("179 millis") // second delay: 0.9 · 200 = 180
      assert.strictEqual(yield* count, 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* count, 3)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* count, 3)
    }))
})

describe("Retry-After", () => {
  it.effect("raises the delay to the hint exactly", () =>
    Effect.gen(function*() {
      const { attempt, starts } = yield* failing((n) => rateLimited(n, "3 seconds"))
      const fiber = yield* attempt.pipe(
        Retry.retry({ ...fast, jitter: "none", maxRetries: 1 }),
        Effect.fork
      )
      yield* TestClock.adjust("2999 millis")
      assert.deepStrictEqual(yield* Ref.get(starts), [0])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 3000])
      yield* Fiber.await(fiber)
    }))

  it.effect("reports reason retry-after, and the hint is never jittered down", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "3 seconds"), { ...fast, jitter: "full", maxRetries: 2 }).pipe(
        Effect.withRandom(Random.fixed([0]))
      )
      assert.deepStrictEqual(r.starts, [0, 3000, 6000])
      assert.deepStrictEqual(r.steps.map((s) => s.reason), ["retry-after", "retry-after"])
      assert.deepStrictEqual(delaysOf(r.steps), [3000, 3000])
    }))

  it.effect("a hint longer than maxRetryAfter is cut to it", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "2 minutes"), {
        ...fast,
        jitter: "none",
        maxRetries: 1,
        maxRetryAfter: "10 seconds"
      })
      assert.deepStrictEqual(r.starts, [0, 10_000])
    }))

  it.effect("the default maxRetryAfter is 60 seconds", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "5 minutes"), { ...fast, jitter: "none", maxRetries: 1 })
      assert.deepStrictEqual(r.starts, [0, 60_000])
    }))

  it.effect("a hint shorter than the backoff leaves the backoff", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "50 millis"), { ...fast, jitter: "none", maxRetries: 2 })
      assert.deepStrictEqual(r.starts, [0, 100, 300])
      assert.deepStrictEqual(r.steps.map((s) => s.reason), ["backoff", "backoff"])
    }))

  it.effect("honourRetryAfter: false ignores the hint", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "3 seconds"), {
        ...fast,
        jitter: "none",
        maxRetries: 1,
        honourRetryAfter: false
      })
      assert.deepStrictEqual(r.starts, [0, 100])
    }))
})

describe("deadline", () => {
  it.effect("gives up at once, without sleeping, when the Retry-After would pass it", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => rateLimited(n, "10 seconds"), { ...fast, deadline: "5 seconds" })
      assert.deepStrictEqual(r.starts, [0])
      assert.strictEqual(r.endedAt, 0)
      assert.strictEqual(r.error.attempt, 1)
      assert.deepStrictEqual(r.giveUps.map((g) => g.reason), ["deadline"])
    }))

  it.effect("gives up at the end of the failing attempt when the backoff would pass it", () =>
    Effect.gen(function*() {
      // each attempt takes 1 s; delays 1 s, 2 s, 4 s; deadline 7 s:
      // attempts 0–1000, 2000–3000, 5000–6000; the next would start at 10000 > 7000
      const r = yield* scenario(
        overloaded,
        { base: "1 second", jitter: "none", maxRetries: 10, deadline: "7 seconds" },
        () => "1 second"
      )
      assert.deepStrictEqual(r.starts, [0, 2000, 5000])
      assert.strictEqual(r.endedAt, 6000)
      assert.strictEqual(r.error.attempt, 3)
      assert.deepStrictEqual(r.giveUps.map((g) => [g.reason, Duration.toMillis(g.elapsed)]), [["deadline", 6000]])
    }))

  it.effect("a retry that would start exactly at the deadline is not made", () =>
    Effect.gen(function*() {
      const at = yield* scenario(overloaded, { base: "1 second", jitter: "none", deadline: "1 second" })
      assert.deepStrictEqual(at.starts, [0])
      const after = yield* scenario(overloaded, { base: "1 second", jitter: "none", deadline: "1001 millis" })
      assert.deepStrictEqual(after.starts, [0, 1000])
      assert.strictEqual(after.endedAt, 1000)
    }))

  it.effect("Retry.retry measures it from the start of the first attempt; the bare schedule from the first failure", () =>
    Effect.gen(function*() {
      const options = { base: "500 millis", jitter: "none", maxRetries: 10, deadline: "1400 millis" } as const
      const viaRetry = yield* scenario(overloaded, options, () => "1 second")
      assert.deepStrictEqual(viaRetry.starts, [0]) // 1000 + 500 >= 0 + 1400
      assert.strictEqual(viaRetry.endedAt, 1000)

      const { attempt, starts } = yield* failing(overloaded, () => "1 second")
      const bare = yield* runTimed(attempt.pipe(Effect.retry(Retry.schedule(options))))
      assert.deepStrictEqual((yield* Ref.get(starts)).map((t) => t - bare.t0), [0, 1500]) // origin 1000: deadline at 2400
      assert.strictEqual(bare.endedAt, 2500)
    }))

  it.effect("deadlineAt is absolute Clock time; the earlier of deadline and deadlineAt applies", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const absolute = yield* scenario(overloaded, { base: "400 millis", jitter: "none", deadlineAt: 11_000 })
      assert.deepStrictEqual(absolute.starts, [0, 400]) // at 10_400, 10_400 + 800 >= 11_000
      assert.strictEqual(absolute.endedAt, 400)
      // the relative deadline (500 ms) is earlier than deadlineAt: one retry at +400, then +400+800 >= +500
      const relativeFirst = yield* scenario(overloaded, {
        base: "400 millis",
        jitter: "none",
        deadline: "500 millis",
        deadlineAt: Number.MAX_SAFE_INTEGER
      })
      assert.deepStrictEqual(relativeFirst.starts, [0, 400])
      // deadlineAt is earlier than the relative deadline
      const now = yield* Clock.currentTimeMillis
      const absoluteFirst = yield* scenario(overloaded, {
        base: "400 millis",
        jitter: "none",
        deadline: "1 hour",
        deadlineAt: now + 300
      })
      assert.deepStrictEqual(absoluteFirst.starts, [0])
    }))
})

describe("classification and limits", () => {
  it.effect("a non-retryable error is attempted exactly once", () =>
    Effect.gen(function*() {
      const r = yield* scenario(permanent, { ...fast, maxRetries: 10 })
      assert.deepStrictEqual(r.starts, [0])
      assert.strictEqual(r.endedAt, 0)
      assert.deepStrictEqual(r.giveUps.map((g) => [g.reason, g.classification.kind]), [["not-retryable", "Permanent"]])
    }))

  it.effect("an unclassified error is not retried by default; a custom classify can retry it", () =>
    Effect.gen(function*() {
      const plain = yield* scenario((n) => `boom ${n}`, { ...fast, maxRetries: 2 })
      assert.deepStrictEqual(plain.starts, [0])
      assert.strictEqual(plain.error, "boom 1")
      const custom = yield* scenario((n) => `boom ${n}`, {
        ...fast,
        jitter: "none",
        maxRetries: 2,
        classify: () => Classification.make("Transient")
      })
      assert.deepStrictEqual(custom.starts, [0, 100, 300])
      assert.strictEqual(custom.error, "boom 3")
    }))

  it.effect("stops as soon as an error turns non-retryable, re-raising that error", () =>
    Effect.gen(function*() {
      const r = yield* scenario((n) => (n < 3 ? overloaded(n) : permanent(n)), { ...fast, maxRetries: 10 })
      assert.strictEqual(r.starts.length, 3)
      assert.strictEqual(r.error.kind, "Permanent")
      assert.strictEqual(r.error.attempt, 3)
    }))

  it.effect("maxRetries n gives exactly n + 1 attempts; the default is 3", () =>
    Effect.gen(function*() {
      for (const n of [0, 1, 3, 7]) {
        const r = yield* scenario(overloaded, { ...fast, maxRetries: n })
        assert.strictEqual(r.starts.length, n + 1, `maxRetries ${n}`)
        assert.deepStrictEqual(r.giveUps.map((g) => [g.reason, g.attempt]), [["max-retries", n + 1]])
      }
      const byDefault = yield* scenario(overloaded, fast)
      assert.strictEqual(byDefault.starts.length, 4)
    }))

  it.effect("maxElapsed: no retry starts once it has passed", () =>
    Effect.gen(function*() {
      const r = yield* scenario(overloaded, {
        base: "1 second",
        jitter: "none",
        maxRetries: 10,
        maxElapsed: "2500 millis"
      })
      // failures at 0 and 1000 are retried; at 3000 elapsed >= 2500
      assert.deepStrictEqual(r.starts, [0, 1000, 3000])
      assert.strictEqual(r.endedAt, 3000)
      assert.deepStrictEqual(r.giveUps.map((g) => g.reason), ["max-elapsed"])
    }))

  it.effect("success ends the retries", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const attempt = Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.flatMap((n) => (n < 3 ? Effect.fail(overloaded(n)) : Effect.succeed(n)))
      )
      const { result } = yield* runTimed(attempt.pipe(Retry.retry({ ...fast, maxRetries: 5 })))
      assert.deepStrictEqual(result, Either.right(3))
    }))
})

describe("composition", () => {
  it.effect("Schedule.intersect(Schedule.recurs(1)) limits further", () =>
    Effect.gen(function*() {
      const { attempt, starts } = yield* failing(overloaded)
      const policy = Retry.schedule<TestError>({ ...fast, jitter: "none", maxRetries: 5 }).pipe(
        Schedule.intersect(Schedule.recurs(1))
      )
      const { endedAt, result } = yield* runTimed(attempt.pipe(Effect.retry(policy)))
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 100])
      assert.strictEqual(endedAt, 100)
      assert.strictEqual(leftOrThrow(result).attempt, 2)
    }))

  it.effect("Schedule.tapOutput sees every step and the give-up; whileInput filters further", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const { attempt } = yield* failing((n) => (n === 3 ? rateLimited(n, "1 second") : overloaded(n)))
      const policy = Retry.schedule<TestError>({ ...fast, jitter: "none", maxRetries: 5 }).pipe(
        Schedule.tapOutput((d) =>
          Ref.update(seen, (s) => [...s, Retry.isStep(d) ? `retry ${d.attempt}` : `give up ${d.attempt}`])
        ),
        Schedule.whileInput((e: TestError) => e.kind !== "RateLimited")
      )
      yield* runTimed(attempt.pipe(Effect.retry(policy)))
      assert.deepStrictEqual(yield* Ref.get(seen), ["retry 1", "retry 2", "retry 3"])
    }))

  it.effect("Effect.retryOrElse receives the GiveUp decision", () =>
    Effect.gen(function*() {
      const { attempt } = yield* failing(permanent)
      const { result } = yield* runTimed(
        attempt.pipe(
          Effect.retryOrElse(Retry.schedule<TestError>(fast), (e, decision) =>
            Effect.succeed(Retry.isGiveUp(decision) ? `${decision.reason} after ${e.attempt}` : "?"))
        )
      )
      assert.deepStrictEqual(result, Either.right("not-retryable after 1"))
    }))

  it.effect("Schedule.run evaluates the schedule without a fiber", () =>
    Effect.gen(function*() {
      const out = yield* Schedule.run(
        Retry.schedule<TestError>({ ...fast, jitter: "none", maxRetries: 10 }),
        0,
        [overloaded(1), rateLimited(2, "2 seconds"), overloaded(3), permanent(4)]
      )
      assert.deepStrictEqual(
        Chunk.toArray(out).map((d) => (Retry.isStep(d) ? [d.reason, Duration.toMillis(d.delay)] : [d.reason])),
        [["backoff", 100], ["retry-after", 2000], ["backoff", 400], ["not-retryable"]]
      )
    }))

  it.effect("data-first and data-last forms keep the error type", () =>
    Effect.gen(function*() {
      const { attempt } = yield* failing(overloaded)
      const errors: Array<TestError> = []
      const lastForm: Effect.Effect<never, TestError> = attempt.pipe(
        Retry.retry({ maxRetries: 1, onRetry: (step) => Effect.sync(() => errors.push(step.error)) })
      )
      const firstForm: Effect.Effect<never, TestError> = Retry.retry(attempt, { maxRetries: 0 })
      const a = yield* runTimed(lastForm)
      const b = yield* runTimed(firstForm)
      assert.strictEqual(leftOrThrow(a.result).attempt, 2)
      assert.strictEqual(leftOrThrow(b.result).attempt, 3)
      assert.deepStrictEqual(errors.map((e) => e.attempt), [1])
    }))
})

describe("properties", () => {
  const kind = FastCheck.constantFrom<Classification.Kind>("Overloaded", "RateLimited", "Transient")
  const hint = FastCheck.option(FastCheck.integer({ min: 0, max: 200_000 }), { nil: undefined })
  const failure = FastCheck.record({ kind, hint })
  const toError = (f: { kind: Classification.Kind; hint: number | undefined }, attempt: number) =>
    new TestError({ kind: f.kind, attempt, retryAfter: Option.map(Option.fromNullable(f.hint), Duration.millis) })
  const backoffArbs = {
    baseMs: FastCheck.integer({ min: 0, max: 5_000 }),
    capMs: FastCheck.integer({ min: 0, max: 30_000 }),
    factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
    jitter: FastCheck.constantFrom<Backoff.Jitter>("none", "full", "equal", "decorrelated"),
    draws: FastCheck.array(FastCheck.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 10 })
  }
  const eps = 1e-6 // Duration keeps whole nanoseconds

  it.effect.prop(
    "a delay is ≤ cap unless raised by an honoured Retry-After, and never below the honoured (capped) hint",
    {
      ...backoffArbs,
      failures: FastCheck.array(failure, { minLength: 1, maxLength: 15 }),
      maxRetryAfterMs: FastCheck.integer({ min: 0, max: 120_000 }),
      honour: FastCheck.boolean()
    },
    ({ baseMs, capMs, draws, factor, failures, honour, jitter, maxRetryAfterMs }) =>
      Effect.gen(function*() {
        const errors = failures.map(toError)
        const out = yield* Schedule.run(
          Retry.schedule<TestError>({
            base: baseMs,
            cap: capMs,
            factor,
            jitter,
            maxRetries: Infinity,
            honourRetryAfter: honour,
            maxRetryAfter: maxRetryAfterMs
          }),
          0,
          errors
        ).pipe(Effect.withRandom(Random.fixed([draws[0] ?? 0, ...draws.slice(1)])))
        const steps = Chunk.toArray(out).filter(Retry.isStep)
        assert.strictEqual(steps.length, errors.length)
        for (const step of steps) {
          const delay = Duration.toMillis(step.delay)
          const f = failures[step.attempt - 1]!
          const honoured = honour && f.hint !== undefined ? Math.min(f.hint, maxRetryAfterMs) : undefined
          if (honoured !== undefined) assert.isTrue(delay >= honoured, `${delay} < hint ${honoured}`)
          if (step.reason === "backoff") {
            assert.isTrue(delay <= capMs + eps, `${delay} > cap ${capMs}`)
          } else {
            assert.strictEqual(delay, honoured)
            assert.isTrue(delay <= Math.max(capMs, maxRetryAfterMs))
          }
        }
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect.prop(
    "under TestClock, no retry is scheduled to start at or past the deadline, and giving up never sleeps",
    {
      ...backoffArbs,
      failures: FastCheck.array(failure, { minLength: 1, maxLength: 12 }),
      durations: FastCheck.array(FastCheck.integer({ min: 0, max: 5_000 }), { minLength: 12, maxLength: 12 }),
      deadlineMs: FastCheck.integer({ min: 1, max: 60_000 }),
      maxRetries: FastCheck.integer({ min: 0, max: 10 })
    },
    ({ baseMs, capMs, deadlineMs, draws, durations, factor, failures, jitter, maxRetries }) =>
      Effect.gen(function*() {
        const errorAt = (n: number) => toError(failures[(n - 1) % failures.length]!, n)
        const duration = (n: number) => durations[(n - 1) % durations.length]!
        const stepsAt = yield* Ref.make<ReadonlyArray<readonly [number, Retry.Step<TestError>]>>([])
        const { attempt, starts } = yield* failing(errorAt, duration)
        const { endedAt, result } = yield* runTimed(
          attempt.pipe(
            Retry.retry({
              base: baseMs,
              cap: capMs,
              factor,
              jitter,
              maxRetries,
              deadline: deadlineMs,
              onRetry: (step) =>
                Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(stepsAt, (s) => [...s, [now, step] as const]))
            }),
            Effect.withRandom(Random.fixed([draws[0] ?? 0, ...draws.slice(1)]))
          )
        )
        const attemptStarts = yield* Ref.get(starts)
        const n = attemptStarts.length
        assert.isTrue(n <= maxRetries + 1)
        for (const [now, step] of yield* Ref.get(stepsAt)) {
          assert.isTrue(now + Duration.toMillis(step.delay) < deadlineMs, "a delay reaches the deadline")
        }
        for (const start of attemptStarts.slice(1)) assert.isTrue(start < deadlineMs)
        // the schedule gave up the moment the last attempt failed: no sleep afterwards
        assert.strictEqual(endedAt, attemptStarts[n - 1]! + duration(n))
        assert.strictEqual(leftOrThrow(result).attempt, n)
      }),
    { fastCheck: { numRuns: 100 } }
  )
})
