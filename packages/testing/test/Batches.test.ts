/**
 * The Message Batches endpoints of the simulator, driven by the unmodified SDK
 * (`client.messages.batches.*`) in process under TestClock, and over 127.0.0.1.
 */
import type Anthropic from "@anthropic-ai/sdk"
import { AnthropicError, BadRequestError, NotFoundError } from "@anthropic-ai/sdk"
import type { MessageBatch, MessageBatchIndividualResponse } from "@anthropic-ai/sdk/resources/messages/batches"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Server from "../src/Server.js"
import * as Simulator from "../src/Simulator.js"
import { MODEL, params, sdkInProcess, sdkOverHttp } from "./utils.js"

const request = (customId: string, content = customId) => ({ custom_id: customId, params: params(content) })

const T0 = new Date(0).toISOString()

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

const failure = (f: () => Promise<unknown>) =>
  Effect.promise(() => f().then(() => undefined, (error: unknown) => error))

const results = (client: Anthropic, id: string) =>
  call(async () => {
    const out: Array<MessageBatchIndividualResponse> = []
    for await (const line of await client.messages.batches.results(id)) out.push(line)
    return out
  })

const summary = (lines: ReadonlyArray<MessageBatchIndividualResponse>) =>
  Object.fromEntries(lines.map((l) => [
    l.custom_id,
    l.result.type === "errored" ? `errored:${l.result.error.error.type}` : l.result.type
  ]))

const counts = (batch: MessageBatch) => batch.request_counts

describe("Message Batches", () => {
  it.effect("in_progress with every request processing until the batch ends, then counts, results_url and results", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      const created = yield* call(() =>
        client.messages.batches.create({ requests: [request("a"), request("b"), request("c")] })
      )
      assert.deepStrictEqual(created, {
        id: "msgbatch_sim_000001",
        type: "message_batch",
        processing_status: "in_progress",
        request_counts: { processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
        ended_at: null,
        created_at: T0,
        expires_at: new Date(24 * 3600_000).toISOString(),
        archived_at: null,
        cancel_initiated_at: null,
        results_url: null
      })
      yield* TestClock.adjust("59999 millis")
      const running = yield* call(() => client.messages.batches.retrieve(created.id))
      assert.strictEqual(running.processing_status, "in_progress")
      assert.deepStrictEqual(counts(running), { processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 })
      const early = yield* failure(() => client.messages.batches.results(created.id))
      assert.instanceOf(early, AnthropicError)
      assert.include((early as Error).message, "No batch `results_url`")

      yield* TestClock.adjust("1 millis")
      const ended = yield* call(() => client.messages.batches.retrieve(created.id))
      assert.strictEqual(ended.processing_status, "ended")
      assert.strictEqual(ended.ended_at, new Date(60_000).toISOString())
      assert.deepStrictEqual(counts(ended), { processing: 0, succeeded: 3, errored: 0, canceled: 0, expired: 0 })
      assert.strictEqual(ended.results_url, "https://api.anthropic.com/v1/messages/batches/msgbatch_sim_000001/results")

      const lines = yield* results(client, created.id)
      assert.sameMembers(lines.map((l) => l.custom_id), ["a", "b", "c"])
      assert.notDeepEqual(lines.map((l) => l.custom_id), ["a", "b", "c"], "results come back out of order")
      for (const line of lines) {
        assert.strictEqual(line.result.type, "succeeded")
        if (line.result.type !== "succeeded") continue
        assert.deepStrictEqual(line.result.message.content, [{
          type: "text",
          text: `Simulated reply to: ${line.custom_id}`
        }] as never)
        assert.strictEqual(line.result.message.model, MODEL)
        assert.strictEqual(line.result.message.usage.service_tier, "batch" as never)
      }
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("scripted outcomes: errored with a type, canceled, expired (the batch then runs until expiry at 24 h)", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      const batch = yield* call(() =>
        client.messages.batches.create({ requests: ["a", "b", "c", "d", "e"].map((id) => request(id)) })
      )
      yield* TestClock.adjust("23 hours")
      assert.strictEqual((yield* call(() => client.messages.batches.retrieve(batch.id))).processing_status, "in_progress")
      yield* TestClock.adjust("1 hours")
      const ended = yield* call(() => client.messages.batches.retrieve(batch.id))
      assert.strictEqual(ended.processing_status, "ended")
      assert.strictEqual(ended.ended_at, ended.expires_at)
      assert.deepStrictEqual(counts(ended), { processing: 0, succeeded: 1, errored: 2, canceled: 1, expired: 1 })
      assert.deepStrictEqual(summary(yield* results(client, batch.id)), {
        a: "errored:overloaded_error",
        b: "errored:invalid_request_error",
        c: "expired",
        d: "canceled",
        e: "succeeded"
      })
    }).pipe(Effect.provide(Simulator.layer({
      script: [
        Fault.batchResult("errored", { type: "overloaded_error" }),
        Fault.batchResult("expired", { customId: "c" }),
        Fault.batchResult("canceled", { customId: "d" }),
        Fault.batchResult("errored", { customId: "b", type: "invalid_request_error", message: "bad" })
      ]
    }))))

  it.effect("a request slower than 24 h expires; the batch ends at expires_at", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      const batch = yield* call(() => client.messages.batches.create({ requests: [request("fast"), request("slow")] }))
      yield* TestClock.adjust("24 hours")
      const ended = yield* call(() => client.messages.batches.retrieve(batch.id))
      assert.strictEqual(ended.processing_status, "ended")
      assert.deepStrictEqual(summary(yield* results(client, batch.id)), { fast: "succeeded", slow: "expired" })
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.batchResult("succeeded", { customId: "slow", latency: "25 hours" })]
    }))))

  it.effect("cancel: canceling, then ended cancelTime later; requests unfinished by then are canceled", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      // 4 requests over 60 s finish at 15, 30, 45 and 60 s.
      const batch = yield* call(() =>
        client.messages.batches.create({ requests: ["r1", "r2", "r3", "r4"].map((id) => request(id)) })
      )
      yield* TestClock.adjust("20 seconds")
      const canceling = yield* call(() => client.messages.batches.cancel(batch.id))
      assert.strictEqual(canceling.processing_status, "canceling")
      assert.strictEqual(canceling.cancel_initiated_at, new Date(20_000).toISOString())
      assert.deepStrictEqual(counts(canceling), { processing: 4, succeeded: 0, errored: 0, canceled: 0, expired: 0 })
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual((yield* call(() => client.messages.batches.cancel(batch.id))).processing_status, "canceling")
      yield* TestClock.adjust("1 seconds")
      const ended = yield* call(() => client.messages.batches.retrieve(batch.id))
      assert.strictEqual(ended.processing_status, "ended")
      assert.strictEqual(ended.ended_at, new Date(30_000).toISOString())
      assert.deepStrictEqual(counts(ended), { processing: 0, succeeded: 2, errored: 0, canceled: 2, expired: 0 })
      assert.deepStrictEqual(summary(yield* results(client, batch.id)), {
        r1: "succeeded",
        r2: "succeeded",
        r3: "canceled",
        r4: "canceled"
      })
      const again = yield* failure(() => client.messages.batches.cancel(batch.id))
      assert.instanceOf(again, BadRequestError)
    }).pipe(Effect.provide(Simulator.layer({ batches: { processingTime: "60 seconds", cancelTime: "10 seconds" } }))))

  it.effect("creation is validated like the API: custom_id pattern and length, duplicates, count, params", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const reject = (requests: ReadonlyArray<unknown>) =>
        Effect.map(
          failure(() => client.messages.batches.create({ requests: requests as never })),
          (e) => e instanceof BadRequestError ? `${e.status} ${e.type} ${(e.error as any).error.message}` : String(e)
        )
      const id64 = "x".repeat(64)
      assert.deepStrictEqual(
        yield* Effect.all([
          reject([]),
          reject([request("ok"), request("has space")]),
          reject([request("x".repeat(65))]),
          reject([request("")]),
          reject([request("a"), request("b"), request("a")]),
          reject([request("a"), request("b"), request("c"), request("d")]),
          reject([{ custom_id: "a", params: { model: MODEL, messages: [] } }]),
          reject([{ custom_id: "a", params: { ...params(), stream: true } }])
        ]),
        [
          "400 invalid_request_error requests: List should have at least 1 item after validation, not 0",
          "400 invalid_request_error requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
          "400 invalid_request_error requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
          "400 invalid_request_error requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
          "400 invalid_request_error requests.2.custom_id: Duplicate custom_id 'a': each must be unique within the batch",
          "400 invalid_request_error requests: List should have at most 3 items after validation, not 4",
          "400 invalid_request_error requests.0.params.max_tokens: Field required",
          "400 invalid_request_error requests.0.params.stream: streaming is not supported in batches"
        ]
      )
      const ok = yield* call(() => client.messages.batches.create({ requests: [request(id64), request("A-b_9")] }))
      assert.strictEqual(ok.request_counts.processing, 2)
      assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds), [[id64, "A-b_9"]])
    }).pipe(Effect.provide(Simulator.layer({ batches: { maxRequests: 3 } }))))

  it.effect("the byte limit: a body of exactly maxBytes is accepted, one byte more is 413 request_too_large", () =>
    Effect.gen(function*() {
      const requests = [request("a", "x".repeat(100)), request("b")]
      const size = JSON.stringify({ requests }).length
      const attempt = (maxBytes: number) =>
        Effect.gen(function*() {
          const client = sdkInProcess(yield* InProcess.fetch)
          return yield* failure(() => client.messages.batches.create({ requests }))
        }).pipe(Effect.provide(Simulator.layer({ batches: { maxBytes } })))
      assert.isUndefined(yield* attempt(size))
      const error = yield* attempt(size - 1)
      assert.strictEqual((error as { status?: number }).status, 413)
      assert.strictEqual((error as { type?: string }).type, "request_too_large")
    }))

  it.effect("an unknown model errors only its own request (not_found_error)", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      const batch = yield* call(() =>
        client.messages.batches.create({
          requests: [request("known"), { custom_id: "unknown", params: { ...params(), model: "claude-nope" } }]
        })
      )
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(summary(yield* results(client, batch.id)), {
        known: "succeeded",
        unknown: "errored:not_found_error"
      })
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("list: newest first, paginated by after_id / before_id; the SDK iterator walks every page", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      for (const id of ["a", "b", "c"]) {
        yield* call(() => client.messages.batches.create({ requests: [request(id)] }))
        yield* TestClock.adjust("1 seconds")
      }
      const first = yield* call(() => client.messages.batches.list({ limit: 2 }))
      assert.deepStrictEqual(first.data.map((b) => b.id), ["msgbatch_sim_000003", "msgbatch_sim_000002"])
      assert.isTrue(first.has_more)
      const next = yield* call(() => client.messages.batches.list({ limit: 2, after_id: first.last_id! }))
      assert.deepStrictEqual(next.data.map((b) => b.id), ["msgbatch_sim_000001"])
      assert.isFalse(next.has_more)
      const previous = yield* call(() => client.messages.batches.list({ limit: 2, before_id: "msgbatch_sim_000001" }))
      assert.deepStrictEqual(previous.data.map((b) => b.id), ["msgbatch_sim_000003", "msgbatch_sim_000002"])
      const all = yield* call(async () => {
        const ids: Array<string> = []
        for await (const b of client.messages.batches.list({ limit: 1 })) ids.push(b.id)
        return ids
      })
      assert.deepStrictEqual(all, ["msgbatch_sim_000003", "msgbatch_sim_000002", "msgbatch_sim_000001"])
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("unknown ids are 404; delete only once ended; results archived after 29 days", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      assert.instanceOf(yield* failure(() => client.messages.batches.retrieve("msgbatch_nope")), NotFoundError)
      const a = yield* call(() => client.messages.batches.create({ requests: [request("a")] }))
      const b = yield* call(() => client.messages.batches.create({ requests: [request("b")] }))
      assert.instanceOf(yield* failure(() => client.messages.batches.delete(a.id)), BadRequestError)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* call(() => client.messages.batches.delete(a.id)), {
        id: a.id,
        type: "message_batch_deleted"
      })
      assert.instanceOf(yield* failure(() => client.messages.batches.retrieve(a.id)), NotFoundError)
      yield* TestClock.adjust("29 days")
      const archived = yield* call(() => client.messages.batches.retrieve(b.id))
      assert.strictEqual(archived.archived_at, new Date(29 * 24 * 3600_000).toISOString())
      assert.instanceOf(yield* failure(() => client.messages.batches.results(b.id)), NotFoundError)
      const records = yield* Simulator.batches
      assert.deepStrictEqual(records.map((r) => [r.id, r.deleted, r.processingStatus]), [
        [a.id, true, "ended"],
        [b.id, false, "ended"]
      ])
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("HTTP faults target batch calls with endpoint: \"batches\"; batch outcomes never answer HTTP calls", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const overloaded = yield* failure(() => client.messages.batches.create({ requests: [request("a")] }))
      assert.strictEqual((overloaded as { status?: number }).status, 529)
      const message = yield* call(() => client.messages.create(params()))
      assert.strictEqual(message.stop_reason, "end_turn")
      const created = yield* call(() => client.messages.batches.create({ requests: [request("a")] }))
      assert.strictEqual(created.processing_status, "in_progress")
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => [c.endpoint, Option.getOrNull(c.status)]), [
        ["batches", 529],
        ["messages", 200],
        ["batches", 200]
      ])
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.batchResult("errored", { times: "forever" }), Fault.overloaded({ endpoint: "batches" })]
    }))))

  it.live("over 127.0.0.1: the same lifecycle, with results_url pointing at the server", () =>
    Effect.gen(function*() {
      const { url } = yield* Server.start()
      const client = sdkOverHttp(url)
      const batch = yield* call(() =>
        client.messages.batches.create({ requests: [request("a"), request("b"), request("c")] })
      )
      assert.strictEqual(batch.processing_status, "in_progress")
      yield* Effect.sleep("60 millis")
      const ended = yield* call(() => client.messages.batches.retrieve(batch.id))
      assert.strictEqual(ended.processing_status, "ended")
      assert.strictEqual(ended.results_url, `${url}/v1/messages/batches/${batch.id}/results`)
      assert.deepStrictEqual(summary(yield* results(client, batch.id)), {
        a: "errored:overloaded_error",
        b: "succeeded",
        c: "canceled"
      })
      assert.deepStrictEqual(counts(ended), { processing: 0, succeeded: 1, errored: 1, canceled: 1, expired: 0 })
    }).pipe(
      Effect.scoped,
      Effect.provide(Simulator.layer({
        batches: { processingTime: "50 millis" },
        script: [
          Fault.batchResult("errored", { customId: "a", type: "overloaded_error" }),
          Fault.batchResult("canceled", { customId: "c" })
        ]
      }))
    ))

  it.effect("a 2,500-request batch (several JSONL chunks): every custom_id exactly once in the results", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.makeFetch({ responses: "native" }))
      const ids = Array.from({ length: 2_500 }, (_, i) => `req-${i}`)
      const batch = yield* call(() => client.messages.batches.create({ requests: ids.map((id) => request(id, "hi")) }))
      yield* TestClock.adjust("1 minute")
      const lines = yield* results(client, batch.id)
      assert.strictEqual(lines.length, 2_500)
      assert.strictEqual(new Set(lines.map((l) => l.custom_id)).size, 2_500)
      assert.isTrue(lines.every((l) => l.result.type === "succeeded"))
    }).pipe(Effect.provide(Simulator.layer())))
})
