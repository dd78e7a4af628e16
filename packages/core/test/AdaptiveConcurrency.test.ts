import { assert, describe, it } from "@effect/vitest"
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Equal,
  Exit,
  FastCheck,
  Fiber,
  Option,
  Ref,
  Scope,
  Stream,
  Supervisor,
  TestClock
} from "effect"
import * as AdaptiveConcurrency from "../src/AdaptiveConcurrency.js"
import * as Classification from "../src/Classification.js"
import * as internal from "../src/internal/adaptiveConcurrency.js"
import { leftOrThrow, TestError } from "./utils.js"

const failure = (kind: Classification.Kind) => new TestError({ kind, attempt: 1, retryAfter: Option.none() })

/** Yields until `condition` holds (forked fibers get to run meanwhile); dies after 10,000 tries. */
const waitUntil = (condition: Effect.Effect<boolean>, what = "condition"): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (yield* condition) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const stateOf = (limiter: AdaptiveConcurrency.AdaptiveConcurrency) =>
  Effect.all({ limit: limiter.limit, inFlight: limiter.inFlight, queued: limiter.queued })

const settled = (limiter: AdaptiveConcurrency.AdaptiveConcurrency, inFlight: number, queued: number) =>
  waitUntil(
    Effect.map(stateOf(limiter), (s) => s.inFlight === inFlight && s.queued === queued),
    `inFlight ${inFlight}, queued ${queued}`
  )

/**
 * A call through the limiter that the test finishes by hand: `finish` with `undefined` to succeed or
 * with an error to fail. Its id is appended to `log` when it starts. Waits until the call is running or
 * queued (or was refused) before returning.
 */
const controlled = (
  limiter: AdaptiveConcurrency.AdaptiveConcurrency,
  id: number,
  log: Ref.Ref<ReadonlyArray<number>>
) =>
  Effect.gen(function*() {
    const finish = yield* Deferred.make<void, TestError>()
    const before = yield* stateOf(limiter)
    const fiber = yield* limiter.run(
      Effect.zipRight(Ref.update(log, (l) => [...l, id]), Deferred.await(finish))
    ).pipe(Effect.fork)
    yield* waitUntil(
      Effect.map(
        Effect.zip(stateOf(limiter), fiber.poll),
        ([s, done]) => s.inFlight + s.queued > before.inFlight + before.queued || Option.isSome(done)
      ),
      `call ${id} to be admitted or queued`
    )
    return { id, finish, fiber }
  })

type Call = Effect.Effect.Success<ReturnType<typeof controlled>>

const succeed = (call: Call) => Deferred.succeed(call.finish, undefined)
const fail = (call: Call, kind: Classification.Kind) => Deferred.fail(call.finish, failure(kind))

/** Starts collecting `limiter.changes` and returns once the stream has delivered the current value. */
const collectChanges = (limiter: AdaptiveConcurrency.AdaptiveConcurrency) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<number>>([])
    const subscribed = yield* Deferred.make<void>()
    yield* limiter.changes.pipe(
      Stream.runForEach((n) => Effect.zipRight(Ref.update(seen, (s) => [...s, n]), Deferred.succeed(subscribed, undefined))),
      Effect.fork
    )
    yield* Deferred.await(subscribed)
    return seen
  })

/** `clock`, recording the length (ms) of every sleep asked of it; each sleep ends `earlyNanos` early. */
const recordingClock = (clock: Clock.Clock, sleeps: Array<number>, earlyNanos = 0n): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis(),
  unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanos: clock.currentTimeNanos,
  sleep: (duration) => {
    sleeps.push(Duration.toMillis(duration))
    return clock.sleep(Duration.nanos(Duration.unsafeToNanos(duration) - earlyNanos))
  }
})

const make = (options?: AdaptiveConcurrency.Options) => AdaptiveConcurrency.make(AdaptiveConcurrency.config(options))

describe("AdaptiveConcurrency.config", () => {
  it("fills the documented defaults; equal options give equal configs", () => {
    const c = AdaptiveConcurrency.config()
    assert.deepStrictEqual(
      [c.initial, c.min, c.max, c.increase, c.decrease, c.queue],
      [32, 1, 512, 1, 0.7, 1000]
    )
    assert.isTrue(Option.isNone(c.queueTimeout))
    assert.isTrue(Equal.equals(c, AdaptiveConcurrency.config({})))
    assert.isTrue(
      Equal.equals(AdaptiveConcurrency.config({ queueTimeout: "2 seconds" }), AdaptiveConcurrency.config({ queueTimeout: 2000 }))
    )
    assert.isFalse(Equal.equals(c, AdaptiveConcurrency.config({ queue: 10 })))
  })

  it("brings numbers out of range into it", () => {
    const c = AdaptiveConcurrency.config({ min: 0, max: -5, initial: 100, decrease: 2, increase: -1, queue: -3 })
    assert.deepStrictEqual([c.min, c.max, c.initial, c.decrease, c.increase, c.queue], [1, 1, 1, 1, 0, 0])
    const d = AdaptiveConcurrency.config({ max: 8 }) // the default initial (32) is brought down to max
    assert.deepStrictEqual([d.initial, d.max], [8, 8])
    assert.strictEqual(AdaptiveConcurrency.config({ min: 64 }).initial, 64)
  })

  it("LoadShed is Permanent and not retryable", () => {
    const shed = new AdaptiveConcurrency.LoadShed({ reason: "QueueFull", limit: 1, inFlight: 1, queued: 0 })
    const c = Classification.classify(shed)
    assert.strictEqual(c.kind, "Permanent")
    assert.isFalse(c.retryable)
    assert.isTrue(AdaptiveConcurrency.isLoadShed(shed))
    assert.isFalse(AdaptiveConcurrency.isLoadShed(failure("Overloaded")))
  })
})

describe("AdaptiveConcurrency admission", () => {
  it.effect("admits up to the limit at once; the others start in arrival order, whatever order permits return in", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 2, max: 2 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const calls: Array<Call> = []
      for (let id = 0; id < 6; id++) calls.push(yield* controlled(limiter, id, log))
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 2, inFlight: 2, queued: 4 })
      assert.deepStrictEqual(yield* Ref.get(log), [0, 1])
      // return permits out of order: 1, then 0, then 3, then 2
      for (const [done, started] of [[1, [0, 1, 2]], [0, [0, 1, 2, 3]], [3, [0, 1, 2, 3, 4]], [2, [0, 1, 2, 3, 4, 5]]] as const) {
        yield* fail(calls[done]!, "Permanent")
        yield* waitUntil(Effect.map(Ref.get(log), (l) => l.length === started.length))
        assert.deepStrictEqual(yield* Ref.get(log), started)
      }
      yield* Effect.forEach(calls.slice(4), succeed)
      yield* Effect.forEach(calls, (c) => Fiber.await(c.fiber))
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 2, inFlight: 0, queued: 0 })
    }))

  it.effect("a full queue sheds at once with QueueFull and the state at that moment", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1, queue: 2 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const calls = yield* Effect.forEach([0, 1, 2], (id) => controlled(limiter, id, log))
      const shed = yield* limiter.run(Effect.succeed("never runs")).pipe(Effect.either)
      assert.deepStrictEqual(
        leftOrThrow(shed),
        new AdaptiveConcurrency.LoadShed({ reason: "QueueFull", limit: 1, inFlight: 1, queued: 2 })
      )
      assert.deepStrictEqual(yield* Ref.get(log), [0])
      yield* Effect.forEach(calls, succeed)
      yield* Effect.forEach(calls, (c) => Fiber.join(c.fiber))
      assert.deepStrictEqual(yield* Ref.get(log), [0, 1, 2])
    }))

  it.effect("queue 0 sheds every call that finds no permit", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1, queue: 0 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const holder = yield* controlled(limiter, 0, log)
      const shed = leftOrThrow(yield* limiter.run(Effect.void).pipe(Effect.either))
      assert.strictEqual(shed._tag === "LoadShed" && shed.reason, "QueueFull")
      yield* succeed(holder)
      yield* Fiber.join(holder.fiber)
      assert.strictEqual(yield* limiter.run(Effect.succeed(7)), 7)
    }))

  it.effect("queueTimeout sheds each waiter exactly queueTimeout after it joined, and stops its timer", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1, queueTimeout: "5 seconds" })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const holder = yield* controlled(limiter, 0, log)
      const supervisor = yield* Supervisor.track
      const waiter = () =>
        limiter.run(Effect.void).pipe(
          Effect.either,
          Effect.zip(Clock.currentTimeMillis),
          Effect.fork,
          Effect.supervised(supervisor)
        )
      const a = yield* waiter() // joins at 0
      yield* settled(limiter, 1, 1)
      yield* TestClock.adjust("2 seconds")
      const b = yield* waiter() // joins at 2000
      yield* settled(limiter, 1, 2)
      yield* TestClock.adjust("2999 millis")
      assert.isTrue(Option.isNone(yield* a.poll))
      yield* TestClock.adjust("1 millis")
      const [resultA, atA] = yield* Fiber.join(a)
      assert.strictEqual(atA, 5000)
      assert.deepStrictEqual(
        leftOrThrow(resultA),
        new AdaptiveConcurrency.LoadShed({ reason: "QueueTimeout", limit: 1, inFlight: 1, queued: 2 })
      )
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* b.poll))
      yield* TestClock.adjust("1 millis")
      const [resultB, atB] = yield* Fiber.join(b)
      assert.strictEqual(atB, 7000)
      assert.strictEqual(leftOrThrow(resultB).reason, "QueueTimeout")
      yield* waitUntil(Effect.map(supervisor.value, (alive) => alive.length === 0), "the timer to stop")

      // a waiter admitted before its timeout runs normally, and the timer goes with the queue
      const c = yield* waiter()
      yield* settled(limiter, 1, 1)
      assert.strictEqual((yield* supervisor.value).length, 2) // the waiter and the timer
      yield* TestClock.adjust("4 seconds")
      yield* succeed(holder)
      const [resultC, atC] = yield* Fiber.join(c)
      assert.isTrue(Either.isRight(resultC))
      assert.strictEqual(atC, 11_000)
      yield* waitUntil(Effect.map(supervisor.value, (alive) => alive.length === 0), "the timer to stop")
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 1, inFlight: 0, queued: 0 })
    }))

  it.effect(
    "at fractional clock times the timer never wakes before the head's deadline and then spins on zero-length sleeps",
    () =>
      Effect.gen(function*() {
        // The timer runs on the waiters' Clock: the TestClock, with every sleep it asks for counted.
        const sleeps: Array<number> = []
        const counting = recordingClock(yield* Effect.clock, sleeps)
        const limiter = yield* make({ initial: 1, max: 1, queueTimeout: "100 millis" })
        const holder = yield* controlled(limiter, 0, yield* Ref.make<ReadonlyArray<number>>([]))
        const waiter = () =>
          limiter.run(Effect.void).pipe(
            Effect.either,
            Effect.zip(Clock.currentTimeMillis),
            Effect.withClock(counting),
            Effect.fork
          )
        const a = yield* waiter() // joins at 0: deadline 100
        yield* settled(limiter, 1, 1)
        yield* TestClock.setTime(0.3000001)
        const b = yield* waiter() // deadline 100.3000001: 0.30000010000000543 ms after a's
        yield* settled(limiter, 1, 2)
        // a is shed at 100; a sleep of the remaining 0.3000001 ms rounded to whole nanoseconds would wake
        // the timer at 100.3, and the next one (0.1 ns) would be zero: the loop would spin at 100.3.
        yield* TestClock.setTime(100.3)
        const [resultA, atA] = yield* Fiber.join(a)
        assert.strictEqual(leftOrThrow(resultA).reason, "QueueTimeout")
        assert.strictEqual(atA, 100)
        for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
        assert.isTrue(Option.isNone(yield* b.poll))
        assert.deepStrictEqual(sleeps, [100, 1]) // whole milliseconds, rounded up
        yield* TestClock.setTime(101)
        const [resultB, atB] = yield* Fiber.join(b)
        assert.strictEqual(leftOrThrow(resultB).reason, "QueueTimeout")
        assert.strictEqual(atB, 101) // after b's deadline, by less than a millisecond
        assert.deepStrictEqual(sleeps, [100, 1])
        yield* succeed(holder)
        yield* Fiber.join(holder.fiber)
        assert.deepStrictEqual(yield* stateOf(limiter), { limit: 1, inFlight: 0, queued: 0 })
      }).pipe(Effect.ensuring(TestClock.adjust("1 second"))), // past every deadline: a spinning timer stops
    5_000
  )

  it.effect("a Clock whose sleeps end a hair early (in nanoseconds) still sheds at the deadline, not a millisecond late", () =>
    Effect.gen(function*() {
      const sleeps: Array<number> = []
      const early = recordingClock(yield* Effect.clock, sleeps, 100n) // every sleep ends 100 ns early
      const limiter = yield* make({ initial: 1, max: 1, queueTimeout: "100 millis" })
      const holder = yield* controlled(limiter, 0, yield* Ref.make<ReadonlyArray<number>>([]))
      const a = yield* limiter.run(Effect.void).pipe(
        Effect.either,
        Effect.zip(Clock.currentTimeMillis),
        Effect.withClock(early),
        Effect.fork
      )
      yield* settled(limiter, 1, 1)
      yield* TestClock.adjust("100 millis")
      const [result, at] = yield* Fiber.join(a)
      assert.strictEqual(leftOrThrow(result).reason, "QueueTimeout")
      assert.strictEqual(at, 99.9999)
      assert.deepStrictEqual(sleeps, [100])
      yield* succeed(holder)
    }))

  it.effect("the timer started by an uninterruptible waiter still stops once the queue empties", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1, queueTimeout: "1 minute" })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const holder = yield* controlled(limiter, 0, log)
      const supervisor = yield* Supervisor.track
      const waiter = yield* limiter.run(Effect.succeed("ran")).pipe(
        Effect.uninterruptible,
        Effect.fork,
        Effect.supervised(supervisor)
      )
      yield* settled(limiter, 1, 1)
      assert.strictEqual((yield* supervisor.value).length, 2) // the waiter and the timer
      yield* succeed(holder)
      assert.strictEqual(yield* Fiber.join(waiter), "ran")
      yield* waitUntil(Effect.map(supervisor.value, (alive) => alive.length === 0), "the timer to stop")
    }))

  it.effect("after a cut, calls in flight finish normally and none starts until fewer than the limit run", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 4, max: 4 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const calls = yield* Effect.forEach([0, 1, 2, 3], (id) => controlled(limiter, id, log))
      yield* fail(calls[0]!, "Overloaded")
      yield* settled(limiter, 3, 0)
      assert.strictEqual(yield* limiter.limit, 2) // 4 × 0.7 = 2.8
      const late = yield* controlled(limiter, 4, log)
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 2, inFlight: 3, queued: 1 })
      yield* fail(calls[1]!, "Permanent")
      yield* settled(limiter, 2, 1)
      assert.deepStrictEqual(yield* Ref.get(log), [0, 1, 2, 3])
      yield* fail(calls[2]!, "Permanent")
      yield* settled(limiter, 2, 0)
      yield* waitUntil(Effect.map(Ref.get(log), (l) => l.length === 5))
      assert.deepStrictEqual(yield* Ref.get(log), [0, 1, 2, 3, 4])
      yield* Effect.forEach([calls[3]!, late], succeed)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(calls[3]!.fiber)))
      assert.isTrue(Exit.isFailure(yield* Fiber.await(calls[0]!.fiber)))
    }))

  it.effect("run is also data-last", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      assert.strictEqual(yield* Effect.succeed(1).pipe(AdaptiveConcurrency.run(limiter)), 1)
      assert.strictEqual(yield* AdaptiveConcurrency.run(Effect.succeed(2), limiter), 2)
    }))
})

describe("AdaptiveConcurrency limit", () => {
  it.effect("a burst of overload failures cuts once; a failure of a call admitted after the cut cuts again", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 10, max: 10 })
      const seen = yield* collectChanges(limiter)
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const burst = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (id) => controlled(limiter, id, log))
      yield* Effect.forEach(burst, (c) => fail(c, "Overloaded"))
      yield* settled(limiter, 0, 0)
      assert.strictEqual(yield* limiter.limit, 7)
      const after = yield* controlled(limiter, 10, log)
      yield* fail(after, "Overloaded")
      yield* settled(limiter, 0, 0)
      assert.strictEqual(yield* limiter.limit, 4) // 7 × 0.7 = 4.9
      yield* waitUntil(Effect.map(Ref.get(seen), (s) => s.length === 3))
      assert.deepStrictEqual(yield* Ref.get(seen), [10, 7, 4])
    }))

  for (
    const [outcome, expected] of [
      ["Overloaded", 7],
      ["RateLimited", 7],
      ["Transient", 7],
      ["Permanent", 10],
      ["defect", 10],
      ["interruption", 10]
    ] as const
  ) {
    it.effect(`one ${outcome} outcome leaves the limit at ${expected}`, () =>
      Effect.gen(function*() {
        const limiter = yield* make({ initial: 10, max: 10 })
        const call = outcome === "defect"
          ? Effect.die("boom")
          : outcome === "interruption"
          ? Effect.interrupt
          : Effect.fail(failure(outcome))
        const exit = yield* limiter.run(call).pipe(Effect.exit)
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* stateOf(limiter), { limit: expected, inFlight: 0, queued: 0 })
      }))
  }

  it.effect("grows by increase per limit's worth of successes, only while at least half the limit is in flight", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 4, max: 100 })
      const seen = yield* collectChanges(limiter)
      // not busy: one call at a time never grows the limit
      for (let i = 0; i < 100; i++) yield* limiter.run(Effect.void)
      assert.strictEqual(yield* limiter.limit, 4)
      // busy: 3 calls held, each success completes with 4 in flight
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const held = yield* Effect.forEach([0, 1, 2], (id) => controlled(limiter, id, log))
      for (let i = 0; i < 4; i++) yield* limiter.run(Effect.void)
      assert.strictEqual(yield* limiter.limit, 4) // 4 → 4.25 → 4.49 → 4.71 → 4.92
      yield* limiter.run(Effect.void)
      assert.strictEqual(yield* limiter.limit, 5) // 5.12
      // growth stops once the limit passes 2 × 4 in flight
      for (let i = 0; i < 500; i++) yield* limiter.run(Effect.void)
      assert.strictEqual(yield* limiter.limit, 8)
      yield* waitUntil(Effect.map(Ref.get(seen), (s) => s.length === 5))
      assert.deepStrictEqual(yield* Ref.get(seen), [4, 5, 6, 7, 8])
      yield* Effect.forEach(held, succeed)
    }))

  it.effect("never grows above max nor is cut below min", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 4, min: 3, max: 5 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const held = yield* Effect.forEach([0, 1, 2], (id) => controlled(limiter, id, log))
      for (let i = 0; i < 200; i++) yield* limiter.run(Effect.void)
      assert.strictEqual(yield* limiter.limit, 5)
      yield* Effect.forEach(held, succeed)
      for (let i = 0; i < 5; i++) yield* limiter.run(Effect.fail(failure("Overloaded"))).pipe(Effect.ignore)
      assert.strictEqual(yield* limiter.limit, 3)
    }))
})

describe("AdaptiveConcurrency interruption", () => {
  it.effect("an interrupted waiter leaves the queue holding nothing; the others keep their order", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const calls = yield* Effect.forEach([0, 1, 2, 3], (id) => controlled(limiter, id, log))
      yield* Fiber.interrupt(calls[2]!.fiber)
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 1, inFlight: 1, queued: 2 })
      yield* succeed(calls[0]!)
      yield* waitUntil(Effect.map(Ref.get(log), (l) => l.length === 2))
      yield* succeed(calls[1]!)
      yield* waitUntil(Effect.map(Ref.get(log), (l) => l.length === 3))
      assert.deepStrictEqual(yield* Ref.get(log), [0, 1, 3])
      yield* succeed(calls[3]!)
      yield* settled(limiter, 0, 0)
    }))

  it.effect("an interrupted running call returns its permit to the next waiter and does not move the limit", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 1, max: 1 })
      const log = yield* Ref.make<ReadonlyArray<number>>([])
      const [holder, next] = yield* Effect.forEach([0, 1], (id) => controlled(limiter, id, log))
      yield* Fiber.interrupt(holder!.fiber)
      yield* waitUntil(Effect.map(Ref.get(log), (l) => l.length === 2))
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 1, inFlight: 1, queued: 0 })
      yield* succeed(next!)
      yield* Fiber.join(next!.fiber)
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 1, inFlight: 0, queued: 0 })
    }))

  for (const [n, queueTimeout] of [[10_000, undefined], [2_000, "1 minute"]] as const) {
    it.effect(`${n} interrupted calls (running and waiting) leave nothing behind (queueTimeout ${queueTimeout ?? "none"})`, () =>
      Effect.gen(function*() {
        const limiter = yield* make({ initial: 100, max: 100, queue: 20_000, queueTimeout })
        const supervisor = yield* Supervisor.track
        const fibers = yield* Effect.forEach(
          Array.from({ length: n }),
          () => Effect.fork(limiter.run(Effect.never))
        ).pipe(Effect.supervised(supervisor))
        yield* settled(limiter, 100, n - 100)
        // interrupt in a scrambled order, so that returned permits are handed to waiters being interrupted
        const order = Array.from({ length: n }, (_, i) => fibers[(i * 7919) % n]!)
        yield* Fiber.interruptAll(order)
        assert.deepStrictEqual(yield* stateOf(limiter), { limit: 100, inFlight: 0, queued: 0 })
        yield* waitUntil(Effect.map(supervisor.value, (alive) => alive.length === 0), "every fiber to end")
        // still fully usable
        const all = yield* Effect.all(Array.from({ length: 100 }, () => limiter.run(Effect.succeed(1))), {
          concurrency: "unbounded"
        })
        assert.strictEqual(all.length, 100)
      }))
  }
})

describe("AdaptiveConcurrency.runScoped", () => {
  it.effect("keeps the permit until the scope closes and records the scope's exit", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ initial: 10, max: 10 })
      const scope = yield* Scope.make()
      assert.strictEqual(yield* limiter.runScoped(Effect.succeed("stream")).pipe(Scope.extend(scope)), "stream")
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 10, inFlight: 1, queued: 0 })
      yield* Scope.close(scope, Exit.fail(failure("Overloaded")))
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 7, inFlight: 0, queued: 0 })
      // a failure returns the permit at once
      const failed = yield* limiter.runScoped(Effect.fail(failure("Permanent"))).pipe(Effect.scoped, Effect.either)
      assert.isTrue(Either.isLeft(failed))
      assert.deepStrictEqual(yield* stateOf(limiter), { limit: 7, inFlight: 0, queued: 0 })
    }))
})

describe("AdaptiveConcurrency invariants (properties)", () => {
  const settingsArb = FastCheck.record({
    initial: FastCheck.integer({ min: 1, max: 8 }),
    min: FastCheck.integer({ min: 1, max: 3 }),
    span: FastCheck.integer({ min: 0, max: 8 }),
    increase: FastCheck.constantFrom(0.5, 1, 2),
    decrease: FastCheck.constantFrom(0, 0.5, 0.7, 0.9),
    queue: FastCheck.integer({ min: 0, max: 6 })
  })
  const toOptions = (s: typeof settingsArb extends FastCheck.Arbitrary<infer T> ? T : never) => ({
    initial: s.initial,
    min: s.min,
    max: s.initial + s.span,
    increase: s.increase,
    decrease: s.decrease,
    queue: s.queue
  })

  it.prop(
    "state machine: admission never exceeds the limit, waiters are admitted FIFO, each failure cuts once per generation",
    {
      settings: settingsArb,
      ops: FastCheck.array(
        FastCheck.record({
          op: FastCheck.constantFrom("arrive", "arrive", "complete", "cancel", "interruptAdmitted"),
          pick: FastCheck.nat(1000),
          outcome: FastCheck.constantFrom(internal.Outcome.Success, internal.Outcome.Overload, internal.Outcome.Neutral)
        }),
        { maxLength: 400 }
      )
    },
    ({ ops, settings }) => {
      const c = AdaptiveConcurrency.config(toOptions(settings))
      const changes: Array<number> = []
      const limiter = new internal.Limiter<string>(
        { ...c, queueTimeout: undefined },
        (reason) => reason,
        (permits) => changes.push(permits)
      )
      const running: Array<{ generation: number; waiter?: internal.Waiter }> = []
      const waiting: Array<internal.Waiter> = []
      let enqueuing: internal.Waiter | undefined
      const admit = (w: internal.Waiter) => {
        assert.isTrue(limiter.inFlight <= limiter.permits, `admitted with ${limiter.inFlight} > ${limiter.permits}`)
        if (w !== enqueuing) {
          assert.strictEqual(waiting[0], w, "not FIFO")
          waiting.shift()
        }
        running.push({ generation: w.generation, waiter: w })
      }
      const check = () => {
        assert.strictEqual(limiter.inFlight, running.length)
        assert.strictEqual(limiter.queued, waiting.length)
        assert.strictEqual(limiter.permits, Math.floor(limiter.estimate))
        assert.isTrue(limiter.estimate >= c.min && limiter.estimate <= c.max)
        if (waiting.length > 0) assert.isTrue(limiter.inFlight >= limiter.permits, "a waiter is left behind a free permit")
        if (changes.length > 0) assert.strictEqual(changes[changes.length - 1], limiter.permits)
      }
      const complete = (index: number, outcome: internal.Outcome) => {
        const [call] = running.splice(index, 1)
        const before = { estimate: limiter.estimate, generation: limiter.generation, inFlight: limiter.inFlight }
        limiter.complete(call!.generation, outcome)
        if (outcome === internal.Outcome.Overload && call!.generation === before.generation) {
          assert.strictEqual(limiter.estimate, Math.max(c.min, before.estimate * c.decrease))
          assert.strictEqual(limiter.generation, before.generation + 1)
        } else if (outcome === internal.Outcome.Success && before.inFlight * 2 >= before.estimate) {
          assert.strictEqual(limiter.estimate, Math.min(c.max, before.estimate + c.increase / before.estimate))
        } else {
          assert.strictEqual(limiter.estimate, before.estimate)
          assert.strictEqual(limiter.generation, before.generation)
        }
      }
      for (const { op, outcome, pick } of ops) {
        switch (op) {
          case "arrive": {
            if (limiter.tryAcquire()) {
              assert.isTrue(limiter.inFlight <= limiter.permits)
              running.push({ generation: limiter.generation })
              break
            }
            const w = new internal.Waiter()
            let shed = false
            enqueuing = w
            limiter.enqueue(w, (effect) => {
              if (Exit.isExit(effect) && Exit.isSuccess(effect)) admit(w)
              else shed = true
            }, 0, undefined)
            enqueuing = undefined
            if (shed) assert.strictEqual(limiter.queued, c.queue)
            else if (!running.some((r) => r.waiter === w)) waiting.push(w)
            break
          }
          case "complete": {
            if (running.length > 0) complete(pick % running.length, outcome)
            break
          }
          case "cancel": {
            if (waiting.length > 0) {
              const [w] = waiting.splice(pick % waiting.length, 1)
              limiter.abandon(w!)
            }
            break
          }
          case "interruptAdmitted": {
            // a waiter interrupted just after it was handed a permit gives the permit back
            const index = running.findIndex((r) => r.waiter !== undefined)
            if (index >= 0) {
              const [call] = running.splice(index, 1)
              const estimate = limiter.estimate
              limiter.abandon(call!.waiter!)
              assert.strictEqual(limiter.estimate, estimate)
            }
            break
          }
        }
        check()
      }
      while (running.length > 0) {
        complete(0, internal.Outcome.Neutral)
        check()
      }
      assert.strictEqual(waiting.length, 0)
      assert.strictEqual(limiter.queued, 0)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.effect.prop(
    "concurrent fibers: a call admitted on arrival never finds more in flight than the limit; nothing leaks",
    {
      settings: settingsArb,
      calls: FastCheck.array(
        FastCheck.record({
          arrival: FastCheck.integer({ min: 0, max: 8 }),
          duration: FastCheck.integer({ min: 0, max: 8 }),
          outcome: FastCheck.constantFrom<Classification.Kind | "Success">(
            "Success",
            "Success",
            "Overloaded",
            "RateLimited",
            "Transient",
            "Permanent"
          )
        }),
        { minLength: 1, maxLength: 40 }
      )
    },
    ({ calls, settings }) =>
      Effect.gen(function*() {
        const c = AdaptiveConcurrency.config({ ...toOptions(settings), queue: 1000 })
        const limiter = yield* AdaptiveConcurrency.make(c)
        const running = yield* Ref.make(0)
        const completions = yield* Ref.make(0)
        const violations = yield* Ref.make<ReadonlyArray<string>>([])
        const violation = (message: string) => Ref.update(violations, (v) => [...v, message])
        // time is counted in scheduler turns: `arrival` and `duration` are numbers of `yieldNow`s
        const turns = (n: number) => Effect.repeatN(Effect.yieldNow(), n - 1).pipe(Effect.when(() => n > 0))
        const one = (call: (typeof calls)[number], index: number) =>
          Effect.gen(function*() {
            yield* turns(call.arrival)
            const arrivedAfter = yield* Ref.get(completions)
            const body = Effect.gen(function*() {
              const now = yield* stateOf(limiter)
              // The limit and the permits only change when a call completes. If none completed since this
              // call arrived, it was admitted by the rule "fewer than the limit in flight", so it cannot
              // find more than the limit in flight. (No fiber yields between operations here, see
              // withMaxOpsBeforeYield, so "since" is exact.)
              if ((yield* Ref.get(completions)) === arrivedAfter && now.inFlight > now.limit) {
                yield* violation(`call ${index}: ${now.inFlight} in flight > limit ${now.limit}`)
              }
              const mine = yield* Ref.updateAndGet(running, (n) => n + 1)
              if (mine > now.inFlight) yield* violation(`call ${index}: ${mine} running > ${now.inFlight} permits`)
              if (now.limit < c.min || now.limit > c.max) yield* violation(`limit ${now.limit} out of range`)
              yield* turns(call.duration)
              yield* Ref.update(running, (n) => n - 1)
              // the permit is returned right after this, without a yield in between
              yield* Ref.update(completions, (n) => n + 1)
              if (call.outcome === "Success") return index
              return yield* Effect.fail(failure(call.outcome))
            })
            return yield* limiter.run(body)
          })
        const fibers = yield* Effect.forEach(calls, (call, i) => Effect.fork(one(call, i))).pipe(
          Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER)
        )
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        assert.deepStrictEqual(yield* Ref.get(violations), [])
        exits.forEach((exit, i) => {
          const outcome = calls[i]!.outcome
          if (outcome === "Success") assert.deepStrictEqual(exit, Exit.succeed(i))
          else assert.deepStrictEqual(exit, Exit.fail(failure(outcome)))
        })
        const end = yield* stateOf(limiter)
        assert.deepStrictEqual([end.inFlight, end.queued], [0, 0])
        assert.strictEqual(yield* Ref.get(running), 0)
      }),
    { fastCheck: { numRuns: 40 } }
  )
})
