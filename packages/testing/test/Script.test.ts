import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Script from "../src/Script.js"
import * as Simulator from "../src/Simulator.js"
import { create, sdkInProcess, type Seen } from "./utils.js"

const summary = (s: Seen) =>
  s.kind === "api_error"
    ? `${s.status} ${s.type}${s.retryAfter ? ` retry-after=${s.retryAfter}` : ""}`
    : s.kind === "message"
    ? "200"
    : s.kind

describe("Script", () => {
  it.effect("529, 529, 429 with retry-after 3 s, then success — exactly, per call", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const seen: Array<string> = []
      for (let i = 0; i < 5; i++) seen.push(summary(yield* create(client)))
      assert.deepStrictEqual(seen, [
        "529 overloaded_error",
        "529 overloaded_error",
        "429 rate_limit_error retry-after=3",
        "200",
        "200"
      ])
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => [c.call, c.requestId, c.source]), [
        [1, "req_sim_000001", "script"],
        [2, "req_sim_000002", "script"],
        [3, "req_sim_000003", "script"],
        [4, "req_sim_000004", "model"],
        [5, "req_sim_000005", "model"]
      ])
    }).pipe(Effect.provide(Simulator.layer({
      script: Script.make([Fault.overloaded({ times: 2 }), Fault.rateLimited({ retryAfter: "3 seconds" })])
    }))))

  it.effect("filters: a fault for one model or endpoint leaves the others alone; ok() passes calls through", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const haiku = () =>
        Effect.promise(() =>
          client.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
            .then(() => "200", (e) => `${e.status}`)
        )
      const count = Effect.promise(() =>
        client.messages.countTokens({ model: "claude-opus-4-6", messages: [{ role: "user", content: "x" }] })
          .then(() => "200", (e) => `${e.status}`)
      )
      const opus = Effect.map(create(client), summary)
      const seen = [yield* opus, yield* haiku(), yield* count, yield* haiku(), yield* opus, yield* opus, yield* count]
      // call 1 (opus) uses the ok() step, so the 500 lands on the next opus call
      assert.deepStrictEqual(seen, ["200", "529", "504", "529", "500 api_error", "200", "200"])
    }).pipe(Effect.provide(Simulator.layer({
      script: [
        Fault.overloaded({ model: "claude-haiku-4-5", times: "forever" }),
        Fault.status(504, { endpoint: "count_tokens" }),
        Fault.ok({ endpoint: "messages", model: "claude-opus-4-6" }),
        Fault.status(500, { endpoint: "messages" })
      ]
    }))))

  it.effect("setScript replaces the script; stream faults skip non-streaming calls", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      assert.strictEqual(summary(yield* create(client)), "529 overloaded_error")
      yield* Simulator.setScript([Fault.streamError({ afterDeltas: 1 }), Fault.status(500)])
      assert.strictEqual(summary(yield* create(client)), "500 api_error", "the stream fault does not match")
      assert.strictEqual(summary(yield* create(client)), "200")
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => c.errorType), [Option.some("overloaded_error"), Option.some("api_error"), Option.none()])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.overloaded({ times: "forever" })] }))))

  it.effect("maxCalls keeps only the last records; numbering goes on", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      for (let i = 0; i < 7; i++) yield* create(client)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => c.call), [5, 6, 7])
    }).pipe(Effect.provide(Simulator.layer({ maxCalls: 3 }))))

  it("JSON form: durations as strings or milliseconds, a bare array or { steps }", () => {
    const json = `{"steps":[
      {"_tag":"Status","status":529,"times":2},
      {"_tag":"Status","status":429,"retryAfter":3},
      {"_tag":"Ok","latency":"2 seconds"},
      {"_tag":"StreamError","afterDeltas":2,"errorType":"overloaded_error"},
      {"_tag":"StreamStall","afterDeltas":"before_message_start","pingEvery":5000},
      {"_tag":"Raw","status":418,"body":"teapot"},
      {"_tag":"Reset","model":"claude-haiku-4-5","times":"forever"}
    ]}`
    const expected = Script.make([
      Fault.status(529, { times: 2 }),
      Fault.rateLimited({ retryAfter: "3 seconds" }),
      Fault.ok({ latency: "2 seconds" }),
      Fault.streamError({ afterDeltas: 2, type: "overloaded_error" }),
      Fault.streamStall({ afterDeltas: "before_message_start", pingEvery: "5 seconds" }),
      Fault.raw(418, "teapot"),
      Fault.reset({ model: "claude-haiku-4-5", times: "forever" })
    ])
    assert.deepStrictEqual(Script.fromJson(json), Either.right(expected))
    assert.deepStrictEqual(Script.fromJson(Script.toJson(expected)), Either.right(expected))
    const bare = Script.fromJson(`[{"_tag":"Reset"}]`)
    assert.deepStrictEqual(bare, Either.right(Script.make([Fault.reset()])))
    assert.isTrue(Either.isLeft(Script.fromJson(`[{"_tag":"Ok","latency":"soon"}]`)))
    assert.isTrue(Either.isLeft(Script.fromJson(`[{"_tag":"Status"}]`)))
    assert.isTrue(Either.isLeft(Script.fromJson(`[{"_tag":"Status","status":529,"times":0}]`)))
    assert.isTrue(Either.isLeft(Script.fromJson(`{`)))
  })
})
