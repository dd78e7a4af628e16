/**
 * The error catalogue: every error status the Anthropic API answers with, as data.
 *
 * Each {@link Entry} gives the HTTP status, the `error.type` of the body, a default message
 * and the headers the API sends with it. The simulator renders every error response from
 * this table, and tests iterate over {@link entries} to check that each one reaches the SDK
 * as the right error class.
 *
 * Choices where the public reference is silent (documented here, on purpose):
 * - **408** uses `timeout_error` (the only timeout type in the API's `ErrorType` union;
 *   504 uses it too).
 * - **503** uses `api_error` with "Service unavailable": the docs list `overloaded_error`
 *   only for 529, and the SDK's 503 error-code classes (CMEK, registration pending) are
 *   generic unavailability.
 * - **`x-should-retry: true`** is sent on 408, 409, 429, 500, 503, 504 and 529 — the
 *   statuses the SDK retries anyway. Real 429/529 responses are known to carry it; for the
 *   others it changes nothing for the SDK. No entry sends `x-should-retry: false`.
 * - **`retry-after`** is sent by default on 429 only (1 second unless a script or the
 *   capacity model says otherwise), as the API "always sends retry-after" on rate limits.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"

/**
 * One kind of error response.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Entry {
  /** HTTP status code. */
  readonly status: number
  /** `error.type` in the body. */
  readonly type: string
  /** Default `error.message`. */
  readonly message: string
  /** Whether the response carries `x-should-retry: true`. */
  readonly shouldRetry: boolean
  /** Default `retry-after` in seconds, if the API sends one for this status. */
  readonly retryAfter: Option.Option<number>
  /** Name of the error class the official SDK (1.14) throws for this status. */
  readonly sdkClass: string
}

const entry = (
  status: number,
  type: string,
  message: string,
  sdkClass: string,
  shouldRetry: boolean,
  retryAfter: Option.Option<number> = Option.none()
): Entry => ({ status, type, message, shouldRetry, retryAfter, sdkClass })

/**
 * Every error status of the API, in status order.
 *
 * @since 0.1.0
 * @category Catalogue
 */
export const entries: ReadonlyArray<Entry> = [
  entry(400, "invalid_request_error", "Invalid request.", "BadRequestError", false),
  entry(401, "authentication_error", "invalid x-api-key", "AuthenticationError", false),
  entry(
    402,
    "billing_error",
    "Your credit balance is too low to access the Anthropic API.",
    "PaymentRequiredError",
    false
  ),
  entry(
    403,
    "permission_error",
    "Your API key does not have permission to use the specified resource.",
    "PermissionDeniedError",
    false
  ),
  entry(404, "not_found_error", "Not found.", "NotFoundError", false),
  entry(408, "timeout_error", "Request timeout.", "RequestTimeoutError", true),
  entry(409, "conflict_error", "Conflict.", "ConflictError", true),
  entry(
    413,
    "request_too_large",
    "Request exceeds the maximum allowed number of bytes.",
    "ContentTooLargeError",
    false
  ),
  entry(
    429,
    "rate_limit_error",
    "This request would exceed your organization's rate limit. Please try again later.",
    "RateLimitError",
    true,
    Option.some(1)
  ),
  entry(500, "api_error", "Internal server error.", "InternalServerError", true),
  entry(503, "api_error", "Service unavailable.", "ServiceUnavailableError", true),
  entry(504, "timeout_error", "Request timeout.", "GatewayTimeoutError", true),
  entry(529, "overloaded_error", "Overloaded", "OverloadedError", true)
]

const byStatus = new Map(entries.map((e) => [e.status, e]))

/**
 * The catalogue entry for a status, if the API has one.
 *
 * @since 0.1.0
 * @category Catalogue
 */
export const get = (status: number): Option.Option<Entry> => Option.fromNullable(byStatus.get(status))

/**
 * The entry for a status; statuses outside the catalogue get a generic entry
 * (`invalid_request_error` for 4xx, `api_error` for 5xx and anything else), which is
 * what the API does for statuses it has no dedicated type for.
 *
 * @since 0.1.0
 * @category Catalogue
 */
export const forStatus = (status: number): Entry =>
  byStatus.get(status) ??
    (status >= 400 && status < 500
      ? entry(status, "invalid_request_error", "Invalid request.", otherSdkClasses[status] ?? "APIError", false)
      : entry(
        status,
        "api_error",
        "Internal server error.",
        otherSdkClasses[status] ?? (status >= 500 ? "InternalServerError" : "APIError"),
        status >= 500
      ))

/** SDK 1.14 classes of statuses outside the catalogue. */
const otherSdkClasses: Readonly<Record<number, string>> = {
  412: "PreconditionFailedError",
  422: "UnprocessableEntityError",
  431: "RequestHeaderFieldsTooLargeError",
  499: "ClientClosedRequestError",
  501: "NotImplementedError"
}

/**
 * The first entry with a given `error.type` (for example `overloaded_error` → 529).
 *
 * @since 0.1.0
 * @category Catalogue
 */
export const byType = (type: string): Option.Option<Entry> => Option.fromNullable(entries.find((e) => e.type === type))

/**
 * The exact JSON error body the API sends:
 * `{"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}`.
 *
 * @since 0.1.0
 * @category Rendering
 */
export const body = (options: {
  readonly type: string
  readonly message: string
  readonly requestId: string
  readonly errorCode?: string | undefined
}): string =>
  JSON.stringify({
    type: "error",
    error: options.errorCode === undefined
      ? { type: options.type, message: options.message }
      : { type: options.type, message: options.message, details: { error_code: options.errorCode } },
    request_id: options.requestId
  })
