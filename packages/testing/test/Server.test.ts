import type Anthropic from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Server from "../src/Server.js"
import * as Simulator from "../src/Simulator.js"
import { create, MODEL, params, sdkInProcess, sdkOverHttp, type Seen, seeError, settle, stream } from "./utils.js"

const script = [
  Fault.overloaded({ times: 2 }),
  Fault.rateLimited({ retryAfter: "3 seconds" }),
  Fault.ok({ latency: "2 seconds" }),
  Fault.streamError({ afterDeltas: 2 }),
  Fault.reset(),
  Fault.raw(418, "I'm a teapot"),
  Fault.streamDrop({ afterDeltas: 1 })
]

/** The same calls, in order, against whatever transport `client` uses. */
const scenario = (client: Anthropic) =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    for (let i = 0; i < 3; i++) seen.push(yield* create(client))
    const slow = yield* Effect.fork(create(client))
    yield* Simulator.awaitCalls(4)
    yield* TestClock.adjust("2 seconds")
    seen.push(yield* Fiber.join(slow))
    seen.push(yield* stream(client))
    seen.push(yield* create(client))
    seen.push(yield* create(client))
    seen.push(yield* stream(client))
    seen.push(yield* stream(client))
    seen.push(
      yield* Effect.promise(() =>
        client.messages.countTokens({ model: MODEL, messages: [{ role: "user", content: "hello" }] }).withResponse().then(
          ({ data, request_id }): Seen => ({ kind: "message", id: "count", text: String(data.input_tokens), requestId: request_id ?? null }),
          (e) => seeError(e)
        )
      )
    )
    seen.push(
      yield* Effect.promise(() =>
        client.models.retrieve("nope").then(
          (m): Seen => ({ kind: "message", id: m.id, text: "", requestId: null }),
          (e) => seeError(e)
        )
      )
    )
    return { seen, calls: yield* Simulator.calls }
  })

describe("Server", () => {
  it.scoped("the same scenario gives the same outcomes in process and over 127.0.0.1", () =>
    Effect.gen(function*() {
      const inProcess = yield* Effect.flatMap(InProcess.fetch, (fetch) => scenario(sdkInProcess(fetch))).pipe(
        Effect.provide(Simulator.layer({ script }))
      )
      // a fresh simulator behind a fresh server, same script, same clock start
      yield* TestClock.setTime(0)
      const overHttp = yield* Effect.gen(function*() {
        const { url } = yield* Server.start()
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
        return yield* scenario(sdkOverHttp(url))
      }).pipe(Effect.provide(Simulator.layer({ script })))

      assert.deepStrictEqual(inProcess.seen.map((s) => s.kind), [
        "api_error",
        "api_error",
        "api_error",
        "message",
        "api_error",
        "connection_error",
        "api_error",
        "other",
        "stream",
        "message",
        "api_error"
      ])
      assert.deepStrictEqual(overHttp.seen, inProcess.seen)
      assert.deepStrictEqual(overHttp.calls, inProcess.calls)
    }))

  it.scoped("a client that disconnects mid-stream marks the call aborted", () =>
    Effect.gen(function*() {
      const { url } = yield* Server.start()
      const client = sdkOverHttp(url)
      const controller = new AbortController()
      const fiber = yield* Effect.fork(stream(client, "hello", controller.signal))
      yield* Simulator.awaitCalls(1)
      yield* settle(20)
      controller.abort()
      const seen = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.kind === "stream" && seen.events, ["message_start", "content_block_start", "delta:Simulated "])
      for (let i = 0; i < 100; i++) {
        if ((yield* Simulator.calls)[0]?.aborted) break
        yield* settle(10)
      }
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted], ["stalled", true])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamStall({ afterDeltas: 1 })] }))))

  it.scoped("a client that disconnects while waiting for headers marks the call aborted", () =>
    Effect.gen(function*() {
      const { url } = yield* Server.start()
      const client = sdkOverHttp(url)
      const fiber = yield* Effect.fork(Effect.tryPromise((signal) => client.messages.create(params(), { signal })))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      for (let i = 0; i < 100; i++) {
        if ((yield* Simulator.calls)[0]?.aborted) break
        yield* settle(10)
      }
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.outcome, record?.aborted, record?.endedAt], ["pending", true, Option.some(1000)])
    }).pipe(Effect.provide(Simulator.layer({ latency: "10 seconds" }))))

  it.effect("Server.layer: a simulator and a server on a free port", () =>
    Effect.gen(function*() {
      const address = yield* Server.Server
      assert.isAbove(address.port, 0)
      assert.strictEqual(address.url, `http://127.0.0.1:${address.port}`)
      const response = yield* Effect.promise(() => fetch(`${address.url}/v1/models?limit=1`, { headers: { "x-api-key": "k" } }))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("request-id"), "req_sim_000001")
      const unknown = yield* Effect.promise(() => fetch(`${address.url}/v2/x`, { headers: { "x-api-key": "k" } }))
      assert.strictEqual(unknown.status, 404)
    }).pipe(Effect.provide(Server.layer({ simulator: { models: ["a", "b"] } }))))
})
