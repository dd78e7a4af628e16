import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Duration,
  Effect,
  Either,
  Equal,
  Fiber,
  Option,
  Ref,
  Stream,
  TestClock
} from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Classification from "../src/Classification.js"
import { overloaded, permanent, rateLimited, TestError } from "./utils.js"

const transient = (attempt: number) => new TestError({ kind: "Transient", attempt, retryAfter: Option.none() })

/** A breaker and a counter of the calls it actually ran. */
const setup = (config: CircuitBreaker.Config, key?: string) =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make(config, key)
    const ran = yield* Ref.make(0)
    const call = <A, E>(self: Effect.Effect<A, E>) =>
      breaker.run(Effect.zipRight(Ref.update(ran, (n) => n + 1), self)).pipe(Effect.either)
    const fail = (n: number, error: (i: number) => TestError = overloaded) =>
      Effect.forEach(Array.from({ length: n }, (_, i) => i + 1), (i) => call(Effect.fail(error(i))))
    const succeed = (n = 1) => Effect.repeatN(call(Effect.succeed("ok")), n - 1)
    return { breaker, ran: Ref.get(ran), call, fail, succeed }
  })

const tag = (breaker: CircuitBreaker.CircuitBreaker) => Effect.map(breaker.state, (s) => s._tag)

const refusal = <A, E>(either: Either.Either<A, E>): CircuitBreaker.CircuitOpen => {
  if (Either.isLeft(either) && CircuitBreaker.isCircuitOpen(either.left)) return either.left
  throw new Error(`expected CircuitOpen, got ${String(either)}`)
}

const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("CircuitBreaker.config", () => {
  it("fills the documented defaults and compares by value", () => {
    const c = CircuitBreaker.config()
    assert.deepStrictEqual(c.trips.map((t) => ({ ...t })), [{ _tag: "Consecutive", failures: 5 }])
    assert.strictEqual(millis(c.openDuration), 5000)
    assert.strictEqual(c.openFactor, 2)
    assert.strictEqual(millis(c.maxOpenDuration), 60_000)
    assert.strictEqual(c.halfOpenProbes, 1)
    assert.deepStrictEqual([...c.counts], ["Overloaded", "Transient"])
    const rate = CircuitBreaker.failureRate()
    assert.deepStrictEqual([rate.threshold, millis(rate.window), rate.minimumCalls], [0.5, 30_000, 20])
    assert.isTrue(Equal.equals(c, CircuitBreaker.config({ trips: CircuitBreaker.consecutive(5) })))
    assert.isTrue(Equal.equals(c, CircuitBreaker.config({ trips: [CircuitBreaker.consecutive()], openDuration: 5000 })))
    assert.isTrue(
      Equal.equals(
        CircuitBreaker.config({ trips: [CircuitBreaker.consecutive(3), CircuitBreaker.failureRate()] }),
        CircuitBreaker.config({ trips: [CircuitBreaker.consecutive(3), CircuitBreaker.failureRate({ window: "30 seconds" })] })
      )
    )
    assert.isFalse(Equal.equals(c, CircuitBreaker.config({ counts: ["Overloaded"] })))
    assert.isFalse(Equal.equals(c, CircuitBreaker.config({ trips: CircuitBreaker.consecutive(4) })))
  })
})

describe("CircuitBreaker: consecutive trip", () => {
  it.effect("closed → open after 5 consecutive failures, open → half-open at `until`, probe success → closed", () =>
    Effect.gen(function*() {
      const { breaker, call, fail, ran, succeed } = yield* setup(CircuitBreaker.config(), "sonnet")
      yield* TestClock.adjust("1 second")
      yield* fail(4)
      yield* succeed() // resets the count
      yield* fail(4)
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* TestClock.adjust("250 millis")
      yield* fail(1)
      assert.deepStrictEqual(
        yield* breaker.state,
        CircuitBreaker.State.Open({ openedAt: 1250, until: 6250, openings: 1 })
      )
      assert.strictEqual(yield* ran, 10)

      // refused without running, with the time until a probe
      yield* TestClock.adjust("1 second")
      const r1 = refusal(yield* call(Effect.succeed("ok")))
      assert.deepStrictEqual([r1.key, r1.state, millis(r1.retryAfter)], ["sonnet", "Open", 4000])
      yield* TestClock.adjust("3999 millis")
      assert.strictEqual(millis(refusal(yield* call(Effect.succeed("ok"))).retryAfter), 1)
      assert.strictEqual(yield* ran, 10)

      // at `until` the next call is a probe; while it runs, other calls are refused
      yield* TestClock.adjust("1 millis")
      const probe = yield* Effect.fork(call(Effect.as(Effect.sleep("2 seconds"), "probed")))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(
        yield* breaker.state,
        CircuitBreaker.State.HalfOpen({ openings: 1, probes: 1, succeeded: 0 })
      )
      const r2 = refusal(yield* call(Effect.succeed("ok")))
      assert.deepStrictEqual([r2.state, millis(r2.retryAfter)], ["HalfOpen", 5000])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(probe), Either.right("probed"))
      assert.strictEqual(yield* tag(breaker), "Closed")
      assert.strictEqual(yield* ran, 11)
      assert.deepStrictEqual(yield* call(Effect.succeed(1)), Either.right(1))
    }))

  it.effect("a failed probe reopens for twice as long, capped at maxOpenDuration; closing resets it", () =>
    Effect.gen(function*() {
      const { breaker, fail, succeed } = yield* setup(
        CircuitBreaker.config({ trips: CircuitBreaker.consecutive(2), maxOpenDuration: "30 seconds" })
      )
      yield* fail(2)
      const opened: Array<readonly [number, number]> = []
      for (let i = 0; i < 5; i++) {
        const s = yield* breaker.state
        assert.strictEqual(s._tag, "Open")
        if (s._tag !== "Open") return
        assert.strictEqual(s.openings, i + 1)
        opened.push([s.openedAt, s.until - s.openedAt])
        yield* TestClock.adjust(s.until - (yield* Clock.currentTimeMillis))
        yield* fail(1) // the probe fails
      }
      assert.deepStrictEqual(opened, [[0, 5000], [5000, 10_000], [15_000, 20_000], [35_000, 30_000], [65_000, 30_000]])
      yield* TestClock.adjust("30 seconds")
      yield* succeed()
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* fail(2)
      const s = yield* breaker.state
      assert.isTrue(s._tag === "Open" && s.openings === 1 && s.until - s.openedAt === 5000)
    }))

  it.effect("only counted kinds trip it; invalid requests and rate limits count neither way", () =>
    Effect.gen(function*() {
      const { breaker, fail, ran } = yield* setup(CircuitBreaker.config())
      yield* fail(20, permanent)
      yield* fail(20, (i) => rateLimited(i, "1 second"))
      yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => Effect.either(breaker.run(Effect.fail("not classifiable"))))
      assert.strictEqual(yield* tag(breaker), "Closed")
      // they do not reset the count either: 2 overloaded + 2 transient + ignored ones + 1 overloaded
      yield* fail(2)
      yield* fail(2, transient)
      yield* fail(3, permanent)
      yield* fail(3, (i) => rateLimited(i, "1 second"))
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* fail(1)
      assert.strictEqual(yield* tag(breaker), "Open")
      assert.strictEqual(yield* ran, 51)
    }))

  it.effect("counts decides which kinds count", () =>
    Effect.gen(function*() {
      const { breaker, fail } = yield* setup(
        CircuitBreaker.config({ trips: CircuitBreaker.consecutive(3), counts: ["Overloaded"] })
      )
      yield* fail(10, transient)
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* fail(3)
      assert.strictEqual(yield* tag(breaker), "Open")
      // a defect is classified like a failure
      const d = yield* setup(CircuitBreaker.config({ trips: CircuitBreaker.consecutive(2) }))
      yield* Effect.exit(d.breaker.run(Effect.die(overloaded(1))))
      yield* Effect.exit(d.breaker.run(Effect.die(overloaded(2))))
      assert.strictEqual(yield* tag(d.breaker), "Open")
    }))

  it.effect("a call that started before a transition records nothing when it ends after it", () =>
    Effect.gen(function*() {
      const { breaker, call, fail } = yield* setup(CircuitBreaker.config())
      const slow = yield* Effect.fork(call(Effect.zipRight(Effect.sleep("10 seconds"), Effect.fail(overloaded(0)))))
      yield* TestClock.adjust(0)
      yield* fail(5)
      yield* TestClock.adjust("5 seconds")
      const probe = yield* Effect.fork(call(Effect.as(Effect.sleep("20 seconds"), "ok")))
      // the slow call fails at t = 10 s while the probe runs: it must not reopen the breaker
      yield* TestClock.adjust("6 seconds")
      assert.isTrue(Either.isLeft(yield* Fiber.join(slow)))
      assert.strictEqual(yield* tag(breaker), "HalfOpen")
      yield* TestClock.adjust("20 seconds")
      yield* Fiber.join(probe)
      assert.strictEqual(yield* tag(breaker), "Closed")
    }))
})

describe("CircuitBreaker: failure-rate trip", () => {
  const config = CircuitBreaker.config({ trips: CircuitBreaker.failureRate() })

  it.effect("trips at the threshold once minimumCalls calls ended in the window", () =>
    Effect.gen(function*() {
      const { breaker, fail, succeed } = yield* setup(config)
      // 19 calls, 12 failed: above the rate but below minimumCalls
      yield* fail(6)
      yield* succeed(7)
      yield* fail(6, transient)
      yield* fail(5, permanent) // not calls for the rate
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* succeed() // 20 calls, 12 failed: a success never trips
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* fail(1) // 21 calls, 13 failed
      assert.strictEqual(yield* tag(breaker), "Open")
    }))

  it.effect("exactly the threshold trips; below it does not", () =>
    Effect.gen(function*() {
      const below = yield* setup(config)
      yield* below.succeed(11)
      yield* below.fail(9)
      assert.strictEqual(yield* tag(below.breaker), "Closed")
      const at = yield* setup(config)
      yield* at.succeed(10)
      yield* at.fail(10)
      assert.strictEqual(yield* tag(at.breaker), "Open")
    }))

  it.effect("calls leave the window as it slides", () =>
    Effect.gen(function*() {
      const { breaker, fail, succeed } = yield* setup(config)
      yield* fail(15)
      yield* TestClock.adjust("29999 millis")
      // still in the window: 15 + 4 failures of 19 calls, then the 20th call trips it
      yield* fail(4)
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* TestClock.adjust("1 millis")
      // t = 30 s: the first 15 are gone; 4 + 15 = 19 calls
      yield* fail(15)
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* succeed() // 20 calls, 19 failed, but a success never trips
      yield* fail(1)
      assert.strictEqual(yield* tag(breaker), "Open")
    }))

  it.effect("with both trips, either one opens the breaker", () =>
    Effect.gen(function*() {
      const both = CircuitBreaker.config({
        trips: [CircuitBreaker.consecutive(5), CircuitBreaker.failureRate({ minimumCalls: 10, threshold: 0.3 })]
      })
      const a = yield* setup(both)
      yield* a.fail(5)
      assert.strictEqual(yield* tag(a.breaker), "Open")
      const b = yield* setup(both)
      for (let i = 0; i < 3; i++) {
        yield* b.succeed(2)
        yield* b.fail(1)
      }
      assert.strictEqual(yield* tag(b.breaker), "Closed") // 9 calls
      yield* b.fail(1) // 10 calls, 4 failed
      assert.strictEqual(yield* tag(b.breaker), "Open")
    }))
})

describe("CircuitBreaker: half-open probes", () => {
  const openNow = (config: CircuitBreaker.Config) =>
    Effect.gen(function*() {
      const s = yield* setup(config)
      yield* s.fail(5)
      yield* TestClock.adjust(config.openDuration)
      return s
    })

  it.effect("an interrupted probe frees its slot and records nothing", () =>
    Effect.gen(function*() {
      const { breaker, call } = yield* openNow(CircuitBreaker.config())
      const probe = yield* Effect.fork(call(Effect.never))
      yield* TestClock.adjust(0)
      assert.strictEqual(refusal(yield* call(Effect.succeed(1))).state, "HalfOpen")
      yield* Fiber.interrupt(probe)
      assert.deepStrictEqual(
        yield* breaker.state,
        CircuitBreaker.State.HalfOpen({ openings: 1, probes: 0, succeeded: 0 })
      )
      assert.deepStrictEqual(yield* call(Effect.succeed(1)), Either.right(1))
      assert.strictEqual(yield* tag(breaker), "Closed")
    }))

  it.effect("a probe that fails with an uncounted error frees its slot", () =>
    Effect.gen(function*() {
      const { breaker, call, fail } = yield* openNow(CircuitBreaker.config())
      yield* fail(1, permanent)
      assert.deepStrictEqual(
        yield* breaker.state,
        CircuitBreaker.State.HalfOpen({ openings: 1, probes: 0, succeeded: 0 })
      )
      assert.deepStrictEqual(yield* call(Effect.succeed(1)), Either.right(1))
      assert.strictEqual(yield* tag(breaker), "Closed")
    }))

  it.effect("halfOpenProbes calls go through; all must succeed to close, one failure reopens", () =>
    Effect.gen(function*() {
      const config = CircuitBreaker.config({ halfOpenProbes: 3 })
      const ok = yield* openNow(config)
      const probes = yield* Effect.forEach(
        [1, 2, 3],
        (i) => Effect.fork(ok.call(Effect.as(Effect.sleep(Duration.seconds(i)), i))),
        { concurrency: "unbounded" }
      )
      yield* TestClock.adjust(0)
      assert.strictEqual(refusal(yield* ok.call(Effect.succeed(0))).state, "HalfOpen")
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(
        yield* ok.breaker.state,
        CircuitBreaker.State.HalfOpen({ openings: 1, probes: 1, succeeded: 2 })
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll(probes)
      assert.strictEqual(yield* tag(ok.breaker), "Closed")

      const bad = yield* openNow(config)
      yield* bad.succeed(2)
      yield* bad.fail(1, transient)
      const s = yield* bad.breaker.state
      assert.isTrue(s._tag === "Open" && s.openings === 2 && s.until - s.openedAt === 10_000)
    }))
})

describe("CircuitBreaker.changes", () => {
  it.effect("sees every transition, in order, with its time", () =>
    Effect.gen(function*() {
      const { breaker, fail, succeed } = yield* setup(CircuitBreaker.config(), "haiku")
      const seen = yield* Effect.fork(Stream.runCollect(Stream.take(breaker.changes, 5)))
      yield* TestClock.adjust(0)
      yield* TestClock.adjust("1 second")
      yield* fail(5)
      yield* TestClock.adjust("5 seconds")
      yield* fail(1)
      yield* TestClock.adjust("10 seconds")
      yield* succeed()
      const transitions = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      assert.deepStrictEqual(
        transitions.map((t) => [t.key, t.from._tag, t.to._tag, t.at]),
        [
          ["haiku", "Closed", "Open", 1000],
          ["haiku", "Open", "HalfOpen", 6000],
          ["haiku", "HalfOpen", "Open", 6000],
          ["haiku", "Open", "HalfOpen", 16_000],
          ["haiku", "HalfOpen", "Closed", 16_000]
        ]
      )
      assert.deepStrictEqual(transitions[2]!.to, CircuitBreaker.State.Open({ openedAt: 6000, until: 16_000, openings: 2 }))
    }))

  it.effect("a subscriber that does not read never slows calls", () =>
    Effect.gen(function*() {
      const { breaker, fail, succeed } = yield* setup(
        CircuitBreaker.config({ trips: CircuitBreaker.consecutive(1), openDuration: 0 })
      )
      // subscribed but never pulled
      const stuck = yield* Effect.fork(Stream.runForEach(breaker.changes, () => Effect.never))
      yield* TestClock.adjust(0)
      for (let i = 0; i < 300; i++) {
        yield* fail(1)
        yield* succeed()
      }
      assert.strictEqual(yield* tag(breaker), "Closed")
      yield* Fiber.interrupt(stuck)
    }))
})

describe("CircuitBreaker.makeKeyed", () => {
  it.effect("keeps one independent breaker per key", () =>
    Effect.gen(function*() {
      const keyed = yield* CircuitBreaker.makeKeyed(CircuitBreaker.config({ trips: CircuitBreaker.consecutive(2) }))
      const all = yield* Effect.fork(Stream.runCollect(Stream.take(keyed.changes, 2)))
      const a = yield* keyed.get("a")
      const onlyB = yield* Effect.fork(Stream.runCollect(Stream.take((yield* keyed.get("b")).changes, 1)))
      yield* TestClock.adjust(0)
      assert.strictEqual(yield* keyed.get("a"), a)
      const b = yield* keyed.get("b")
      yield* Effect.either(a.run(Effect.fail(overloaded(1))))
      yield* Effect.either(a.run(Effect.fail(overloaded(2))))
      assert.strictEqual(yield* tag(a), "Open")
      assert.strictEqual(yield* tag(b), "Closed")
      assert.deepStrictEqual(yield* Effect.either(b.run(Effect.succeed(1))), Either.right(1))
      assert.strictEqual(refusal(yield* Effect.either(a.run(Effect.succeed(1)))).key, "a")
      yield* TestClock.adjust("1 second")
      yield* Effect.either(b.run(Effect.fail(transient(1))))
      yield* Effect.either(b.run(Effect.fail(transient(2))))
      const states = yield* keyed.states
      assert.deepStrictEqual([...states.keys()], ["a", "b"])
      assert.deepStrictEqual(
        [...states.values()],
        [
          CircuitBreaker.State.Open({ openedAt: 0, until: 5000, openings: 1 }),
          CircuitBreaker.State.Open({ openedAt: 1000, until: 6000, openings: 1 })
        ]
      )
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(yield* Fiber.join(all)).map((t) => [t.key, t.to._tag, t.at]),
        [["a", "Open", 0], ["b", "Open", 1000]]
      )
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(yield* Fiber.join(onlyB)).map((t) => [t.key, t.at]),
        [["b", 1000]]
      )
    }))
})

describe("CircuitOpen", () => {
  it("is Overloaded and retryable after the time until a probe", () => {
    const error = new CircuitBreaker.CircuitOpen({ key: "opus", retryAfter: Duration.seconds(3), state: "Open" })
    const c = Classification.classify(error)
    assert.strictEqual(c.kind, "Overloaded")
    assert.isTrue(c.retryable)
    assert.isTrue(Option.isSome(c.retryAfter) && Duration.equals(c.retryAfter.value, Duration.seconds(3)))
    assert.include(error.message, "\"opus\" is open")
    assert.include(error.message, "3s")
    assert.strictEqual(error._tag, "CircuitOpen")
    const half = new CircuitBreaker.CircuitOpen({ key: "opus", retryAfter: Duration.seconds(5), state: "HalfOpen" })
    assert.include(half.message, "half-open")
  })
})
