import Anthropic, { APIError, RateLimitError } from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Catalogue from "../src/Catalogue.js"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { params } from "./utils.js"

const RETRYABLE = [408, 409, 429, 500, 503, 504, 529]

describe("Catalogue", () => {
  it("covers every status the issue lists, each with its documented type", () => {
    assert.deepStrictEqual(
      Catalogue.entries.map((e) => [e.status, e.type]),
      [
        [400, "invalid_request_error"],
        [401, "authentication_error"],
        [402, "billing_error"],
        [403, "permission_error"],
        [404, "not_found_error"],
        [408, "timeout_error"],
        [409, "conflict_error"],
        [413, "request_too_large"],
        [429, "rate_limit_error"],
        [500, "api_error"],
        [503, "api_error"],
        [504, "timeout_error"],
        [529, "overloaded_error"]
      ]
    )
    assert.deepStrictEqual(Catalogue.entries.filter((e) => e.shouldRetry).map((e) => e.status), RETRYABLE)
    assert.deepStrictEqual(Catalogue.byType("overloaded_error").pipe(Option.map((e) => e.status)), Option.some(529))
    assert.deepStrictEqual(
      [418, 422, 502, 501, 599].map((s) => [Catalogue.forStatus(s).type, Catalogue.forStatus(s).sdkClass, Catalogue.forStatus(s).shouldRetry]),
      [
        ["invalid_request_error", "APIError", false],
        ["invalid_request_error", "UnprocessableEntityError", false],
        ["api_error", "InternalServerError", true],
        ["api_error", "NotImplementedError", true],
        ["api_error", "InternalServerError", true]
      ]
    )
  })

  for (const responses of ["light", "native"] as const) {
    it.effect(`every entry reaches the real SDK as its error class (${responses} responses)`, () =>
      Effect.gen(function*() {
        const fetch = yield* InProcess.makeFetch({ responses })
        const client = new Anthropic({ apiKey: "test", fetch, maxRetries: 0 })
        for (const [i, entry] of Catalogue.entries.entries()) {
          const error = yield* Effect.flip(Effect.tryPromise(() => client.messages.create(params())))
          const requestId = `req_sim_${String(i + 1).padStart(6, "0")}`
          assert.instanceOf(error.error, APIError)
          const e = error.error as APIError
          assert.strictEqual(e.constructor.name, entry.sdkClass, `status ${entry.status}`)
          assert.strictEqual(e.status, entry.status)
          assert.strictEqual(e.type, entry.type)
          assert.strictEqual(e.requestID, requestId)
          assert.strictEqual(e.headers?.get("content-type"), "application/json")
          assert.strictEqual(e.headers?.get("x-should-retry"), entry.shouldRetry ? "true" : null)
          assert.strictEqual(e.headers?.get("retry-after"), entry.status === 429 ? "1" : null)
          assert.deepStrictEqual(e.error, {
            type: "error",
            error: { type: entry.type, message: entry.message },
            request_id: requestId
          })
        }
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(
          calls.map((c) => [c.status, c.outcome, c.source]),
          Catalogue.entries.map((e) => [Option.some(e.status), "error", "script"])
        )
      }).pipe(
        Effect.provide(Simulator.layer({ script: Catalogue.entries.map((e) => Fault.status(e.status)) }))
      ))
  }

  it.effect("statuses outside the catalogue get a generic body and the SDK's class", () =>
    Effect.gen(function*() {
      const client = new Anthropic({ apiKey: "test", fetch: yield* InProcess.fetch, maxRetries: 0 })
      for (const status of [418, 422, 502, 501]) {
        const error = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create(params()), catch: (e) => e as APIError }))
        const entry = Catalogue.forStatus(status)
        assert.deepStrictEqual([error.status, error.type, error.constructor.name], [status, entry.type, entry.sdkClass])
      }
    }).pipe(Effect.provide(Simulator.layer({ script: [418, 422, 502, 501].map((s) => Fault.status(s)) }))))

  it.effect("scripted headers: retry-after, retry-after-ms, x-should-retry override, error code, message", () =>
    Effect.gen(function*() {
      const fetch = yield* InProcess.fetch
      const client = new Anthropic({ apiKey: "test", fetch, maxRetries: 0 })
      const call = Effect.flip(Effect.tryPromise({
        try: () => client.messages.create(params()),
        catch: (e) => e as APIError
      }))
      const a = yield* call
      assert.strictEqual(a.headers?.get("retry-after"), "2.5")
      assert.strictEqual(a.headers?.get("retry-after-ms"), "2500")
      assert.strictEqual(a.headers?.get("x-should-retry"), "false")
      assert.strictEqual(a.message, "529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Busy\"},\"request_id\":\"req_sim_000001\"}")
      const b = yield* call
      assert.instanceOf(b, RateLimitError)
      assert.strictEqual(b.headers?.get("retry-after"), null)
      assert.strictEqual(b.headers?.get("x-should-retry"), null)
      assert.strictEqual(b.headers?.get("x-extra"), "1")
      const c = yield* call
      assert.strictEqual(c.constructor.name, "ContractSpendLimitReachedError")
      assert.strictEqual(c.errorCode, "contract_spend_limit_reached")
      const d = yield* call
      assert.strictEqual(d.headers?.get("retry-after"), "7", "a scripted header replaces the default whatever its case")
    }).pipe(Effect.provide(Simulator.layer({
      script: [
        Fault.overloaded({ retryAfter: "2.5 seconds", retryAfterMs: "2500 millis", shouldRetry: false, message: "Busy" }),
        Fault.rateLimited({ retryAfter: null, shouldRetry: null, headers: { "x-extra": "1" } }),
        Fault.rateLimited({ errorCode: "contract_spend_limit_reached" }),
        Fault.rateLimited({ headers: { "Retry-After": "7" } })
      ]
    }))))
})
