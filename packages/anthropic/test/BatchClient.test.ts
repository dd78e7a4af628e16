/**
 * `AnthropicClient.messages.batches`: the SDK's batch calls with typed errors, spans and abort on
 * interruption (stubbed `fetch`; the end-to-end suites run them against the simulator).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, Tracer } from "effect"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as AnthropicError from "../src/AnthropicError.js"
import { BASE_URL, type Call, errorBody, hang, layer, message, params, respond, stub } from "./stubs.js"

const Client = AnthropicClient.AnthropicClient

const batch = (overrides: Record<string, unknown> = {}) => ({
  id: "msgbatch_1",
  type: "message_batch",
  processing_status: "in_progress",
  request_counts: { processing: 2, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
  created_at: "2026-11-27T10:00:00Z",
  expires_at: "2026-11-28T10:00:00Z",
  ended_at: null,
  cancel_initiated_at: null,
  archived_at: null,
  results_url: null,
  ...overrides
})

const ended = batch({
  processing_status: "ended",
  request_counts: { processing: 0, succeeded: 1, errored: 1, canceled: 0, expired: 0 },
  ended_at: "2026-11-27T10:05:00Z",
  results_url: `${BASE_URL}/v1/messages/batches/msgbatch_1/results`
})

const lines = [
  { custom_id: "b", result: { type: "errored", error: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } } },
  { custom_id: "a", result: { type: "succeeded", message } }
]

/** A JSONL body sent in two chunks that split a line, then (unless `stall`) closed. */
const jsonl = (call: Call, options: { readonly stall?: boolean } = {}): Response => {
  const text = lines.map((l) => JSON.stringify(l)).join("\n") + "\n"
  const encoder = new TextEncoder()
  const cut = 30
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(text.slice(0, cut)))
      controller.enqueue(encoder.encode(text.slice(cut)))
      if (options.stall) {
        void call.aborted.then(() => controller.error(new DOMException("This operation was aborted", "AbortError")))
      } else controller.close()
    }
  })
  return new Response(body, { status: 200, headers: { "content-type": "application/binary" } })
}

describe("AnthropicClient.messages.batches", () => {
  it.effect("create posts the requests; retrieve and cancel address the batch", () =>
    Effect.gen(function*() {
      const s = stub((call) =>
        call.url.endsWith("/cancel")
          ? respond(200, JSON.stringify(batch({ processing_status: "canceling" })))
          : respond(200, JSON.stringify(batch()))
      )
      const requests = [{ custom_id: "a", params }, { custom_id: "b", params }]
      const [created, retrieved, canceled] = yield* Effect.flatMap(Client, (client) =>
        Effect.all([
          client.messages.batches.create({ requests }),
          client.messages.batches.retrieve("msgbatch_1"),
          client.messages.batches.cancel("msgbatch_1")
        ])).pipe(Effect.provide(layer(s.fetch)))
      assert.strictEqual(created.id, "msgbatch_1")
      assert.strictEqual(retrieved.processing_status, "in_progress")
      assert.strictEqual(canceled.processing_status, "canceling")
      assert.deepStrictEqual(s.calls.map((c) => [c.init?.method, c.url]), [
        ["POST", `${BASE_URL}/v1/messages/batches`],
        ["GET", `${BASE_URL}/v1/messages/batches/msgbatch_1`],
        ["POST", `${BASE_URL}/v1/messages/batches/msgbatch_1/cancel`]
      ])
      assert.deepStrictEqual(JSON.parse(String(s.calls[0]!.init?.body)), { requests })
    }))

  it.effect("list returns one page with its cursors", () =>
    Effect.gen(function*() {
      const s = stub(() =>
        respond(
          200,
          JSON.stringify({ data: [batch({ id: "b2" }), batch({ id: "b1" })], has_more: true, first_id: "b2", last_id: "b1" })
        )
      )
      const page = yield* Effect.flatMap(Client, (client) => client.messages.batches.list({ limit: 2, after_id: "b3" })).pipe(
        Effect.provide(layer(s.fetch))
      )
      assert.deepStrictEqual(page.data.map((b) => b.id), ["b2", "b1"])
      assert.isTrue(page.hasMore)
      assert.deepStrictEqual([page.firstId, page.lastId], [Option.some("b2"), Option.some("b1")])
      const url = new URL(s.calls[0]!.url)
      assert.deepStrictEqual([url.searchParams.get("limit"), url.searchParams.get("after_id")], ["2", "b3"])
      assert.strictEqual(s.calls.length, 1)
    }))

  it.effect("results: retrieve, then the JSONL lines of results_url (lines split across chunks)", () =>
    Effect.gen(function*() {
      const s = stub((call) => call.url.endsWith("/results") ? jsonl(call) : respond(200, JSON.stringify(ended)))
      const results = yield* Effect.flatMap(Client, (client) => Stream.runCollect(client.messages.batches.results("msgbatch_1"))).pipe(
        Effect.provide(layer(s.fetch))
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(results), lines as never)
      assert.deepStrictEqual(s.calls.map((c) => c.url), [
        `${BASE_URL}/v1/messages/batches/msgbatch_1`,
        `${BASE_URL}/v1/messages/batches/msgbatch_1/results`
      ])
      assert.strictEqual(new Headers(s.calls[1]!.init?.headers).get("accept"), "application/binary")
    }))

  it.effect("results of a batch still in progress fail with SdkError; HTTP errors are typed", () =>
    Effect.gen(function*() {
      const s = stub((call) =>
        call.url.includes("missing")
          ? respond(404, errorBody("not_found_error", "batch not found"))
          : call.init?.method === "POST"
          ? respond(529, errorBody("overloaded_error", "Overloaded"), { "x-should-retry": "true" })
          : respond(200, JSON.stringify(batch()))
      )
      const [early, missing, overloaded] = yield* Effect.flatMap(Client, (client) =>
        Effect.all([
          Effect.flip(Stream.runCollect(client.messages.batches.results("msgbatch_1"))),
          Effect.flip(client.messages.batches.retrieve("missing")),
          Effect.flip(client.messages.batches.create({ requests: [{ custom_id: "a", params }] }))
        ])).pipe(Effect.provide(layer(s.fetch)))
      assert.instanceOf(early, AnthropicError.SdkError)
      assert.include(early.message, "results_url")
      assert.instanceOf(missing, AnthropicError.NotFound)
      assert.instanceOf(overloaded, AnthropicError.Overloaded)
      assert.deepStrictEqual(overloaded.shouldRetry, Option.some(true))
    }))

  it.effect("interrupting a call aborts its request; a consumer that stops early aborts the download", () =>
    Effect.gen(function*() {
      const s = stub((call, index) =>
        index === 0 ? hang(call) : call.url.endsWith("/results") ? jsonl(call, { stall: true }) : respond(200, JSON.stringify(ended))
      )
      yield* Effect.gen(function*() {
        const client = yield* Client
        const fiber = yield* Effect.fork(client.messages.batches.retrieve("msgbatch_1"))
        yield* Effect.promise(() => s.call(0))
        yield* Fiber.interrupt(fiber)
        assert.isTrue(s.calls[0]!.isAborted())
        const first = yield* Stream.runCollect(Stream.take(client.messages.batches.results("msgbatch_1"), 1))
        assert.deepStrictEqual(Chunk.toReadonlyArray(first).map((r) => r.custom_id), ["b"])
        yield* Effect.promise(() => s.calls[2]!.aborted)
        assert.isTrue(s.calls[2]!.isAborted())
      }).pipe(Effect.provide(layer(s.fetch)))
    }))

  it.effect("each call runs in a span with the batch id", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: (f, fiber) => base.context(f, fiber)
      })
      const s = stub(() => respond(200, JSON.stringify(batch())))
      yield* Effect.flatMap(Client, (client) =>
        Effect.all([
          client.messages.batches.create({ requests: [{ custom_id: "a", params }] }),
          client.messages.batches.retrieve("msgbatch_1")
        ])).pipe(Effect.provide(layer(s.fetch)), Effect.withTracer(tracer))
      const create = spans.find((span) => span.name === "AnthropicClient.messages.batches.create")
      const retrieve = spans.find((span) => span.name === "AnthropicClient.messages.batches.retrieve")
      assert.strictEqual(create?.attributes.get("anthropic.batch.id"), "msgbatch_1")
      assert.strictEqual(create?.attributes.get("anthropic.batch.request_count"), 1)
      assert.strictEqual(retrieve?.attributes.get("anthropic.batch.id"), "msgbatch_1")
    }))
})
