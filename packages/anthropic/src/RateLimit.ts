/**
 * The `anthropic-ratelimit-*` response headers, parsed into data.
 *
 * The API reports four buckets on every response (success or error): requests, tokens
 * (input + output), input tokens and output tokens, each with a limit, what remains and
 * when the bucket is fully replenished. The SDK reads none of them; pacing policies do.
 *
 * @since 0.1.0
 */
import { DateTime, Option, Schema } from "effect"
import type { HeadersLike as HeadersLike_ } from "./internal/headers.js"
import { header } from "./internal/headers.js"

/**
 * What the parsers read from a response: anything with a fetch-style `get`.
 *
 * @since 0.1.0
 * @category Models
 */
export type HeadersLike = HeadersLike_

/**
 * One rate-limit bucket: `anthropic-ratelimit-<bucket>-{limit,remaining,reset}`.
 *
 * `reset` is the instant the bucket is fully replenished (RFC 3339 on the wire).
 *
 * @since 0.1.0
 * @category Models
 */
export class Window extends Schema.Class<Window>("@ballast/anthropic/RateLimit/Window")({
  limit: Schema.OptionFromNullOr(Schema.Number),
  remaining: Schema.OptionFromNullOr(Schema.Number),
  reset: Schema.OptionFromNullOr(Schema.DateTimeUtcFromNumber)
}) {}

/**
 * The four rate-limit buckets of one response. Buckets the server did not report are
 * {@link Window}s whose fields are all `None`.
 *
 * @since 0.1.0
 * @category Models
 */
export class RateLimit extends Schema.Class<RateLimit>("@ballast/anthropic/RateLimit")({
  requests: Window,
  tokens: Window,
  inputTokens: Window,
  outputTokens: Window
}) {}

const emptyWindow = new Window({ limit: Option.none(), remaining: Option.none(), reset: Option.none() })

/**
 * A {@link RateLimit} with nothing reported.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const empty: RateLimit = new RateLimit({
  requests: emptyWindow,
  tokens: emptyWindow,
  inputTokens: emptyWindow,
  outputTokens: emptyWindow
})

/** The parsers below build typed values, so the schema's constructor validation is skipped (it is slow). */
const trusted: Schema.MakeOptions = { disableValidation: true }

const parseCount = (value: Option.Option<string>): Option.Option<number> =>
  Option.flatMap(value, (text) => {
    const trimmed = text.trim()
    if (trimmed === "") return Option.none()
    const n = Number(trimmed)
    return Number.isFinite(n) && n >= 0 ? Option.some(n) : Option.none()
  })

const parseInstant = (value: Option.Option<string>): Option.Option<DateTime.Utc> =>
  Option.flatMap(value, (text) => {
    const millis = Date.parse(text.trim())
    return Number.isNaN(millis) ? Option.none() : Option.some(DateTime.unsafeMake(millis))
  })

const windowFrom = (headers: HeadersLike, bucket: string): Window => {
  const limit = parseCount(header(headers, `anthropic-ratelimit-${bucket}-limit`))
  const remaining = parseCount(header(headers, `anthropic-ratelimit-${bucket}-remaining`))
  const reset = parseInstant(header(headers, `anthropic-ratelimit-${bucket}-reset`))
  return Option.isNone(limit) && Option.isNone(remaining) && Option.isNone(reset)
    ? emptyWindow
    : new Window({ limit, remaining, reset }, trusted)
}

/**
 * Parses the `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
 * headers. Missing or unparseable values are `None`; this never fails.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fromHeaders = (headers: HeadersLike | null | undefined): RateLimit =>
  headers == null
    ? empty
    : new RateLimit({
      requests: windowFrom(headers, "requests"),
      tokens: windowFrom(headers, "tokens"),
      inputTokens: windowFrom(headers, "input-tokens"),
      outputTokens: windowFrom(headers, "output-tokens")
    }, trusted)
