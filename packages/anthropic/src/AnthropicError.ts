/**
 * Typed errors for every failure the Anthropic API (or the way to it) can produce.
 *
 * One `Schema.TaggedError` per kind of failure. Every class carries the same fields (HTTP
 * status, the API's error `type` and message, request id, Retry-After, `x-should-retry`, the
 * rate-limit headers, whether it arrived inside a 200 stream and whether content had been
 * emitted by then) and implements `Classifiable` from `@ballast/core`, so provider-neutral
 * policies can decide on it.
 *
 * | Class                  | HTTP status | API `error.type`        | Kind        |
 * |------------------------|-------------|-------------------------|-------------|
 * | `Overloaded`           | 529         | `overloaded_error`      | Overloaded  |
 * | `ServiceUnavailable`   | 503         |                         | Overloaded  |
 * | `RateLimited`          | 429         | `rate_limit_error`      | RateLimited |
 * | `ApiError`             | 500         | `api_error`             | Transient   |
 * | `GatewayTimeout`       | 504         | `timeout_error`         | Transient   |
 * | `RequestTimeout`       | 408         |                         | Transient   |
 * | `Conflict`             | 409         | `conflict_error`        | Transient   |
 * | `ConnectionFailed`     | none        | (fetch failed, stream cut) | Transient |
 * | `Timeout`              | none        | (no response headers in time) | Transient |
 * | `InvalidRequest`       | 400         | `invalid_request_error` | Permanent   |
 * | `AuthenticationFailed` | 401         | `authentication_error`  | Permanent   |
 * | `BillingError`         | 402         | `billing_error`         | Permanent   |
 * | `PermissionDenied`     | 403         | `permission_error`      | Permanent   |
 * | `NotFound`             | 404         | `not_found_error`       | Permanent   |
 * | `RequestTooLarge`      | 413         | `request_too_large`     | Permanent   |
 * | `UnknownApiError`      | any other   | any other               | Transient if status >= 500, else Permanent |
 * | `SdkError`             | none        | (the SDK refused locally) | Permanent |
 *
 * The HTTP status decides the class; an in-stream error (no status) is classified by its `type`.
 * `x-should-retry: true | false` overrides `retryable`, as it does in the SDK.
 *
 * @since 0.1.0
 */
import {
  AnthropicError as SdkAnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError
} from "@anthropic-ai/sdk"
import { Classification } from "@ballast/core"
import { Option, Predicate, Schema } from "effect"
import * as RateLimit from "./RateLimit.js"
import * as RetryAfter from "./RetryAfter.js"
import * as Headers from "./internal/headers.js"

/**
 * The fields every Anthropic error carries.
 *
 * - `status`: HTTP status; `None` for in-stream, connection and timeout errors.
 * - `errorType`: the API's `error.type` (`"overloaded_error"`, ...); for failures without an API
 *   body: `"connection_error"`, `"timeout"`, `"stream_truncated"`, `"sdk_error"`, or `"unknown"`
 *   when the body did not parse.
 * - `errorCode`: the API's `error.details.error_code`, when present.
 * - `message`: the API's `error.message`, or a description of the failure.
 * - `requestId`: the `request-id` header (else the body's `request_id`).
 * - `retryAfter`: from `retry-after-ms`, else `retry-after` (seconds or HTTP-date).
 * - `shouldRetry`: the `x-should-retry` header.
 * - `rateLimit`: the `anthropic-ratelimit-*` headers.
 * - `inStream`: the failure arrived after an HTTP 200 stream had started.
 * - `contentEmitted`: a content event (`content_block_start` / `content_block_delta`) had been
 *   emitted before the failure.
 * - `raw`: the body text, when it was not a well-formed API error.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const fields = {
  status: Schema.OptionFromNullOr(Schema.Number),
  errorType: Schema.String,
  errorCode: Schema.OptionFromNullOr(Schema.String),
  message: Schema.String,
  requestId: Schema.OptionFromNullOr(Schema.String),
  retryAfter: Schema.OptionFromNullOr(Schema.DurationFromMillis),
  shouldRetry: Schema.OptionFromNullOr(Schema.Boolean),
  rateLimit: RateLimit.RateLimit,
  inStream: Schema.Boolean,
  contentEmitted: Schema.Boolean,
  raw: Schema.OptionFromNullOr(Schema.String)
}

/**
 * The constructor argument shared by every error class.
 *
 * @since 0.1.0
 * @category Models
 */
export type Fields = Schema.Struct.Type<typeof fields>

const classification = (self: Fields, kind: Classification.Kind): Classification.Classification =>
  Classification.make(kind, {
    retryable: Option.getOrUndefined(self.shouldRetry),
    retryAfter: self.retryAfter
  })

/**
 * HTTP 529 / `overloaded_error`: the API is over capacity across all users.
 *
 * @since 0.1.0
 * @category Errors
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Overloaded")
  }
}

/**
 * HTTP 503: the service is unavailable; treated as overload.
 *
 * @since 0.1.0
 * @category Errors
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Overloaded")
  }
}

/**
 * HTTP 429 / `rate_limit_error`: this organization exceeded a rate limit.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "RateLimited")
  }
}

/**
 * HTTP 500 / `api_error`: an unexpected error inside the API.
 *
 * @since 0.1.0
 * @category Errors
 */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * HTTP 504 / `timeout_error`: the request timed out inside the API.
 *
 * @since 0.1.0
 * @category Errors
 */
export class GatewayTimeout extends Schema.TaggedError<GatewayTimeout>()("GatewayTimeout", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * HTTP 408: the server timed out waiting for the request.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * HTTP 409 / `conflict_error`: a lock timeout or concurrent change.
 *
 * @since 0.1.0
 * @category Errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * No response: `fetch` failed (DNS, refused, reset), or the response body broke off
 * (`inStream` tells which; `errorType` is `"stream_truncated"` when a stream ended
 * without `message_stop`).
 *
 * @since 0.1.0
 * @category Errors
 */
export class ConnectionFailed extends Schema.TaggedError<ConnectionFailed>()("ConnectionFailed", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * No response headers within the per-attempt `timeout`.
 *
 * @since 0.1.0
 * @category Errors
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Transient")
  }
}

/**
 * HTTP 400 / `invalid_request_error`: the request is malformed or not allowed.
 *
 * @since 0.1.0
 * @category Errors
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * HTTP 401 / `authentication_error`: the API key is missing or wrong.
 *
 * @since 0.1.0
 * @category Errors
 */
export class AuthenticationFailed extends Schema.TaggedError<AuthenticationFailed>()("AuthenticationFailed", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * HTTP 402 / `billing_error`: a billing or payment problem.
 *
 * @since 0.1.0
 * @category Errors
 */
export class BillingError extends Schema.TaggedError<BillingError>()("BillingError", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * HTTP 403 / `permission_error`: the key may not use this resource.
 *
 * @since 0.1.0
 * @category Errors
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * HTTP 404 / `not_found_error`: the resource (or model) does not exist.
 *
 * @since 0.1.0
 * @category Errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * HTTP 413 / `request_too_large`: the body exceeds the endpoint's size limit.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestTooLarge extends Schema.TaggedError<RequestTooLarge>()("RequestTooLarge", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * Any other status or in-stream error type, or a response that could not be read
 * (`raw` keeps the text). Transient when the status is 5xx, Permanent otherwise.
 *
 * @since 0.1.0
 * @category Errors
 */
export class UnknownApiError extends Schema.TaggedError<UnknownApiError>()("UnknownApiError", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(
      this,
      Option.match(this.status, { onNone: () => "Permanent", onSome: (s) => (s >= 500 ? "Transient" : "Permanent") })
    )
  }
}

/**
 * The SDK refused the call before or without an HTTP exchange (for example its guard
 * against long non-streaming requests: `max_tokens` too large without a `timeout`).
 *
 * @since 0.1.0
 * @category Errors
 */
export class SdkError extends Schema.TaggedError<SdkError>()("SdkError", fields)
  implements Classification.Classifiable
{
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return classification(this, "Permanent")
  }
}

/**
 * Every error an `AnthropicClient` call can fail with.
 *
 * @since 0.1.0
 * @category Models
 */
export type AnthropicError =
  | Overloaded
  | ServiceUnavailable
  | RateLimited
  | ApiError
  | GatewayTimeout
  | RequestTimeout
  | Conflict
  | ConnectionFailed
  | Timeout
  | InvalidRequest
  | AuthenticationFailed
  | BillingError
  | PermissionDenied
  | NotFound
  | RequestTooLarge
  | UnknownApiError
  | SdkError

/**
 * The schema of {@link AnthropicError}: a union of every class.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const AnthropicError = Schema.Union(
  Overloaded,
  ServiceUnavailable,
  RateLimited,
  ApiError,
  GatewayTimeout,
  RequestTimeout,
  Conflict,
  ConnectionFailed,
  Timeout,
  InvalidRequest,
  AuthenticationFailed,
  BillingError,
  PermissionDenied,
  NotFound,
  RequestTooLarge,
  UnknownApiError,
  SdkError
)

/**
 * @since 0.1.0
 * @category Guards
 */
export const isAnthropicError: (u: unknown) => u is AnthropicError = Schema.is(AnthropicError)

/**
 * The constructor of one error class.
 *
 * @since 0.1.0
 * @category Mapping
 */
export type Constructor = new(fields: Fields, options?: Schema.MakeOptions) => AnthropicError

const byStatus: ReadonlyMap<number, Constructor> = new Map<number, Constructor>([
  [400, InvalidRequest],
  [401, AuthenticationFailed],
  [402, BillingError],
  [403, PermissionDenied],
  [404, NotFound],
  [408, RequestTimeout],
  [409, Conflict],
  [413, RequestTooLarge],
  [429, RateLimited],
  [500, ApiError],
  [503, ServiceUnavailable],
  [504, GatewayTimeout],
  [529, Overloaded]
])

const byType: ReadonlyMap<string, Constructor> = new Map<string, Constructor>([
  ["invalid_request_error", InvalidRequest],
  ["authentication_error", AuthenticationFailed],
  ["billing_error", BillingError],
  ["permission_error", PermissionDenied],
  ["not_found_error", NotFound],
  ["conflict_error", Conflict],
  ["request_too_large", RequestTooLarge],
  ["rate_limit_error", RateLimited],
  ["api_error", ApiError],
  ["timeout_error", GatewayTimeout],
  ["overloaded_error", Overloaded]
])

/**
 * The class for an HTTP status (`UnknownApiError` for statuses outside the catalogue).
 *
 * @since 0.1.0
 * @category Mapping
 */
export const classForStatus = (status: number): Constructor => byStatus.get(status) ?? UnknownApiError

/**
 * The class for an API error `type`, as used for in-stream errors (`UnknownApiError` for
 * unknown types).
 *
 * @since 0.1.0
 * @category Mapping
 */
export const classForType = (type: string): Constructor => byType.get(type) ?? UnknownApiError

/**
 * Options of {@link fromSdkError}.
 *
 * @since 0.1.0
 * @category Mapping
 */
export interface FromSdkErrorOptions {
  /** "Now" in epoch milliseconds (take it from `Clock`); resolves an HTTP-date `retry-after`. */
  readonly now: number
  /** Whether a content event had been emitted before the failure. Default `false`. */
  readonly contentEmitted?: boolean | undefined
  /**
   * Whether the failure happened while reading a 200 stream. Default: `true` for the SDK's
   * status-less `APIError` (an SSE `event: error`), `false` otherwise.
   */
  readonly inStream?: boolean | undefined
  /** Applied to `message` and `raw` before the error is built (the client scrubs its API key). */
  readonly redact?: ((text: string) => string) | undefined
}

interface ParsedBody {
  readonly errorType: Option.Option<string>
  readonly message: Option.Option<string>
  readonly errorCode: Option.Option<string>
  readonly requestId: Option.Option<string>
  readonly raw: Option.Option<string>
}

const stringField = (u: unknown, key: string): Option.Option<string> =>
  Predicate.hasProperty(u, key) && typeof u[key] === "string" ? Option.some(u[key] as string) : Option.none()

const stringify = (u: unknown): string => {
  if (typeof u === "string") return u
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/** Reads `{"type":"error","error":{"type","message","details"?},"request_id"}`; anything else is raw. */
const parseBody = (body: unknown): ParsedBody => {
  const inner = Predicate.isRecord(body) ? body["error"] : undefined
  const errorType = stringField(inner, "type")
  const message = stringField(inner, "message")
  const wellFormed = Option.isSome(errorType) && Option.isSome(message)
  const details = Predicate.isRecord(inner) ? inner["details"] : undefined
  return {
    errorType,
    message,
    errorCode: stringField(details, "error_code"),
    requestId: stringField(body, "request_id"),
    raw: wellFormed || body === undefined ? Option.none() : Option.some(stringify(body))
  }
}

/** The SDK folds a non-JSON body into its message as `"<status> <text>"`; take the text back. */
const rawFromStatusMessage = (status: number, message: string): string => {
  if (message === `${status} status code (no body)`) return ""
  const prefix = `${status} `
  return message.startsWith(prefix) ? message.slice(prefix.length) : message
}

const preview = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)

const errorMessage = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message : stringify(u)

/**
 * Constructor options for errors built here: every field is already typed data (parsed headers and
 * body, `Option`s, a `RateLimit`), so the schema's constructor validation is skipped. It re-parsed
 * every field on each construction and dominated the cost of a 529.
 */
const trusted: Schema.MakeOptions = { disableValidation: true }

const base = (
  options: FromSdkErrorOptions,
  errorType: string,
  message: string,
  inStream: boolean
): Fields => ({
  status: Option.none(),
  errorType,
  errorCode: Option.none(),
  message: (options.redact ?? ((s) => s))(message),
  requestId: Option.none(),
  retryAfter: Option.none(),
  shouldRetry: Option.none(),
  rateLimit: RateLimit.empty,
  inStream,
  contentEmitted: options.contentEmitted ?? false,
  raw: Option.none()
})

const fromApiError = (error: APIError, options: FromSdkErrorOptions): AnthropicError => {
  const redact = options.redact ?? ((s: string) => s)
  const headers = error.headers
  const status = error.status
  const inStream = options.inStream ?? status === undefined
  const body = parseBody(error.error)
  const raw = status !== undefined && error.error === undefined
    ? Option.some(rawFromStatusMessage(status, error.message))
    : body.raw
  // The SDK copies `error.type` from the body without checking it is a string.
  const errorType = Option.orElse(
    Option.filter(Option.fromNullable(error.type as unknown), Predicate.isString),
    () => body.errorType
  )
  const Ctor = status !== undefined
    ? classForStatus(status)
    : Option.match(errorType, { onNone: () => UnknownApiError, onSome: classForType })
  const message = Option.getOrElse(body.message, () =>
    Option.match(raw, {
      onNone: () => (status === undefined ? "Stream error event without a body" : `HTTP ${status}`),
      onSome: (text) =>
        status === undefined
          ? `Stream error event: ${preview(text)}`
          : text === ""
          ? `HTTP ${status} with an empty body`
          : `HTTP ${status}: ${preview(text)}`
    }))
  return new Ctor({
    status: Option.fromNullable(status),
    errorType: Option.getOrElse(errorType, () => "unknown"),
    errorCode: Option.orElse(Option.fromNullable(error.errorCode), () => body.errorCode),
    message: redact(message),
    requestId: Option.orElse(Option.fromNullable(error.requestID), () => body.requestId),
    retryAfter: RetryAfter.fromHeaders(headers, options.now),
    shouldRetry: Headers.shouldRetry(headers),
    rateLimit: RateLimit.fromHeaders(headers),
    inStream,
    contentEmitted: options.contentEmitted ?? false,
    raw: Option.map(raw, redact)
  }, trusted)
}

/**
 * Maps anything the SDK throws to an {@link AnthropicError}; never throws.
 *
 * - `APIError` with a status: by status (see the table above); a non-JSON or malformed body
 *   keeps its text in `raw`.
 * - `APIError` without a status (an SSE `event: error` inside a 200 stream): by its `type`,
 *   with `inStream: true` (`overloaded_error` is `Overloaded`).
 * - `APIConnectionTimeoutError`: `Timeout`. `APIConnectionError`: `ConnectionFailed`.
 * - `APIUserAbortError` (only when aborted from outside; interruption is not an error):
 *   `UnknownApiError` with `errorType: "request_aborted"`.
 * - Other SDK errors: `SdkError`. A `SyntaxError` (malformed JSON from the server):
 *   `UnknownApiError` with `errorType: "malformed_response"`. Anything else thrown while the
 *   body is read: `ConnectionFailed`.
 * - An {@link AnthropicError} is returned as is.
 *
 * @since 0.1.0
 * @category Mapping
 */
export const fromSdkError = (error: unknown, options: FromSdkErrorOptions): AnthropicError => {
  if (isAnthropicError(error)) return error
  const inStream = options.inStream ?? false
  if (error instanceof APIUserAbortError) {
    return new UnknownApiError(base(options, "request_aborted", "Request was aborted.", inStream), trusted)
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new Timeout(base(options, "timeout", "Request timed out (no response headers within the timeout).", inStream), trusted)
  }
  if (error instanceof APIConnectionError) {
    const cause = Predicate.hasProperty(error, "cause") && error.cause !== undefined
      ? `: ${errorMessage(error.cause)}`
      : ""
    return new ConnectionFailed(base(options, "connection_error", `Connection error${cause}`, inStream), trusted)
  }
  if (error instanceof APIError) return fromApiError(error, options)
  if (error instanceof SdkAnthropicError) {
    return new SdkError(base(options, "sdk_error", error.message, inStream), trusted)
  }
  if (error instanceof SyntaxError) {
    return new UnknownApiError(base(options, "malformed_response", `Malformed response: ${error.message}`, inStream), trusted)
  }
  return new ConnectionFailed(base(options, "connection_error", `Connection error: ${errorMessage(error)}`, inStream), trusted)
}
