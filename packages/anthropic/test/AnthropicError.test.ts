import { APIError } from "@anthropic-ai/sdk"
import { Classification } from "@ballast/core"
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Equal, Option, Schema, TestClock } from "effect"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as AnthropicError from "../src/AnthropicError.js"
import * as RateLimit from "../src/RateLimit.js"
import { errorBody, layer, params, respond, stub } from "./stubs.js"

/** Runs `messages.create` against a stub that answers with this response; returns the error. */
const failWith = (response: () => Response | Promise<Response>) => {
  const s = stub(() => response())
  return Effect.gen(function*() {
    const client = yield* AnthropicClient.AnthropicClient
    const error = yield* Effect.flip(client.messages.create(params)).pipe(
      Effect.filterOrDieMessage(AnthropicError.isAnthropicError, "expected an API error")
    )
    return { error, calls: s.calls.length }
  }).pipe(Effect.provide(layer(s.fetch)))
}

const catalogue: ReadonlyArray<{
  readonly status: number
  readonly type: string
  readonly tag: AnthropicError.AnthropicError["_tag"]
  readonly kind: Classification.Kind
  readonly retryable: boolean
  readonly headers?: Record<string, string>
}> = [
  { status: 400, type: "invalid_request_error", tag: "InvalidRequest", kind: "Permanent", retryable: false },
  { status: 401, type: "authentication_error", tag: "AuthenticationFailed", kind: "Permanent", retryable: false },
  { status: 402, type: "billing_error", tag: "BillingError", kind: "Permanent", retryable: false },
  { status: 403, type: "permission_error", tag: "PermissionDenied", kind: "Permanent", retryable: false },
  { status: 404, type: "not_found_error", tag: "NotFound", kind: "Permanent", retryable: false },
  { status: 408, type: "timeout_error", tag: "RequestTimeout", kind: "Transient", retryable: true },
  { status: 409, type: "conflict_error", tag: "Conflict", kind: "Transient", retryable: true },
  { status: 413, type: "request_too_large", tag: "RequestTooLarge", kind: "Permanent", retryable: false },
  {
    status: 429,
    type: "rate_limit_error",
    tag: "RateLimited",
    kind: "RateLimited",
    retryable: true,
    headers: { "retry-after": "17", "x-should-retry": "true" }
  },
  { status: 500, type: "api_error", tag: "ApiError", kind: "Transient", retryable: true },
  { status: 503, type: "api_error", tag: "ServiceUnavailable", kind: "Overloaded", retryable: true },
  { status: 504, type: "timeout_error", tag: "GatewayTimeout", kind: "Transient", retryable: true },
  {
    status: 529,
    type: "overloaded_error",
    tag: "Overloaded",
    kind: "Overloaded",
    retryable: true,
    headers: { "x-should-retry": "true" }
  }
]

describe("AnthropicError", () => {
  describe("HTTP statuses", () => {
    for (const entry of catalogue) {
      it.effect(`${entry.status} ${entry.type} -> ${entry.tag}`, () =>
        Effect.gen(function*() {
          const requestId = `req_${entry.status}`
          const { error } = yield* failWith(() =>
            respond(entry.status, errorBody(entry.type, `message for ${entry.status}`, "req_body_only"), {
              "request-id": requestId,
              ...entry.headers
            })
          )
          assert.strictEqual(error.name, entry.tag)
          assert.isTrue(AnthropicError.isAnthropicError(error))
          assert.deepStrictEqual(error.status, Option.some(entry.status))
          assert.strictEqual(error.errorType, entry.type)
          assert.strictEqual(error.message, `message for ${entry.status}`)
          assert.deepStrictEqual(error.requestId, Option.some(requestId))
          assert.isFalse(error.inStream)
          assert.isFalse(error.contentEmitted)
          assert.deepStrictEqual(error.raw, Option.none())
          const classification = Classification.classify(error)
          assert.strictEqual(classification.kind, entry.kind)
          assert.strictEqual(classification.retryable, entry.retryable)
          assert.deepStrictEqual(classification.retryAfter, error.retryAfter)
        }))
    }

    it.effect("429 carries retry-after, x-should-retry and the rate-limit headers", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(429, errorBody("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), {
            "request-id": "req_429",
            "retry-after": "17",
            "x-should-retry": "true",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": "2026-11-27T10:00:17Z",
            "anthropic-ratelimit-tokens-limit": "100000",
            "anthropic-ratelimit-tokens-remaining": "12000",
            "anthropic-ratelimit-input-tokens-limit": "80000",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": "2026-11-27T10:00:30Z",
            "anthropic-ratelimit-output-tokens-limit": "20000",
            "anthropic-ratelimit-output-tokens-remaining": "not-a-number"
          })
        )
        assert.instanceOf(error, AnthropicError.RateLimited)
        assert.deepStrictEqual(error.retryAfter, Option.some(Duration.seconds(17)))
        assert.deepStrictEqual(error.shouldRetry, Option.some(true))
        assert.isTrue(Classification.isRateLimited(error))
        assert.deepStrictEqual(Classification.retryAfter(error), Option.some(Duration.seconds(17)))
        const { inputTokens, outputTokens, requests, tokens } = error.rateLimit
        assert.deepStrictEqual(requests.limit, Option.some(50))
        assert.deepStrictEqual(requests.remaining, Option.some(0))
        assert.deepStrictEqual(
          Option.map(requests.reset, (d) => d.epochMillis),
          Option.some(Date.parse("2026-11-27T10:00:17Z"))
        )
        assert.deepStrictEqual(tokens.limit, Option.some(100000))
        assert.deepStrictEqual(tokens.remaining, Option.some(12000))
        assert.deepStrictEqual(tokens.reset, Option.none())
        assert.deepStrictEqual(inputTokens.remaining, Option.some(0))
        assert.deepStrictEqual(
          Option.map(inputTokens.reset, (d) => d.epochMillis),
          Option.some(Date.parse("2026-11-27T10:00:30Z"))
        )
        assert.deepStrictEqual(outputTokens.limit, Option.some(20000))
        assert.deepStrictEqual(outputTokens.remaining, Option.none())
      }))

    it.effect("the body's request_id is used when the header is missing", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() => respond(400, errorBody("invalid_request_error", "bad", "req_from_body")))
        assert.deepStrictEqual(error.requestId, Option.some("req_from_body"))
      }))

    it.effect("529 is one request (maxRetries: 0)", () =>
      Effect.gen(function*() {
        const { calls, error } = yield* failWith(() =>
          respond(529, errorBody("overloaded_error", "Overloaded"), { "x-should-retry": "true" })
        )
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.strictEqual(calls, 1)
        assert.isTrue(Classification.isOverloaded(error))
      }))

    it.effect("429 and 500 are one request each", () =>
      Effect.gen(function*() {
        const rateLimited = yield* failWith(() =>
          respond(429, errorBody("rate_limit_error", "slow down"), { "retry-after": "1" })
        )
        const apiError = yield* failWith(() => respond(500, errorBody("api_error", "boom")))
        assert.strictEqual(rateLimited.calls, 1)
        assert.strictEqual(apiError.calls, 1)
      }))
  })

  describe("x-should-retry overrides the status", () => {
    it.effect("529 with x-should-retry: false is not retryable", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(529, errorBody("overloaded_error", "Overloaded"), { "x-should-retry": "false" })
        )
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.deepStrictEqual(error.shouldRetry, Option.some(false))
        assert.isFalse(Classification.isRetryable(error))
        assert.isTrue(Classification.isOverloaded(error))
      }))

    it.effect("400 with x-should-retry: true is retryable", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(400, errorBody("invalid_request_error", "try again"), { "x-should-retry": "true" })
        )
        assert.instanceOf(error, AnthropicError.InvalidRequest)
        assert.isTrue(Classification.isRetryable(error))
        assert.strictEqual(Classification.classify(error).kind, "Permanent")
      }))

    it.effect("an unrecognised x-should-retry value is ignored", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(400, errorBody("invalid_request_error", "bad"), { "x-should-retry": "maybe" })
        )
        assert.deepStrictEqual(error.shouldRetry, Option.none())
        assert.isFalse(Classification.isRetryable(error))
      }))
  })

  describe("retry-after", () => {
    const retryAfterOf = (headers: Record<string, string>) =>
      Effect.map(
        failWith(() => respond(429, errorBody("rate_limit_error", "slow down"), headers)),
        ({ error }) => error.retryAfter
      )

    it.effect("retry-after-ms takes precedence over retry-after", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* retryAfterOf({ "retry-after-ms": "1500.5", "retry-after": "30" }),
          Option.some(Duration.millis(1500.5))
        )
      }))

    it.effect("retry-after in (float) seconds", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "2" }), Option.some(Duration.seconds(2)))
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "0.25" }), Option.some(Duration.millis(250)))
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "3600" }), Option.some(Duration.hours(1)))
      }))

    it.effect("retry-after as an HTTP-date, relative to the Clock", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.parse("Fri, 27 Nov 2026 10:00:00 GMT"))
        assert.deepStrictEqual(
          yield* retryAfterOf({ "retry-after": "Fri, 27 Nov 2026 10:00:30 GMT" }),
          Option.some(Duration.seconds(30))
        )
        // a date in the past is no hint
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "Fri, 27 Nov 2026 09:59:00 GMT" }), Option.none())
      }))

    it.effect("invalid, zero and negative values are ignored", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "abc" }), Option.none())
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "0" }), Option.none())
        assert.deepStrictEqual(yield* retryAfterOf({ "retry-after": "-5" }), Option.none())
        assert.deepStrictEqual(yield* retryAfterOf({}), Option.none())
        // an unusable retry-after-ms falls back to retry-after
        assert.deepStrictEqual(
          yield* retryAfterOf({ "retry-after-ms": "soon", "retry-after": "3" }),
          Option.some(Duration.seconds(3))
        )
        assert.deepStrictEqual(
          yield* retryAfterOf({ "retry-after-ms": "0", "retry-after": "3" }),
          Option.some(Duration.seconds(3))
        )
      }))
  })

  describe("odd bodies and statuses", () => {
    it.effect("\"details\": null parses", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(529, errorBody("overloaded_error", "Overloaded", "req_1", null), { "request-id": "req_1" })
        )
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.strictEqual(error.message, "Overloaded")
        assert.deepStrictEqual(error.errorCode, Option.none())
        assert.deepStrictEqual(error.raw, Option.none())
      }))

    it.effect("details.error_code is kept (the SDK's spend-limit subclass is still a 429)", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() =>
          respond(
            429,
            errorBody("rate_limit_error", "Spend limit reached", "req_1", { error_code: "contract_spend_limit_reached" })
          )
        )
        assert.instanceOf(error, AnthropicError.RateLimited)
        assert.deepStrictEqual(error.errorCode, Option.some("contract_spend_limit_reached"))
      }))

    it.effect("a non-JSON body on an unknown status: UnknownApiError with the raw text", () =>
      Effect.gen(function*() {
        const html = "<html><body>502 Bad Gateway</body></html>"
        const { error } = yield* failWith(() =>
          new Response(html, { status: 502, headers: { "content-type": "text/html" } })
        )
        assert.instanceOf(error, AnthropicError.UnknownApiError)
        assert.deepStrictEqual(error.status, Option.some(502))
        assert.strictEqual(error.errorType, "unknown")
        assert.deepStrictEqual(error.raw, Option.some(html))
        assert.include(error.message, "502")
        assert.isTrue(Classification.isRetryable(error))
      }))

    it.effect("a non-JSON body on a known status keeps the status's class", () =>
      Effect.gen(function*() {
        const html = "<html><center>413 Request Entity Too Large</center></html>"
        const { error } = yield* failWith(() => new Response(html, { status: 413 }))
        assert.instanceOf(error, AnthropicError.RequestTooLarge)
        assert.strictEqual(error.errorType, "unknown")
        assert.deepStrictEqual(error.raw, Option.some(html))
      }))

    it.effect("an empty body", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() => new Response(null, { status: 500 }))
        assert.instanceOf(error, AnthropicError.ApiError)
        assert.deepStrictEqual(error.raw, Option.some(""))
        assert.strictEqual(error.message, "HTTP 500 with an empty body")
      }))

    it.effect("malformed JSON error bodies keep the JSON text", () =>
      Effect.gen(function*() {
        const { error } = yield* failWith(() => respond(400, JSON.stringify({ oops: true })))
        assert.instanceOf(error, AnthropicError.InvalidRequest)
        assert.strictEqual(error.errorType, "unknown")
        assert.deepStrictEqual(error.raw, Option.some("{\"oops\":true}"))
        const scalar = yield* failWith(() => respond(400, "\"just a string\""))
        assert.deepStrictEqual(scalar.error.raw, Option.some("just a string"))
        const nullBody = yield* failWith(() => respond(400, "null"))
        assert.deepStrictEqual(nullBody.error.raw, Option.some("null"))
      }))

    it.effect("418 and 599 are UnknownApiError: 4xx permanent, 5xx transient", () =>
      Effect.gen(function*() {
        const teapot = yield* failWith(() => respond(418, errorBody("invalid_request_error", "I'm a teapot")))
        assert.instanceOf(teapot.error, AnthropicError.UnknownApiError)
        assert.deepStrictEqual(teapot.error.status, Option.some(418))
        assert.strictEqual(teapot.error.errorType, "invalid_request_error")
        assert.strictEqual(teapot.error.message, "I'm a teapot")
        assert.isFalse(Classification.isRetryable(teapot.error))
        const weird = yield* failWith(() => new Response("upstream exploded", { status: 599 }))
        assert.instanceOf(weird.error, AnthropicError.UnknownApiError)
        assert.deepStrictEqual(weird.error.raw, Option.some("upstream exploded"))
        assert.isTrue(Classification.isRetryable(weird.error))
      }))

    it.effect("fetch throwing -> ConnectionFailed", () =>
      Effect.gen(function*() {
        const { calls, error } = yield* failWith(() => Promise.reject(new TypeError("fetch failed: ECONNREFUSED")))
        assert.instanceOf(error, AnthropicError.ConnectionFailed)
        assert.deepStrictEqual(error.status, Option.none())
        assert.strictEqual(error.errorType, "connection_error")
        assert.include(error.message, "ECONNREFUSED")
        assert.isTrue(Classification.isRetryable(error))
        assert.strictEqual(Classification.classify(error).kind, "Transient")
        assert.strictEqual(calls, 1)
      }))

    it.effect("the SDK timeout -> Timeout", () =>
      Effect.gen(function*() {
        const s = stub((call) =>
          call.aborted.then(() => Promise.reject(new DOMException("This operation was aborted", "AbortError")))
        )
        const error = yield* Effect.gen(function*() {
          const client = yield* AnthropicClient.AnthropicClient
          return yield* Effect.flip(client.messages.create(params))
        }).pipe(Effect.provide(layer(s.fetch, { timeout: "20 millis" })))
        assert.instanceOf(error, AnthropicError.Timeout)
        assert.isTrue(Classification.isRetryable(error))
        assert.strictEqual(s.calls.length, 1)
        assert.isTrue(s.calls[0]!.isAborted())
      }))

    it.effect("a per-call timeout overrides the client's", () =>
      Effect.gen(function*() {
        const s = stub((call) =>
          call.aborted.then(() => Promise.reject(new DOMException("This operation was aborted", "AbortError")))
        )
        const error = yield* Effect.gen(function*() {
          const client = yield* AnthropicClient.AnthropicClient
          return yield* Effect.flip(client.messages.create(params, { timeout: Duration.millis(10) }))
        }).pipe(Effect.provide(layer(s.fetch)))
        assert.instanceOf(error, AnthropicError.Timeout)
      }))
  })

  describe("fromSdkError", () => {
    it("maps an in-stream APIError by its type", () => {
      const body = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }
      const headers = new Headers({ "request-id": "req_s" })
      const error = AnthropicError.fromSdkError(
        new APIError(undefined, body, undefined, headers, "overloaded_error"),
        { now: 0, contentEmitted: true }
      )
      assert.instanceOf(error, AnthropicError.Overloaded)
      assert.isTrue(error.inStream)
      assert.isTrue(error.contentEmitted)
      assert.deepStrictEqual(error.status, Option.none())
      assert.deepStrictEqual(error.requestId, Option.some("req_s"))
      for (
        const [type, tag] of [
          ["rate_limit_error", "RateLimited"],
          ["api_error", "ApiError"],
          ["timeout_error", "GatewayTimeout"],
          ["invalid_request_error", "InvalidRequest"],
          ["something_new", "UnknownApiError"]
        ] as const
      ) {
        const mapped = AnthropicError.fromSdkError(
          new APIError(undefined, { type: "error", error: { type, message: "m" } }, undefined, headers, type as any),
          { now: 0 }
        )
        assert.strictEqual(mapped.name, tag)
        assert.isFalse(mapped.contentEmitted)
      }
    })

    it("never throws on strange input", () => {
      for (const thrown of [undefined, null, 42, "text", { weird: true }, new Error("x"), new SyntaxError("bad json")]) {
        const error = AnthropicError.fromSdkError(thrown, { now: 0 })
        assert.isTrue(AnthropicError.isAnthropicError(error))
      }
      assert.instanceOf(AnthropicError.fromSdkError(new SyntaxError("bad"), { now: 0 }), AnthropicError.UnknownApiError)
    })

    it("a non-string error type from the body is not taken as the type", () => {
      // The SDK copies `error.type` from the body unchecked.
      const error = AnthropicError.fromSdkError(
        new APIError(undefined, { type: "error", error: { type: 42, message: "m" } }, undefined, new Headers(), undefined),
        { now: 0 }
      )
      assert.instanceOf(error, AnthropicError.UnknownApiError)
      assert.strictEqual(error.errorType, "unknown")
      assert.strictEqual(error.message, "m")
    })

    it("errors are built without constructor validation, yet every field is a valid schema value", () => {
      const validFields = Schema.validateSync(Schema.Struct(AnthropicError.fields))
      const validWindow = Schema.validateSync(Schema.Struct(RateLimit.Window.fields))
      const rateLimited = new Headers({ "retry-after-ms": "1500", "x-should-retry": "false", "request-id": "req_h" })
      for (const bucket of ["requests", "tokens", "input-tokens", "output-tokens"]) {
        rateLimited.set(`anthropic-ratelimit-${bucket}-limit`, "1000")
        rateLimited.set(`anthropic-ratelimit-${bucket}-remaining`, "0")
        rateLimited.set(`anthropic-ratelimit-${bucket}-reset`, "2025-01-01T00:00:10Z")
      }
      const body = (type: string) => ({ type: "error", error: { type, message: "m", details: { error_code: "c" } } })
      const inputs: ReadonlyArray<unknown> = [
        ...catalogue.map((e) => new APIError(e.status, body(e.type), undefined, rateLimited)),
        new APIError(418, "teapot", "418 teapot", new Headers({ "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" })),
        new APIError(undefined, body("overloaded_error"), undefined, new Headers(), "overloaded_error"),
        new SyntaxError("bad json"),
        new TypeError("fetch failed"),
        undefined
      ]
      for (const input of inputs) {
        const error = AnthropicError.fromSdkError(input, { now: 0, redact: (s) => s.replace("m", "*") })
        validFields(error)
        const { inputTokens, outputTokens, requests, tokens } = error.rateLimit
        for (const w of [requests, tokens, inputTokens, outputTokens]) validWindow(w)
        // A validating construction from the same fields gives an equal value.
        const Ctor = AnthropicError.classForStatus(Option.getOrElse(error.status, () => 0))
        const same = Object.fromEntries(Object.keys(AnthropicError.fields).map((k) => [k, error[k as keyof typeof error]]))
        if (Option.isSome(error.status)) assert.isTrue(Equal.equals(new Ctor(same as AnthropicError.Fields), error))
      }
      const rl = RateLimit.fromHeaders(rateLimited)
      assert.deepStrictEqual(rl.requests.remaining, Option.some(0))
      assert.isTrue(Equal.equals(new RateLimit.RateLimit({ ...rl }), rl))
    })

    it("returns an AnthropicError unchanged", () => {
      const error = AnthropicError.fromSdkError(new TypeError("reset"), { now: 0 })
      expect(AnthropicError.fromSdkError(error, { now: 0 })).toBe(error)
    })

    it("errors encode to JSON and decode back", () => {
      const error = AnthropicError.fromSdkError(
        new APIError(
          429,
          { type: "error", error: { type: "rate_limit_error", message: "slow" } },
          undefined,
          new Headers({ "retry-after": "5", "anthropic-ratelimit-requests-remaining": "0" })
        ),
        { now: 0 }
      )
      const encoded = JSON.parse(JSON.stringify(Schema.encodeSync(AnthropicError.AnthropicError)(error)))
      assert.strictEqual(encoded["_tag"], "RateLimited")
      assert.strictEqual(encoded.retryAfter, 5000)
      assert.strictEqual(encoded.status, 429)
      assert.strictEqual(encoded.rateLimit.requests.remaining, 0)
      const decoded = Schema.decodeUnknownSync(AnthropicError.AnthropicError)(encoded)
      assert.instanceOf(decoded, AnthropicError.RateLimited)
      assert.deepStrictEqual(decoded.retryAfter, Option.some(Duration.seconds(5)))
      assert.deepStrictEqual(Classification.retryAfter(decoded), Option.some(Duration.seconds(5)))
      assert.deepStrictEqual(RateLimit.fromHeaders(undefined), RateLimit.empty)
    })
  })
})
