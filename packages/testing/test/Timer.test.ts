import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { InProcess, Simulator } from "../src/index.js"
import { params, sdkInProcess } from "./utils.js"

describe("simulated latency (coalesced wake-ups)", () => {
  it.effect("calls due at the same instant all answer then; an aborted one does not disturb the rest", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const call = Effect.tryPromise((signal) => client.messages.create(params(), { signal }))
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(call))
      yield* Simulator.awaitCalls(3)
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fibers[1]!)
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fibers[0]!)), "not answered before its latency")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fibers[0]!)
      yield* Fiber.join(fibers[2]!)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => [c.aborted, c.endedAt]), [
        [false, Option.some(2000)],
        [true, Option.some(1000)],
        [false, Option.some(2000)]
      ])
    }).pipe(Effect.provide(Simulator.layer({ latency: "2 seconds" }))))

  it.effect("calls that arrive at different times keep their own latency", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const first = yield* Effect.fork(Effect.promise(() => client.messages.create(params())))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.fork(Effect.promise(() => client.messages.create(params())))
      yield* Simulator.awaitCalls(2)
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(first)
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(second)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => c.endedAt), [Option.some(1000), Option.some(1500)])
    }).pipe(Effect.provide(Simulator.layer({ latency: "1 second" }))))
})
