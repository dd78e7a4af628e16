import { APIError } from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { params, sdkInProcess, settle, stream } from "./utils.js"

const START = ["message_start", "content_block_start"]

describe("Stream faults", () => {
  it.effect("error after 2 deltas: the SDK yields message_start and the deltas, then throws APIError overloaded_error", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const seen = yield* stream(client, "one two three")
      assert.deepStrictEqual(seen, {
        kind: "api_error",
        class: "APIError",
        status: undefined,
        type: "overloaded_error",
        requestId: "req_sim_000001",
        retryAfter: null,
        events: [...START, "delta:Simulated ", "delta:reply "]
      })
      // the same error through MessageStream
      const error = yield* Effect.flip(Effect.tryPromise(() => client.messages.stream(params()).finalMessage()))
      assert.instanceOf(error.error, APIError)
      assert.deepStrictEqual((error.error as APIError).error, {
        type: "error",
        error: { type: "overloaded_error", message: "Overloaded" }
      })
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(
        calls.map((c) => [c.status, c.outcome, c.errorType, c.aborted]),
        [1, 2].map(() => [Option.some(200), "stream_error", Option.some("overloaded_error"), false])
      )
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamError({ afterDeltas: 2, times: 2 })] }))))

  it.effect("overload before message_start, and other error types", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const first = yield* stream(client)
      assert.deepStrictEqual(first.kind === "api_error" && [first.type, first.events], ["overloaded_error", []])
      const second = yield* stream(client)
      assert.deepStrictEqual(second.kind === "api_error" && [second.type, second.events], ["api_error", ["message_start"]])
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.overloadedBeforeStart(), Fault.streamError({ afterDeltas: 0, type: "api_error" })]
    }))))

  it.effect("drop after 2 deltas: the deltas arrive, then the body fails with TypeError terminated", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const seen = yield* stream(client)
      assert.deepStrictEqual(seen, {
        kind: "other",
        class: "TypeError",
        message: "terminated",
        events: [...START, "delta:Simulated ", "delta:reply "]
      })
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted], ["dropped", false])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamDrop({ afterDeltas: 2 })] }))))

  it.effect("stall after 1 delta: nothing more arrives; aborting ends the call as aborted", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const controller = new AbortController()
      const fiber = yield* Effect.fork(stream(client, "hello", controller.signal))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("10 minutes")
      yield* settle()
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      controller.abort()
      const seen = yield* Fiber.join(fiber)
      // the SDK's iterator ends quietly when its request is aborted
      assert.deepStrictEqual(seen, { kind: "stream", events: [...START, "delta:Simulated "], requestId: "req_sim_000001" })
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted, record?.endedAt], ["stalled", true, Option.some(600_000)])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamStall({ afterDeltas: 1 })] }))))

  it.effect("ping-only stall: message_start, then a ping every 5 s and nothing else", () =>
    Effect.gen(function*() {
      const response = yield* Simulator.handle({
        method: "POST",
        url: "/v1/messages",
        headers: new Headers({ "x-api-key": "k" }),
        body: JSON.stringify({ ...params(), stream: true })
      })
      if (!Simulator.isEventStreamResponse(response)) return assert.fail("not a stream")
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(response.events, 4)))
      yield* TestClock.adjust("14 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 seconds")
      const frames = Chunk.toReadonlyArray(yield* Fiber.join(fiber)).map((f) => f.slice(7, f.indexOf("\n")))
      assert.deepStrictEqual(frames, ["message_start", "ping", "ping", "ping"])
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted], ["stalled", true])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.pingOnly({ every: "5 seconds" })] }))))

  it.effect("breaking out of the iterator cancels the simulated stream (aborted)", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const fiber = yield* Effect.fork(Effect.promise(async () => {
        const s = await client.messages.create({ ...params(), stream: true })
        for await (const event of s) if (event.type === "content_block_start") break
      }))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(fiber)
      yield* settle()
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted], ["ok", true])
    }).pipe(Effect.provide(Simulator.layer({ streamInterval: "100 millis" }))))
})
