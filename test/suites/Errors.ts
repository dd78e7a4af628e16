/**
 * Every error the simulator can send, read by the real SDK through `AnthropicClient`, becomes the
 * right tagged error: class, status, `errorType`, the request id of the simulator's call log,
 * Retry-After, `x-should-retry` and its classification.
 */
import { AnthropicError } from "@ballast/anthropic"
import { Classification } from "@ballast/core"
import { Catalogue, Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { consume, inProcessClient, params } from "../utils.js"

/** What each catalogue status must become; written out here, independent of the packages' tables. */
const expected: Record<number, { readonly tag: string; readonly kind: Classification.Kind; readonly retryable: boolean }> = {
  400: { tag: "InvalidRequest", kind: "Permanent", retryable: false },
  401: { tag: "AuthenticationFailed", kind: "Permanent", retryable: false },
  402: { tag: "BillingError", kind: "Permanent", retryable: false },
  403: { tag: "PermissionDenied", kind: "Permanent", retryable: false },
  404: { tag: "NotFound", kind: "Permanent", retryable: false },
  408: { tag: "RequestTimeout", kind: "Transient", retryable: true },
  409: { tag: "Conflict", kind: "Transient", retryable: true },
  413: { tag: "RequestTooLarge", kind: "Permanent", retryable: false },
  429: { tag: "RateLimited", kind: "RateLimited", retryable: true },
  500: { tag: "ApiError", kind: "Transient", retryable: true },
  503: { tag: "ServiceUnavailable", kind: "Overloaded", retryable: true },
  504: { tag: "GatewayTimeout", kind: "Transient", retryable: true },
  529: { tag: "Overloaded", kind: "Overloaded", retryable: true }
}

const millis = (option: Option.Option<Duration.Duration>): number | null =>
  Option.getOrNull(Option.map(option, Duration.toMillis))

/** The calls of one test: each `messages.create` fails; returns its error and the call log entry. */
const failedCall = Effect.gen(function*() {
  const client = yield* inProcessClient
  const error = yield* Effect.flip(client.messages.create(params()))
  const calls = yield* Simulator.calls
  return { error, record: calls[calls.length - 1]! }
})

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("the catalogue through the real SDK", () => {
    it("the expectations cover exactly the catalogue's statuses", () => {
      assert.deepStrictEqual(
        Catalogue.entries.map((e) => e.status),
        Object.keys(expected).map(Number)
      )
    })

    for (const entry of Catalogue.entries) {
      const want = expected[entry.status]!
      it.effect(`${entry.status} ${entry.type} → ${want.tag}`, () =>
        Effect.gen(function*() {
          const variants = [
            // the catalogue's own headers (a 429 carries retry-after: 1)
            { retryAfter: Option.getOrNull(Option.map(entry.retryAfter, (s) => s * 1000)) },
            // retry-after in (fractional) seconds
            { retryAfter: 2500 },
            // retry-after-ms wins over retry-after
            { retryAfter: 750 }
          ]
          for (const [i, variant] of variants.entries()) {
            const { error, record } = yield* failedCall
            assert.strictEqual(error._tag, want.tag, `variant ${i}`)
            assert.instanceOf(error, AnthropicError.classForStatus(entry.status))
            assert.isTrue(AnthropicError.isAnthropicError(error))
            assert.deepStrictEqual(error.status, Option.some(entry.status))
            assert.strictEqual(error.errorType, entry.type)
            assert.strictEqual(error.message, entry.message)
            assert.strictEqual(record.requestId, `req_sim_00000${i + 1}`)
            assert.deepStrictEqual(error.requestId, Option.some(record.requestId))
            assert.deepStrictEqual(
              [record.status, record.errorType, record.outcome, record.source],
              [Option.some(entry.status), Option.some(entry.type), "error", "script"]
            )
            assert.strictEqual(millis(error.retryAfter), variant.retryAfter, `retryAfter of variant ${i}`)
            assert.deepStrictEqual(error.shouldRetry, entry.shouldRetry ? Option.some(true) : Option.none())
            assert.deepStrictEqual([error.inStream, error.contentEmitted], [false, false])
            assert.deepStrictEqual(error.raw, Option.none())
            const classification = Classification.classify(error)
            assert.deepStrictEqual(
              [classification.kind, classification.retryable, millis(classification.retryAfter)],
              [want.kind, want.retryable, variant.retryAfter]
            )
          }
        }).pipe(Effect.provide(Simulator.layer({
          script: [
            Fault.status(entry.status),
            Fault.status(entry.status, { retryAfter: "2.5 seconds" }),
            Fault.status(entry.status, { retryAfter: "9 seconds", retryAfterMs: "750 millis" })
          ]
        }))))
    }

    it.effect("x-should-retry: false makes a 529 not retryable; x-should-retry: true makes a 400 retryable", () =>
      Effect.gen(function*() {
        const overloaded = (yield* failedCall).error
        assert.strictEqual(overloaded._tag, "Overloaded")
        assert.deepStrictEqual(overloaded.shouldRetry, Option.some(false))
        assert.deepStrictEqual(
          [Classification.classify(overloaded).kind, Classification.isRetryable(overloaded)],
          ["Overloaded", false]
        )
        const invalid = (yield* failedCall).error
        assert.strictEqual(invalid._tag, "InvalidRequest")
        assert.isTrue(Classification.isRetryable(invalid))
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.overloaded({ shouldRetry: false }), Fault.status(400, { shouldRetry: true })]
      }))))

    it.effect("statuses outside the catalogue, a body that is not JSON, a connection reset", () =>
      Effect.gen(function*() {
        const teapot = yield* failedCall
        assert.strictEqual(teapot.error._tag, "UnknownApiError")
        assert.deepStrictEqual(teapot.error.status, Option.some(418))
        assert.strictEqual(teapot.error.errorType, "invalid_request_error")
        assert.deepStrictEqual(teapot.error.requestId, Option.some(teapot.record.requestId))
        assert.deepStrictEqual(
          [Classification.classify(teapot.error).kind, Classification.isRetryable(teapot.error)],
          ["Permanent", false]
        )

        const unknown5xx = yield* failedCall
        assert.strictEqual(unknown5xx.error._tag, "UnknownApiError")
        assert.deepStrictEqual(unknown5xx.error.status, Option.some(599))
        assert.strictEqual(unknown5xx.error.errorType, "api_error")
        assert.deepStrictEqual(unknown5xx.error.requestId, Option.some("req_sim_000002"))
        assert.deepStrictEqual(unknown5xx.error.shouldRetry, Option.some(true))
        assert.deepStrictEqual(
          [Classification.classify(unknown5xx.error).kind, Classification.isRetryable(unknown5xx.error)],
          ["Transient", true]
        )

        const html = yield* failedCall
        assert.strictEqual(html.record.outcome, "raw")
        assert.strictEqual(html.error._tag, "UnknownApiError")
        assert.deepStrictEqual(html.error.status, Option.some(502))
        assert.strictEqual(html.error.errorType, "unknown")
        assert.deepStrictEqual(html.error.raw, Option.some("<html><body>502 Bad Gateway</body></html>"))
        assert.deepStrictEqual(html.error.requestId, Option.some("req_sim_000003"))
        assert.deepStrictEqual(millis(html.error.retryAfter), 4000)
        assert.deepStrictEqual(
          [Classification.classify(html.error).kind, Classification.isRetryable(html.error)],
          ["Transient", true]
        )

        const truncatedJson = yield* failedCall
        assert.strictEqual(truncatedJson.error._tag, "ServiceUnavailable")
        assert.deepStrictEqual(truncatedJson.error.status, Option.some(503))
        assert.strictEqual(truncatedJson.error.errorType, "unknown")
        assert.isTrue(Option.isSome(truncatedJson.error.raw))
        assert.deepStrictEqual(truncatedJson.error.requestId, Option.some("req_sim_000004"))

        const reset = yield* failedCall
        assert.strictEqual(reset.record.outcome, "reset")
        assert.strictEqual(reset.error._tag, "ConnectionFailed")
        assert.deepStrictEqual(reset.error.status, Option.none())
        assert.strictEqual(reset.error.errorType, "connection_error")
        assert.deepStrictEqual(reset.error.requestId, Option.none(), "no response, so no request id")
        assert.deepStrictEqual([reset.error.inStream, reset.error.contentEmitted], [false, false])
        assert.deepStrictEqual(
          [Classification.classify(reset.error).kind, Classification.isRetryable(reset.error)],
          ["Transient", true]
        )
      }).pipe(Effect.provide(Simulator.layer({
        script: [
          Fault.status(418),
          Fault.status(599),
          Fault.raw(502, "<html><body>502 Bad Gateway</body></html>", {
            headers: { "content-type": "text/html", "retry-after": "4" }
          }),
          Fault.raw(503, "{\"type\":\"error\",\"error\":{", { headers: { "content-type": "application/json" } }),
          Fault.reset()
        ]
      }))))
  })

  describe("errors inside a 200 stream", () => {
    it.effect("overloaded_error after two deltas → Overloaded, inStream, contentEmitted", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const { events, result } = yield* consume(client)
        assert.deepStrictEqual(events, [
          "message_start",
          "content_block_start",
          "delta:Simulated ",
          "delta:reply "
        ])
        const error = yield* Effect.flip(result)
        const [record] = yield* Simulator.calls
        assert.strictEqual(error._tag, "Overloaded")
        assert.deepStrictEqual(error.status, Option.none())
        assert.strictEqual(error.errorType, "overloaded_error")
        assert.strictEqual(error.message, "Overloaded")
        assert.deepStrictEqual(error.requestId, Option.some(record!.requestId))
        assert.deepStrictEqual([error.inStream, error.contentEmitted], [true, true])
        assert.deepStrictEqual(error.retryAfter, Option.none())
        assert.deepStrictEqual(
          [record!.status, record!.outcome, record!.errorType],
          [Option.some(200), "stream_error", Option.some("overloaded_error")]
        )
        const classification = Classification.classify(error)
        assert.deepStrictEqual([classification.kind, classification.retryable], ["Overloaded", true])
      }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamError({ afterDeltas: 2 })] }))))

    it.effect("before message_start and before any content → contentEmitted false", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient

        const beforeStart = yield* consume(client)
        assert.deepStrictEqual(beforeStart.events, [])
        const first = yield* Effect.flip(beforeStart.result)
        assert.strictEqual(first._tag, "Overloaded")
        assert.deepStrictEqual(
          [first.inStream, first.contentEmitted, first.requestId],
          [true, false, Option.some("req_sim_000001")]
        )

        const beforeContent = yield* consume(client)
        assert.deepStrictEqual(beforeContent.events, ["message_start"])
        const second = yield* Effect.flip(beforeContent.result)
        assert.strictEqual(second._tag, "Overloaded")
        assert.deepStrictEqual(
          [second.inStream, second.contentEmitted, second.requestId],
          [true, false, Option.some("req_sim_000002")]
        )
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.overloadedBeforeStart(), Fault.streamError({ afterDeltas: 0 })]
      }))))

    it.effect("other in-stream types map by type: rate_limit_error, api_error; a dropped stream is ConnectionFailed", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const rateLimited = yield* Effect.flip((yield* consume(client)).result)
        assert.deepStrictEqual(
          [rateLimited._tag, rateLimited.errorType, rateLimited.inStream, rateLimited.contentEmitted],
          ["RateLimited", "rate_limit_error", true, false]
        )
        const apiError = yield* Effect.flip((yield* consume(client)).result)
        assert.deepStrictEqual(
          [apiError._tag, apiError.errorType, apiError.inStream, apiError.contentEmitted],
          ["ApiError", "api_error", true, true]
        )
        const dropped = yield* consume(client)
        assert.deepStrictEqual(dropped.events, ["message_start", "content_block_start", "delta:Simulated "])
        const drop = yield* Effect.flip(dropped.result)
        assert.deepStrictEqual(
          [drop._tag, drop.inStream, drop.contentEmitted, drop.requestId],
          ["ConnectionFailed", true, true, Option.some("req_sim_000003")]
        )
        assert.isTrue(Classification.isRetryable(drop))
      }).pipe(Effect.provide(Simulator.layer({
        script: [
          Fault.streamError({ afterDeltas: 0, type: "rate_limit_error" }),
          Fault.streamError({ afterDeltas: 1, type: "api_error" }),
          Fault.streamDrop({ afterDeltas: 1 })
        ]
      }))))

    it.effect("a stream that ends normally has every event and no error", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const { events, result } = yield* consume(client)
        assert.isTrue(result._tag === "Right")
        assert.deepStrictEqual(events, [
          "message_start",
          "content_block_start",
          "delta:Simulated ",
          "delta:reply ",
          "delta:to: ",
          "delta:hello",
          "content_block_stop",
          "message_delta",
          "message_stop"
        ])
      }).pipe(Effect.provide(Simulator.layer())))
  })
}
