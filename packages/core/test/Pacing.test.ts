import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"
import * as Pacing from "../src/Pacing.js"

/** Forks `pacer.wait` and returns a fiber that yields the Clock time at which the wait ended. */
const waiting = (pacer: Pacing.Pacer) => Effect.fork(Effect.zipRight(pacer.wait, Clock.currentTimeMillis))

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(fiber.poll, Option.isSome)

/** Lets forked fibers run until they have suspended. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("Pacing", () => {
  it.effect("wait returns at once when nothing is known or no window is used up", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.wait
      yield* pacer.observe([
        { name: "requests", remaining: 3, resetAt: 60_000 },
        { name: "tokens", remaining: 1, resetAt: 30_000 }
      ])
      yield* pacer.wait // no TestClock.adjust: would hang if it slept
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      assert.deepStrictEqual(yield* pacer.delay, Duration.zero)
    }))

  it.effect("waits exactly until the reset of a used-up window", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 2_000 }])
      assert.deepStrictEqual(yield* pacer.delay, Duration.millis(2_000))
      const fiber = yield* waiting(pacer)
      yield* TestClock.adjust("1999 millis")
      assert.isFalse(yield* isDone(fiber))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 2_000)
      // the window reset: it is forgotten and the next wait is free
      assert.deepStrictEqual(yield* pacer.state, [])
      yield* pacer.wait
    }))

  it.effect("waits for the latest reset among used-up windows, and ignores windows with something left", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([
        { name: "requests", remaining: 0, resetAt: 1_000 },
        { name: "input-tokens", remaining: -500, resetAt: 4_000 },
        { name: "output-tokens", remaining: 8_000, resetAt: 9_000 }
      ])
      const fiber = yield* waiting(pacer)
      yield* TestClock.adjust("3999 millis")
      assert.isFalse(yield* isDone(fiber))
      assert.deepStrictEqual(yield* pacer.state, [
        { name: "input-tokens", remaining: -500, resetAt: 4_000 },
        { name: "output-tokens", remaining: 8_000, resetAt: 9_000 }
      ])
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 4_000)
    }))

  it.effect("the latest observation of a window replaces the previous one", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 5_000 }])
      yield* pacer.observe([{ name: "requests", remaining: 10, resetAt: 5_000 }])
      yield* pacer.wait
      assert.deepStrictEqual(yield* pacer.state, [{ name: "requests", remaining: 10, resetAt: 5_000 }])
      // an unparsable reset is ignored
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: Number.NaN }])
      yield* pacer.wait
      // an observation whose reset already passed is forgotten at once
      yield* pacer.observe([{ name: "tokens", remaining: 0, resetAt: 0 }])
      yield* pacer.wait
      assert.deepStrictEqual((yield* pacer.state).map((w) => w.name), ["requests"])
    }))

  it.effect("a wait extended by a later observation ends at the new reset", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 1_000 }])
      const fiber = yield* waiting(pacer)
      yield* TestClock.adjust("500 millis")
      yield* pacer.observe([{ name: "tokens", remaining: 0, resetAt: 3_000 }])
      yield* TestClock.adjust("500 millis")
      assert.isFalse(yield* isDone(fiber))
      yield* TestClock.adjust("1999 millis")
      assert.isFalse(yield* isDone(fiber))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 3_000)
    }))

  it.effect("waiters wake as soon as an observation shows the window replenished", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 10_000 }])
      const fiber = yield* waiting(pacer)
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* isDone(fiber))
      yield* pacer.observe([{ name: "requests", remaining: 50, resetAt: 10_000 }])
      assert.strictEqual(yield* Fiber.join(fiber), 1_000)
    }))

  it.effect("a thousand waiters share one timer and all wake at the reset; an interrupted one disturbs nobody", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 60_000 }])
      const fibers = yield* Effect.forEach(Array.from({ length: 1_000 }), () => waiting(pacer))
      yield* settle
      assert.deepStrictEqual(Chunk.toArray(yield* TestClock.sleeps()), [60_000]) // one timer
      yield* Fiber.interrupt(fibers[0]!)
      yield* TestClock.adjust("1 minute")
      const ends = yield* Effect.forEach(fibers.slice(1), Fiber.join)
      assert.isTrue(ends.every((t) => t === 60_000))
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(fibers[0]!)))
    }))

  it.effect("wait is interruptible and an interrupted waiter leaves the timer to the others", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacing.make
      yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: 1_000 }])
      const first = yield* waiting(pacer) // starts the shared timer
      yield* settle
      const second = yield* waiting(pacer)
      yield* settle
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(second), 1_000)
    }))
})
