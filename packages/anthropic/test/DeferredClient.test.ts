/**
 * `DeferredClient` as data: the batch preset's defaults, combinators, printing and JSON; the marks;
 * how batch failures become the caller's typed errors. (The windows run end to end against the
 * simulator in test/suites/Deferred.ts.)
 */
import { Policy } from "@ballast/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Equal, FiberRef, Option } from "effect"
import * as AnthropicError from "../src/AnthropicError.js"
import * as BatchOutcome from "../src/BatchOutcome.js"
import * as BatchSubmitter from "../src/BatchSubmitter.js"
import * as DeferredClient from "../src/DeferredClient.js"
import * as Presets from "../src/Presets.js"

describe("DeferredClient", () => {
  it("config fills documented defaults; equal options give equal configs", () => {
    const config = DeferredClient.config()
    assert.strictEqual(config.name, "deferred")
    assert.strictEqual(config.defer, "all")
    assert.strictEqual(config.maxSize, 10_000)
    assert.isTrue(Duration.equals(config.maxWait, Duration.seconds(30)))
    assert.isTrue(Option.isNone(config.policy))
    assert.isTrue(Equal.equals(config.submitter, BatchSubmitter.config()))
    assert.isTrue(Equal.equals(DeferredClient.config({ maxWait: "1 minute" }), DeferredClient.config({ maxWait: 60_000 })))
    assert.isFalse(Equal.equals(DeferredClient.config({ maxSize: 5 }), DeferredClient.config()))
  })

  it("Presets.batch: every call deferred, 10,000 calls or 30 s, background policy for the batch calls", () => {
    const batch = Presets.batch
    assert.deepStrictEqual([batch.name, batch.defer, batch.maxSize, Duration.toMillis(batch.maxWait)], [
      "batch",
      "all",
      10_000,
      30_000
    ])
    assert.isTrue(Equal.equals(batch.policy, Option.some(Presets.background.pipe(Policy.named("batch-api")))))
    assert.deepStrictEqual(
      [Duration.toMillis(batch.submitter.pollInitial), batch.submitter.pollFactor, Duration.toMillis(batch.submitter.pollMax)],
      [5_000, 2, 60_000]
    )
  })

  it("combinators change one part and keep the rest", () => {
    const changed = Presets.batch.pipe(
      DeferredClient.withWindow({ maxSize: 500 }),
      DeferredClient.withDefer("marked"),
      DeferredClient.withPolicy(undefined),
      DeferredClient.withSubmitter({ maxAttempts: 1 })
    )
    assert.strictEqual(changed.maxSize, 500)
    assert.isTrue(Duration.equals(changed.maxWait, Presets.batch.maxWait))
    assert.strictEqual(changed.defer, "marked")
    assert.isTrue(Option.isNone(changed.policy))
    assert.strictEqual(changed.submitter.maxAttempts, 1)
    assert.isTrue(Equal.equals(Presets.batch.pipe(DeferredClient.withWindow({})), Presets.batch))
  })

  it("prints the window, the poll schedule, resubmission and the policy of the batch calls", () => {
    const text = String(Presets.batch)
    const lines = text.split("\n")
    assert.deepStrictEqual(lines.slice(0, 6), [
      "Batch preset \"batch\"",
      "  defers          every messages.create (except calls marked immediate)",
      "  window          up to 10000 calls, or 30s after its first call",
      "  poll            after 5s, ×2 each time, at most every 1m",
      "  resubmits       overloaded_error, api_error, expired, up to 3 attempts per request",
      "  batch limits    100000 requests, 256000000 bytes"
    ])
    assert.strictEqual(lines[6], "  batch API calls Policy \"batch-api\"")
    assert.include(text, "10 retries, full jitter from 1s ×2 up to 1m")
    assert.include(String(DeferredClient.config({ defer: "marked" })), "messages.create calls marked deferrable")
    assert.include(String(DeferredClient.config()), "as the client below makes them")
  })

  it("toJSON is plain data", () => {
    const json = JSON.parse(JSON.stringify(Presets.batch)) as Record<string, unknown>
    assert.deepStrictEqual(
      [json["name"], json["defer"], json["maxSize"], json["maxWait"], (json["policy"] as { name: string }).name],
      ["batch", "all", 10_000, "30s", "batch-api"]
    )
    assert.deepStrictEqual((json["submitter"] as Record<string, unknown>)["pollMax"], "1m")
  })

  it.effect("deferrable and immediate set the mark for the calls inside, and only there", () =>
    Effect.gen(function*() {
      const mark = FiberRef.get(DeferredClient.currentMark)
      assert.deepStrictEqual(yield* mark, Option.none())
      assert.deepStrictEqual(yield* DeferredClient.deferrable(mark), Option.some(true))
      assert.deepStrictEqual(yield* DeferredClient.immediate(mark), Option.some(false))
      assert.deepStrictEqual(yield* DeferredClient.deferrable(DeferredClient.immediate(mark)), Option.some(false))
      assert.deepStrictEqual(yield* mark, Option.none())
    }))

  it("custom ids follow the API's pattern", () => {
    assert.strictEqual(DeferredClient.customId(12, 3456), "w12-3456")
    assert.match(DeferredClient.customId(999_999_999, 99_999), /^[a-zA-Z0-9_-]{1,64}$/)
  })

  it("a failed batch entry becomes the error class the same failure has as a direct call", () => {
    const errored = (errorType: string) =>
      DeferredClient.toClientError(
        new BatchOutcome.RequestErrored({ customId: "w1-0", batchId: "b", attempt: 3, errorType, errorMessage: "no" })
      )
    const tags = (error: ReturnType<typeof DeferredClient.toClientError>) =>
      [error._tag, AnthropicError.isAnthropicError(error) ? error.errorType : "-"]
    assert.deepStrictEqual(tags(errored("overloaded_error")), ["Overloaded", "overloaded_error"])
    assert.deepStrictEqual(tags(errored("invalid_request_error")), ["InvalidRequest", "invalid_request_error"])
    assert.deepStrictEqual(tags(errored("something_new")), ["UnknownApiError", "something_new"])
    const overloaded = errored("overloaded_error")
    assert.include(overloaded.message, "no (batch b, w1-0, attempt 3)")
    assert.deepStrictEqual(
      tags(DeferredClient.toClientError(new BatchOutcome.RequestExpired({ customId: "x", batchId: "b", attempt: 3 }))),
      ["Timeout", "batch_expired"]
    )
    assert.deepStrictEqual(
      tags(DeferredClient.toClientError(new BatchOutcome.RequestCanceled({ customId: "x", batchId: "b", attempt: 1 }))),
      ["UnknownApiError", "batch_canceled"]
    )
    const refusal = new AnthropicError.RequestTooLarge({
      status: Option.some(413),
      errorType: "request_too_large",
      errorCode: Option.none(),
      message: "too large",
      requestId: Option.none(),
      retryAfter: Option.none(),
      shouldRetry: Option.none(),
      rateLimit: (overloaded as AnthropicError.Overloaded).rateLimit,
      inStream: false,
      contentEmitted: false,
      raw: Option.none()
    })
    assert.strictEqual(
      DeferredClient.toClientError(new BatchOutcome.RequestRejected({ customId: "x", attempt: 1, error: refusal })),
      refusal
    )
    assert.strictEqual(DeferredClient.toClientError(refusal), refusal, "a client error passes as it is")
    assert.deepStrictEqual(
      tags(DeferredClient.toClientError(
        new BatchSubmitter.BatchSubmitError({ reason: "PollingStopped", batchId: Option.none(), message: "stopped" })
      )),
      ["SdkError", "batch_error"]
    )
    assert.deepStrictEqual(
      tags(DeferredClient.toClientError(
        new BatchSubmitter.BatchInputError({ reason: "RequestTooLarge", customId: "x", message: "x is too large" })
      )),
      ["RequestTooLarge", "request_too_large"]
    )
  })
})
