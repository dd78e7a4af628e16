/**
 * The server's "wait this long" hint, read the way the SDK reads it.
 *
 * Precedence: `retry-after-ms` (float milliseconds), then `retry-after` as float seconds or
 * as an HTTP-date relative to "now". Values that are not positive, or that do not parse,
 * are ignored. Numbers must be whole decimals (the SDK's `parseFloat` would read
 * `"2026-11-27T10:00:00Z"` as 2026 seconds; here it is a date). Unlike the SDK, no upper bound is applied: a long wait (hours, on usage
 * limits) is kept as data and left to the retry policy.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { HeadersLike } from "./RateLimit.js"
import { header } from "./internal/headers.js"

const positive = (millis: number): Option.Option<Duration.Duration> =>
  Number.isFinite(millis) && millis > 0 ? Option.some(Duration.millis(millis)) : Option.none()

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i

/** A whole decimal number, or NaN (stricter than `parseFloat`, which reads "2026-11-27" as 2026). */
const decimal = (text: string): number => (DECIMAL.test(text.trim()) ? Number(text.trim()) : Number.NaN)

/**
 * Parses a `retry-after` value: float seconds, else an HTTP-date compared with `nowMillis`.
 *
 * @since 0.1.0
 * @category Parsing
 */
export const parse = (value: string, nowMillis: number): Option.Option<Duration.Duration> => {
  const trimmed = value.trim()
  if (trimmed === "") return Option.none()
  const seconds = decimal(trimmed)
  if (!Number.isNaN(seconds)) return positive(seconds * 1000)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : positive(date - nowMillis)
}

/**
 * Reads `retry-after-ms`, then `retry-after`, from response headers. `nowMillis` (epoch
 * milliseconds, from `Clock`) resolves an HTTP-date.
 *
 * @since 0.1.0
 * @category Parsing
 */
export const fromHeaders = (
  headers: HeadersLike | null | undefined,
  nowMillis: number
): Option.Option<Duration.Duration> =>
  header(headers, "retry-after-ms").pipe(
    Option.flatMap((ms) => positive(decimal(ms))),
    Option.orElse(() => Option.flatMap(header(headers, "retry-after"), (value) => parse(value, nowMillis)))
  )

/**
 * {@link fromHeaders} with "now" taken from the `Clock`.
 *
 * @since 0.1.0
 * @category Parsing
 */
export const fromHeadersNow = (
  headers: HeadersLike | null | undefined
): Effect.Effect<Option.Option<Duration.Duration>> =>
  Effect.map(Clock.currentTimeMillis, (now) => fromHeaders(headers, now))
