import { APIError, BadRequestError, NotFoundError } from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { create, MODEL, params, sdkInProcess, stream } from "./utils.js"

const headers = (entries: Record<string, string> = { "x-api-key": "test" }) => new Headers(entries)

describe("Messages, count_tokens, models", () => {
  it.effect("a JSON message: deterministic ids, text and usage", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const { data, request_id, response } = yield* Effect.promise(() =>
        client.messages.create(params("What is the capital of France?")).withResponse()
      )
      assert.deepStrictEqual(data, {
        id: "msg_sim_000001",
        type: "message",
        role: "assistant",
        model: MODEL,
        content: [{ type: "text", text: "Simulated reply to: What is the capital of France?" }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: {
          input_tokens: 8, // 30 characters / 4, rounded up
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 13, // 50 characters / 4, rounded up
          service_tier: "standard"
        }
      } as unknown as typeof data)
      assert.strictEqual(request_id, "req_sim_000001")
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), "application/json")
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("max_tokens cuts the reply (4 characters per token) with stop_reason max_tokens", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const m = yield* Effect.promise(() => client.messages.create({ ...params(), max_tokens: 2 }))
      assert.strictEqual(m.stop_reason, "max_tokens")
      assert.strictEqual(m.usage.output_tokens, 2)
      assert.deepStrictEqual(m.content, [{ type: "text", text: "Simulated reply to: hello".slice(0, 8) } as never])
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("the reply option and the call number", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const a = yield* create(client)
      const b = yield* create(client, "again")
      assert.deepStrictEqual([a, b].map((s) => s.kind === "message" ? s.text : ""), ["1:claude-opus-4-6", "2:claude-opus-4-6"])
    }).pipe(Effect.provide(Simulator.layer({ reply: (request, call) => `${call}:${request.model}` }))))

  it.effect("a stream in the API's event order; the SDK's MessageStream assembles the same message", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const seen = yield* stream(client, "hi")
      assert.deepStrictEqual(seen, {
        kind: "stream",
        events: [
          "message_start",
          "content_block_start",
          "delta:Simulated ",
          "delta:reply ",
          "delta:to: ",
          "delta:hi",
          "content_block_stop",
          "message_delta",
          "message_stop"
        ],
        requestId: "req_sim_000001"
      })
      const final = yield* Effect.promise(() => client.messages.stream(params("hi")).finalMessage())
      assert.strictEqual(final.id, "msg_sim_000002")
      assert.deepStrictEqual(final.content, [{ type: "text", text: "Simulated reply to: hi" } as never])
      assert.strictEqual(final.stop_reason, "end_turn")
      assert.strictEqual(final.usage.output_tokens, 6)
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("raw SSE frames include a ping after content_block_start (SDK skips it)", () =>
    Effect.gen(function*() {
      const response = yield* Simulator.handle({
        method: "POST",
        url: "/v1/messages",
        headers: headers(),
        body: JSON.stringify({ ...params("x"), stream: true })
      })
      if (!Simulator.isEventStreamResponse(response)) return assert.fail("not a stream")
      assert.strictEqual(response.headers["content-type"], "text/event-stream; charset=utf-8")
      const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(response.events))
      const events = frames.map((f) => f.slice(7, f.indexOf("\n")))
      assert.deepStrictEqual(events, [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop"
      ])
      assert.strictEqual(frames[2], "event: ping\ndata: {\"type\": \"ping\"}\n\n")
      const [record] = yield* Simulator.calls
      assert.strictEqual(record?.outcome, "ok")
      assert.deepStrictEqual(record?.endedAt, Option.some(0))
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("streamInterval spaces events on the Clock", () =>
    Effect.gen(function*() {
      const response = yield* Simulator.handle({
        method: "POST",
        url: "/v1/messages",
        headers: headers(),
        body: JSON.stringify({ ...params("x"), stream: true })
      })
      if (!Simulator.isEventStreamResponse(response)) return assert.fail("not a stream")
      const fiber = yield* Effect.fork(Stream.runCollect(response.events))
      yield* TestClock.adjust("899 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "10 events → 9 gaps of 100 ms")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(Chunk.size(yield* Fiber.join(fiber)), 10)
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual(record?.endedAt, Option.some(900))
    }).pipe(Effect.provide(Simulator.layer({ streamInterval: "100 millis" }))))

  it.effect("count_tokens agrees with the message usage", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const count = yield* Effect.promise(() =>
        client.messages.countTokens({ model: MODEL, messages: params("What is the capital of France?").messages })
      )
      assert.deepStrictEqual(count, { input_tokens: 8 } as typeof count)
      const calls = yield* Simulator.calls
      assert.strictEqual(calls[0]?.endpoint, "count_tokens")
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("models: list auto-paginates, retrieve finds one, unknown → NotFoundError", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const ids = yield* Effect.promise(async () => {
        const out: Array<string> = []
        for await (const m of client.models.list({ limit: 2 })) out.push(m.id)
        return out
      })
      assert.deepStrictEqual(ids, ["m-1", "m-2", "m-3", "custom"])
      const calls = yield* Simulator.calls
      assert.strictEqual(calls.length, 2, "two pages")
      const one = yield* Effect.promise(() => client.models.retrieve("custom"))
      assert.strictEqual(one.id, "custom")
      assert.strictEqual(one.display_name, "Custom")
      const missing = yield* Effect.flip(Effect.tryPromise(() => client.models.retrieve("nope")))
      assert.instanceOf(missing.error, NotFoundError)
    }).pipe(Effect.provide(Simulator.layer({ models: ["m-1", "m-2", "m-3", { id: "custom", display_name: "Custom" }] }))))

  it.effect("validation like the API: 400 for missing fields and bad JSON, 404 for unknown model and path, 401 without key", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const noMax = yield* Effect.flip(Effect.tryPromise(() =>
        client.messages.create({ model: MODEL, messages: [{ role: "user", content: "x" }] } as never)
      ))
      assert.instanceOf(noMax.error, BadRequestError)
      assert.strictEqual((noMax.error as APIError).apiMessage, "max_tokens: Field required")
      const noMessages = yield* Effect.flip(Effect.tryPromise(() =>
        client.messages.create({ model: MODEL, max_tokens: 5, messages: [] })
      ))
      assert.instanceOf(noMessages.error, BadRequestError)
      const unknownModel = yield* Effect.flip(Effect.tryPromise(() =>
        client.messages.create({ ...params(), model: "claude-nope" })
      ))
      assert.instanceOf(unknownModel.error, NotFoundError)
      assert.strictEqual((unknownModel.error as APIError).apiMessage, "model: claude-nope")

      const fetch = yield* InProcess.fetch
      const badJson = yield* Effect.promise(() =>
        fetch("https://api.anthropic.com/v1/messages", { method: "POST", headers: headers(), body: "{" })
      )
      assert.strictEqual(badJson.status, 400)
      const unknownPath = yield* Effect.promise(() => fetch("http://x/v1/nothing", { headers: headers() }))
      assert.strictEqual(unknownPath.status, 404)
      assert.strictEqual(((yield* Effect.promise(() => unknownPath.json())) as { error: { type: string } }).error.type, "not_found_error")
      const noKey = yield* Effect.promise(() =>
        fetch("http://x/v1/messages", { method: "POST", body: JSON.stringify(params()) })
      )
      assert.strictEqual(noKey.status, 401)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(
        calls.map((c) => [c.status, c.source]),
        [400, 400, 404, 400, 404, 401].map((s) => [Option.some(s), "request"])
      )
    }).pipe(Effect.provide(Simulator.layer())))
})
