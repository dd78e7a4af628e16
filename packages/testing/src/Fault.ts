/**
 * Faults: what the simulator does with one scripted call (or several).
 *
 * A fault is plain, serialisable data (a `Schema` with a JSON form), so a script can live
 * in a JSON file. Every fault carries the same optional fields:
 *
 * - `times`: how many matching calls it answers (default 1; `"forever"` never runs out),
 * - `endpoint` / `model`: only calls to that endpoint / naming that model match it,
 * - `latency`: time before the response starts (JSON: milliseconds or a duration string
 *   such as `"2 seconds"`).
 *
 * Stream faults (`StreamError`, `StreamDrop`, `StreamStall`) match only streaming
 * `POST /v1/messages` calls. Their position `afterDeltas` is either a number k — the stream
 * sends `message_start`, then (for k ≥ 1) `content_block_start`, a `ping` and k text deltas —
 * or `"before_message_start"`: the 200 headers and nothing else before the fault.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * The endpoints the simulator knows. `models` covers `GET /v1/models` and
 * `GET /v1/models/{id}`; `batches` every Message Batches call (`/v1/messages/batches…`);
 * `unknown` is any other path (answered with 404).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Endpoint = Schema.Literal("messages", "count_tokens", "models", "batches", "unknown")

/**
 * @since 0.1.0
 * @category Models
 */
export type Endpoint = typeof Endpoint.Type

/**
 * A duration in milliseconds; in JSON either a number of milliseconds or a string that
 * `Duration.decode` understands (`"3 seconds"`, `"250 millis"`).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Millis: Schema.Schema<number, number | string> = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.NonNegative,
  {
    strict: true,
    decode: (input, _, ast) => {
      const decoded = Duration.decodeUnknown(input)
      return Option.isSome(decoded) && Duration.isFinite(decoded.value)
        ? ParseResult.succeed(Duration.toMillis(decoded.value))
        : ParseResult.fail(new ParseResult.Type(ast, input, "expected a duration in ms or like \"3 seconds\""))
    },
    encode: (millis) => ParseResult.succeed(millis)
  }
)

/**
 * How many matching calls a fault answers.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Times = Schema.Union(Schema.Int.pipe(Schema.positive()), Schema.Literal("forever"))

/**
 * Where in a stream a stream fault strikes.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const StreamPoint = Schema.Union(Schema.Int.pipe(Schema.nonNegative()), Schema.Literal("before_message_start"))

/**
 * @since 0.1.0
 * @category Models
 */
export type StreamPoint = typeof StreamPoint.Type

const common = {
  times: Schema.optional(Times),
  endpoint: Schema.optional(Endpoint),
  model: Schema.optional(Schema.String),
  latency: Schema.optional(Millis)
}

const Headers = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * A normal, successful answer (optionally with fixed reply text).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Ok = Schema.TaggedStruct("Ok", { ...common, reply: Schema.optional(Schema.String) })

/**
 * An error response from the catalogue (any status; unknown statuses get a generic body).
 * `retryAfter` is in seconds (`null` omits the header), `shouldRetry` sets
 * `x-should-retry` (`null` omits it), `errorCode` fills `error.details.error_code`.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Status = Schema.TaggedStruct("Status", {
  ...common,
  status: Schema.Int,
  type: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  retryAfter: Schema.optional(Schema.NullOr(Schema.NonNegative)),
  retryAfterMs: Schema.optional(Schema.NonNegative),
  shouldRetry: Schema.optional(Schema.NullOr(Schema.Boolean)),
  errorCode: Schema.optional(Schema.String),
  headers: Schema.optional(Headers)
})

/**
 * A raw response: any status (418, 599, …) and any body (non-JSON, malformed JSON).
 * `content-type` defaults to `text/plain; charset=utf-8`.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Raw = Schema.TaggedStruct("Raw", {
  ...common,
  status: Schema.Int,
  body: Schema.String,
  headers: Schema.optional(Headers)
})

/**
 * The connection is reset before any response: `fetch` rejects (in process) or the socket
 * is destroyed (HTTP server).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Reset = Schema.TaggedStruct("Reset", { ...common })

/**
 * A 200 stream that sends `event: error` at `afterDeltas` (default type `overloaded_error`).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const StreamError = Schema.TaggedStruct("StreamError", {
  ...common,
  afterDeltas: StreamPoint,
  errorType: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})

/**
 * A 200 stream whose connection is dropped at `afterDeltas` (no `message_stop`). With
 * `truncate: true` the body instead ends cleanly halfway through the next frame (a proxy closing
 * the response): no network error, the stream just stops short.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const StreamDrop = Schema.TaggedStruct("StreamDrop", {
  ...common,
  afterDeltas: StreamPoint,
  truncate: Schema.optional(Schema.Boolean)
})

/**
 * A 200 stream that goes silent at `afterDeltas` and never ends; with `pingEvery` it keeps
 * sending `ping` events (a "ping-only" stall).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const StreamStall = Schema.TaggedStruct("StreamStall", {
  ...common,
  afterDeltas: StreamPoint,
  pingEvery: Schema.optional(Millis)
})

/**
 * The outcome of one request inside a Message Batch (not of an HTTP call): it answers the
 * next `times` batch requests that match its `customId` / `model`, in the order they are
 * submitted. `succeeded` (optionally with `reply` text), `errored` with an error `errorType`
 * (default `api_error`), `canceled`, or `expired` (the request never finishes: its batch runs
 * until it expires, 24 h after creation). `latency` is the request's processing time from
 * the batch's creation (default: the simulator's batch processing time, spread over the batch).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const BatchResult = Schema.TaggedStruct("BatchResult", {
  ...common,
  result: Schema.Literal("succeeded", "errored", "canceled", "expired"),
  customId: Schema.optional(Schema.String),
  errorType: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  reply: Schema.optional(Schema.String)
})

/**
 * Any fault.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Fault = Schema.Union(Ok, Status, Raw, Reset, StreamError, StreamDrop, StreamStall, BatchResult)

/**
 * @since 0.1.0
 * @category Models
 */
export type Fault = typeof Fault.Type

/**
 * @since 0.1.0
 * @category Models
 */
export type Ok = typeof Ok.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type Status = typeof Status.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type Raw = typeof Raw.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type Reset = typeof Reset.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type StreamError = typeof StreamError.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type StreamDrop = typeof StreamDrop.Type
/**
 * @since 0.1.0
 * @category Models
 */
export type StreamStall = typeof StreamStall.Type

/**
 * @since 0.1.0
 * @category Models
 */
export type BatchResult = typeof BatchResult.Type

/**
 * Options shared by every fault constructor.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Common {
  /** How many matching calls this fault answers. Default 1. */
  readonly times?: number | "forever" | undefined
  /** Only calls to this endpoint match. Default: any endpoint. */
  readonly endpoint?: Endpoint | undefined
  /** Only calls naming this model match. Default: any model. */
  readonly model?: string | undefined
  /** Time before the response starts. Default: 0 for errors, the simulator's latency for successes. */
  readonly latency?: Duration.DurationInput | undefined
}

const commonFields = (options: Common | undefined) => {
  const out: { times?: number | "forever"; endpoint?: Endpoint; model?: string; latency?: number } = {}
  if (options === undefined) return out
  if (options.times !== undefined) out.times = options.times
  if (options.endpoint !== undefined) out.endpoint = options.endpoint
  if (options.model !== undefined) out.model = options.model
  if (options.latency !== undefined) out.latency = Duration.toMillis(options.latency)
  return out
}

const seconds = (d: Duration.DurationInput): number => Duration.toMillis(d) / 1000

/**
 * A successful answer, e.g. `Fault.ok({ latency: "2 seconds" })` or `Fault.ok({ times: 3 })`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const ok = (options?: Common & { readonly reply?: string | undefined }): Ok => ({
  _tag: "Ok",
  ...commonFields(options),
  ...(options?.reply !== undefined ? { reply: options.reply } : {})
})

/**
 * Options of {@link status}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface StatusOptions extends Common {
  /** Override `error.type`. Default: the catalogue's type for the status. */
  readonly type?: string | undefined
  /** Override `error.message`. */
  readonly message?: string | undefined
  /** `retry-after` (sent in whole or fractional seconds); `null` omits it. */
  readonly retryAfter?: Duration.DurationInput | null | undefined
  /** `retry-after-ms`. */
  readonly retryAfterMs?: Duration.DurationInput | undefined
  /** `x-should-retry`; `null` omits it. Default: the catalogue's choice. */
  readonly shouldRetry?: boolean | null | undefined
  /** `error.details.error_code` (selects the SDK's error-code classes). */
  readonly errorCode?: string | undefined
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * An error response with the catalogue's body and headers, e.g. `Fault.status(529, { times: 2 })`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const status = (status: number, options?: StatusOptions): Status => {
  const out: { -readonly [K in keyof Status]: Status[K] } = { _tag: "Status", status, ...commonFields(options) }
  if (options === undefined) return out
  if (options.type !== undefined) out.type = options.type
  if (options.message !== undefined) out.message = options.message
  if (options.retryAfter !== undefined) out.retryAfter = options.retryAfter === null ? null : seconds(options.retryAfter)
  if (options.retryAfterMs !== undefined) out.retryAfterMs = Duration.toMillis(options.retryAfterMs)
  if (options.shouldRetry !== undefined) out.shouldRetry = options.shouldRetry
  if (options.errorCode !== undefined) out.errorCode = options.errorCode
  if (options.headers !== undefined) out.headers = options.headers
  return out
}

/**
 * `529 overloaded_error`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const overloaded = (options?: StatusOptions): Status => status(529, options)

/**
 * `429 rate_limit_error`, e.g. `Fault.rateLimited({ retryAfter: "3 seconds" })`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const rateLimited = (options?: StatusOptions): Status => status(429, options)

/**
 * A raw response with any status and body, e.g. `Fault.raw(502, "<html>Bad gateway</html>")`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const raw = (
  status: number,
  body: string,
  options?: Common & { readonly headers?: Readonly<Record<string, string>> | undefined }
): Raw => ({
  _tag: "Raw",
  status,
  body,
  ...commonFields(options),
  ...(options?.headers !== undefined ? { headers: options.headers } : {})
})

/**
 * The connection is reset before the response.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const reset = (options?: Common): Reset => ({ _tag: "Reset", ...commonFields(options) })

/**
 * A 200 stream that fails with `event: error` after `afterDeltas` deltas,
 * e.g. `Fault.streamError({ afterDeltas: 2 })` (type `overloaded_error` by default).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const streamError = (
  options: Common & {
    readonly afterDeltas: StreamPoint
    readonly type?: string | undefined
    readonly message?: string | undefined
  }
): StreamError => ({
  _tag: "StreamError",
  afterDeltas: options.afterDeltas,
  ...commonFields(options),
  ...(options.type !== undefined ? { errorType: options.type } : {}),
  ...(options.message !== undefined ? { message: options.message } : {})
})

/**
 * A 200 stream whose first event is `event: error` with `overloaded_error`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const overloadedBeforeStart = (options?: Common): StreamError =>
  streamError({ ...options, afterDeltas: "before_message_start" })

/**
 * A 200 stream whose connection drops after `afterDeltas` deltas; with `truncate: true` its
 * body ends cleanly halfway through the next frame instead.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const streamDrop = (
  options: Common & { readonly afterDeltas: StreamPoint; readonly truncate?: boolean | undefined }
): StreamDrop => ({
  _tag: "StreamDrop",
  afterDeltas: options.afterDeltas,
  ...commonFields(options),
  ...(options.truncate !== undefined ? { truncate: options.truncate } : {})
})

/**
 * A 200 stream that stalls after `afterDeltas` deltas (optionally still pinging).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const streamStall = (
  options: Common & { readonly afterDeltas: StreamPoint; readonly pingEvery?: Duration.DurationInput | undefined }
): StreamStall => ({
  _tag: "StreamStall",
  afterDeltas: options.afterDeltas,
  ...commonFields(options),
  ...(options.pingEvery !== undefined ? { pingEvery: Duration.toMillis(options.pingEvery) } : {})
})

/**
 * A stream that sends `message_start` and then only `ping` events, every `every`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const pingOnly = (options: Common & { readonly every: Duration.DurationInput }): StreamStall =>
  streamStall({ ...options, afterDeltas: 0, pingEvery: options.every })

/**
 * Options of {@link batchResult}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BatchResultOptions extends Omit<Common, "endpoint"> {
  /** Only the batch request with this `custom_id` matches. Default: any. */
  readonly customId?: string | undefined
  /** `errored` only: the error's `type`. Default `api_error`. */
  readonly type?: string | undefined
  /** `errored` only: the error's message. Default: the catalogue's for the type. */
  readonly message?: string | undefined
  /** `succeeded` only: the reply text. */
  readonly reply?: string | undefined
}

/**
 * The outcome of batch requests, e.g. `Fault.batchResult("errored", { type: "overloaded_error", times: 3 })`
 * or `Fault.batchResult("expired", { customId: "q-17" })`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const batchResult = (result: BatchResult["result"], options?: BatchResultOptions): BatchResult => {
  const out: { -readonly [K in keyof BatchResult]: BatchResult[K] } = {
    _tag: "BatchResult",
    result,
    ...commonFields(options)
  }
  if (options === undefined) return out
  if (options.customId !== undefined) out.customId = options.customId
  if (options.type !== undefined) out.errorType = options.type
  if (options.message !== undefined) out.message = options.message
  if (options.reply !== undefined) out.reply = options.reply
  return out
}

/**
 * Whether a fault is the outcome of batch requests rather than of an HTTP call.
 *
 * @since 0.1.0
 * @category Guards
 */
export const isBatchResult = (fault: Fault): fault is BatchResult => fault._tag === "BatchResult"

/**
 * Whether a fault needs a streaming `POST /v1/messages` call.
 *
 * @since 0.1.0
 * @category Guards
 */
export const isStreamFault = (fault: Fault): fault is StreamError | StreamDrop | StreamStall =>
  fault._tag === "StreamError" || fault._tag === "StreamDrop" || fault._tag === "StreamStall"

/**
 * Decode a fault from unknown (JSON) input.
 *
 * @since 0.1.0
 * @category Decoding
 */
export const decodeUnknown = (input: unknown): Either.Either<Fault, ParseResult.ParseError> =>
  Schema.decodeUnknownEither(Fault)(input)
