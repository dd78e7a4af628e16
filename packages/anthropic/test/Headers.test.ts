import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import * as RateLimit from "../src/RateLimit.js"
import * as RetryAfter from "../src/RetryAfter.js"

describe("RetryAfter", () => {
  it("parses seconds and HTTP-dates, ignores the rest", () => {
    const now = Date.parse("2026-11-27T10:00:00Z")
    assert.deepStrictEqual(RetryAfter.parse("1.5", now), Option.some(Duration.millis(1500)))
    assert.deepStrictEqual(RetryAfter.parse("Fri, 27 Nov 2026 10:01:00 GMT", now), Option.some(Duration.minutes(1)))
    assert.deepStrictEqual(RetryAfter.parse("", now), Option.none())
    assert.deepStrictEqual(RetryAfter.parse("soon", now), Option.none())
    assert.deepStrictEqual(RetryAfter.parse("NaN", now), Option.none())
    assert.deepStrictEqual(RetryAfter.parse("Infinity", now), Option.none())
    assert.deepStrictEqual(RetryAfter.parse("2abc", now), Option.none())
    assert.deepStrictEqual(RetryAfter.parse(" 3 ", now), Option.some(Duration.seconds(3)))
    // an ISO date is a date, not 2026 seconds
    assert.deepStrictEqual(RetryAfter.parse("2026-11-27T10:00:10Z", now), Option.some(Duration.seconds(10)))
  })

  it("retry-after-ms wins; missing headers give none", () => {
    assert.deepStrictEqual(
      RetryAfter.fromHeaders(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), 0),
      Option.some(Duration.millis(250))
    )
    assert.deepStrictEqual(RetryAfter.fromHeaders(new Headers(), 0), Option.none())
    assert.deepStrictEqual(RetryAfter.fromHeaders(undefined, 0), Option.none())
  })

  it.effect("fromHeadersNow reads now from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-27T10:00:00Z"))
      const hint = yield* RetryAfter.fromHeadersNow(new Headers({ "retry-after": "Fri, 27 Nov 2026 10:00:05 GMT" }))
      assert.deepStrictEqual(hint, Option.some(Duration.seconds(5)))
    }))
})

describe("RateLimit", () => {
  it("parses all four buckets and tolerates garbage", () => {
    const rateLimit = RateLimit.fromHeaders(
      new Headers({
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-requests-remaining": "3999",
        "anthropic-ratelimit-requests-reset": "2026-11-27T10:00:01Z",
        "anthropic-ratelimit-tokens-remaining": "",
        "anthropic-ratelimit-input-tokens-limit": "-1",
        "anthropic-ratelimit-output-tokens-reset": "not a date"
      })
    )
    assert.deepStrictEqual(rateLimit.requests.limit, Option.some(4000))
    assert.deepStrictEqual(rateLimit.requests.remaining, Option.some(3999))
    assert.deepStrictEqual(
      Option.map(rateLimit.requests.reset, (d) => d.epochMillis),
      Option.some(Date.parse("2026-11-27T10:00:01Z"))
    )
    assert.deepStrictEqual(rateLimit.tokens, RateLimit.empty.tokens)
    assert.deepStrictEqual(rateLimit.inputTokens.limit, Option.none())
    assert.deepStrictEqual(rateLimit.outputTokens.reset, Option.none())
    assert.deepStrictEqual(RateLimit.fromHeaders(new Headers()), RateLimit.empty)
  })
})
