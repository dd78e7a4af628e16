import { APIError, APIUserAbortError, InternalServerError, PermissionDeniedError } from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { create, params, sdkInProcess, settle } from "./utils.js"

describe("InProcess", () => {
  it.effect("latency runs on the caller's TestClock: pending at 1999 ms, done at 2000 ms", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const fiber = yield* Effect.fork(create(client))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("1999 millis")
      yield* settle()
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still pending at 1999 ms")
      assert.strictEqual((yield* Simulator.calls)[0]?.outcome, "pending")
      yield* TestClock.adjust("1 millis")
      const seen = yield* Fiber.join(fiber)
      assert.strictEqual(seen.kind, "message")
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.startedAt, record?.endedAt, record?.outcome], [0, Option.some(2000), "ok"])
    }).pipe(Effect.provide(Simulator.layer({ latency: "2 seconds" }))))

  it.effect("a fault's own latency: a 529 after 500 ms", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const fiber = yield* Effect.fork(create(client))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("499 millis")
      yield* settle()
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const seen = yield* Fiber.join(fiber)
      assert.strictEqual(seen.kind === "api_error" && seen.status, 529)
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.overloaded({ latency: "500 millis" })] }))))

  it.effect("AbortController aborts the call: APIUserAbortError, and the log shows aborted", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const controller = new AbortController()
      const fiber = yield* Effect.fork(Effect.promise(() =>
        client.messages.create(params(), { signal: controller.signal }).then(() => "ok", (e) => e)
      ))
      yield* Simulator.awaitCalls(1)
      yield* TestClock.adjust("3 seconds")
      controller.abort()
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, APIUserAbortError)
      const [record] = yield* Simulator.calls
      assert.deepStrictEqual([record?.aborted, record?.outcome, record?.endedAt], [true, "pending", Option.some(3000)])
      assert.strictEqual(yield* Simulator.Simulator.pipe(Effect.flatMap((s) => s.inFlight)), 0, "its capacity is returned")
    }).pipe(Effect.provide(Simulator.layer({ latency: "10 seconds" }))))

  it.effect("interrupting an Effect that passed its AbortSignal aborts the simulated call", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const fiber = yield* Effect.fork(Effect.tryPromise((signal) => client.messages.create(params(), { signal })))
      yield* Simulator.awaitCalls(1)
      yield* Fiber.interrupt(fiber)
      yield* settle()
      const [record] = yield* Simulator.calls
      assert.isTrue(record?.aborted)
    }).pipe(Effect.provide(Simulator.layer({ latency: "10 seconds" }))))

  it.effect("a reset rejects fetch like undici: the SDK throws APIConnectionError", () =>
    Effect.gen(function*() {
      const fetch = yield* InProcess.fetch
      const error = yield* Effect.flip(Effect.tryPromise({ try: () => fetch("http://x/v1/models"), catch: (e) => e as TypeError }))
      assert.strictEqual(error.message, "fetch failed")
      assert.strictEqual((error.cause as { code: string }).code, "ECONNRESET")
      const seen = yield* create(sdkInProcess(fetch))
      assert.deepStrictEqual(seen, { kind: "connection_error", class: "APIConnectionError", events: [] })
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => [c.outcome, c.status]), [["reset", Option.none()], ["reset", Option.none()]])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.reset({ times: 2 })] }))))

  it.effect("raw responses: unknown statuses and bodies that are not JSON", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const teapot = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create(params()), catch: (e) => e as APIError }))
      assert.strictEqual(teapot.constructor.name, "APIError")
      assert.strictEqual(teapot.status, 418)
      assert.strictEqual(teapot.message, "418 I'm a teapot")
      const malformed = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create(params()), catch: (e) => e as APIError }))
      assert.instanceOf(malformed, InternalServerError)
      assert.strictEqual(malformed.status, 599)
      assert.strictEqual(malformed.message, "599 {\"type\":\"error\",\"error\":")
      assert.strictEqual(malformed.requestID, "req_sim_000002")
      const html = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create(params()), catch: (e) => e as APIError }))
      assert.instanceOf(html, PermissionDeniedError)
      assert.strictEqual(html.headers?.get("content-type"), "text/html")
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => c.outcome), ["raw", "raw", "raw"])
    }).pipe(Effect.provide(Simulator.layer({
      script: [
        Fault.raw(418, "I'm a teapot"),
        Fault.raw(599, "{\"type\":\"error\",\"error\":", { headers: { "Content-Type": "application/json" } }),
        Fault.raw(403, "<html>Forbidden</html>", { headers: { "content-type": "text/html" } })
      ]
    }))))

  it.effect("native responses, Request objects and URL inputs", () =>
    Effect.gen(function*() {
      const fetch = yield* InProcess.makeFetch({ responses: "native" })
      const request = new Request("https://api.anthropic.com/v1/messages/count_tokens", {
        method: "POST",
        headers: { "x-api-key": "k" },
        body: JSON.stringify({ model: "claude-opus-4-6", messages: [{ role: "user", content: "12345678" }] })
      })
      const response = yield* Effect.promise(() => fetch(request))
      assert.isTrue(Object.getPrototypeOf(response) === Response.prototype)
      assert.deepStrictEqual(yield* Effect.promise(() => response.json()), { input_tokens: 2 })
      const models = yield* Effect.promise(() => fetch(new URL("https://api.anthropic.com/v1/models?limit=1"), { headers: { "x-api-key": "k" } }))
      const page = (yield* Effect.promise(() => models.json())) as { data: Array<{ id: string }>; has_more: boolean }
      assert.deepStrictEqual([page.data.length, page.has_more], [1, true])
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("light responses read like Response: instanceof, clone, single use", () =>
    Effect.gen(function*() {
      const fetch = yield* InProcess.fetch
      const response = yield* Effect.promise(() => fetch("http://x/v1/models/claude-opus-4-6", { headers: { "x-api-key": "k" } }))
      assert.instanceOf(response, Response)
      assert.isTrue(response.ok)
      const copy = response.clone()
      const text = yield* Effect.promise(() => response.text())
      assert.isTrue(response.bodyUsed)
      const again = yield* Effect.flip(Effect.tryPromise(() => response.text()))
      assert.instanceOf(again.error, TypeError)
      assert.deepStrictEqual(JSON.parse(text), yield* Effect.promise(() => copy.json()))
    }).pipe(Effect.provide(Simulator.layer())))
})
