/**
 * The simulator: one transport-neutral model of the Anthropic API.
 *
 * {@link Simulator} answers one {@link SimRequest} with one {@link SimResponse}: a JSON
 * response, a Server-Sent Events stream, or a connection reset. Its timing comes only from
 * the Effect `Clock` (`Effect.sleep`), so under `TestClock` a whole scenario runs in
 * microseconds. Transports (`InProcess.fetch`, `Server`) only translate requests and
 * responses; they never decide anything.
 *
 * What it models:
 * - `POST /v1/messages` (JSON, or `stream: true` SSE in the API's event order),
 *   `POST /v1/messages/count_tokens`, `GET /v1/models`, `GET /v1/models/{id}`;
 *   other paths answer `404 not_found_error`.
 * - Minimal validation like the API: no API key → 401; body not JSON or missing
 *   `model` / `max_tokens` / `messages` → 400 `invalid_request_error`; unknown model → 404.
 * - A {@link Script} of faults, applied per call (see `Script`).
 * - The Message Batches API (create, retrieve, list, cancel, delete, results as JSONL) on
 *   the `Clock` (see {@link BatchOptions}); per-request outcomes from `Fault.batchResult`.
 * - A capacity model for `POST /v1/messages` (see {@link CapacityOptions}).
 * - A call log ({@link CallRecord}) readable as data.
 *
 * Ids are deterministic: `req_sim_000001`, `msg_sim_000001`, … Reply text is derived from
 * the request (or the `reply` option); tokens are characters / 4. A request that ends with an
 * assistant prefill which starts the reply gets the rest of the reply, so prefill + answer is
 * the reply exactly (a prefill ending in whitespace is refused with 400, as the API does).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as Fault from "./Fault.js"
import * as internal from "./internal/simulator.js"
import type * as Script from "./Script.js"

/**
 * Case-insensitive header lookup (the web `Headers` interface satisfies it).
 *
 * @since 0.1.0
 * @category Models
 */
export interface HeaderLookup {
  readonly get: (name: string) => string | null
}

/**
 * One HTTP request, as any transport sees it.
 *
 * @since 0.1.0
 * @category Models
 */
export interface SimRequest {
  readonly method: string
  /** Path and query (`/v1/messages?beta=true`); a full URL is accepted too. */
  readonly url: string
  readonly headers: HeaderLookup
  /** The request body ("" when there is none). */
  readonly body: string
}

/**
 * A complete JSON (or, for `Raw` faults, arbitrary) response.
 *
 * @since 0.1.0
 * @category Models
 */
export interface JsonResponse {
  readonly _tag: "Json"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * A 200 `text/event-stream` response. `events` emits SSE frames (`event: …\ndata: …\n\n`)
 * with their timing; it fails with {@link ConnectionDropped} when the connection is cut.
 * The same shape carries other streamed bodies: the JSONL results file of a Message Batch
 * (`content-type: application/binary`, `events` are groups of lines).
 *
 * @since 0.1.0
 * @category Models
 */
export interface EventStreamResponse {
  readonly _tag: "EventStream"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly events: Stream.Stream<string, ConnectionDropped>
}

/**
 * No response: the connection is reset.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ConnectionReset {
  readonly _tag: "ConnectionReset"
}

/**
 * @since 0.1.0
 * @category Models
 */
export type SimResponse = JsonResponse | EventStreamResponse | ConnectionReset

/**
 * The server cut the connection in the middle of a stream.
 *
 * @since 0.1.0
 * @category Errors
 */
export const ConnectionDropped: new() => ConnectionDropped = internal.ConnectionDropped

/**
 * @since 0.1.0
 * @category Errors
 */
export interface ConnectionDropped extends internal.ConnectionDropped {}

/**
 * What happened to a call:
 * `pending` (not answered yet), `ok`, `error` (an error status with a JSON body), `raw`,
 * `reset`, and for streams `stream_error`, `dropped`, `stalled`.
 *
 * @since 0.1.0
 * @category Models
 */
export type Outcome = "pending" | "ok" | "error" | "raw" | "reset" | "stream_error" | "dropped" | "stalled"

/**
 * Who decided the outcome: a scripted fault, the capacity model, request validation
 * (`request`), or none of them (`model`: a normal answer).
 *
 * @since 0.1.0
 * @category Models
 */
export type Source = "script" | "capacity" | "request" | "model"

/**
 * One call in the log.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CallRecord {
  /** 1, 2, 3… in arrival order, over all endpoints. */
  readonly call: number
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly endpoint: Fault.Endpoint
  readonly model: Option.Option<string>
  readonly stream: boolean
  /** HTTP status sent (none while pending and for resets). */
  readonly status: Option.Option<number>
  readonly outcome: Outcome
  /** `error.type` for errors and stream errors. */
  readonly errorType: Option.Option<string>
  readonly source: Source
  /** Clock time (ms) the call arrived. */
  readonly startedAt: number
  /** Clock time (ms) the call was finished (response complete, stream ended or aborted). */
  readonly endedAt: Option.Option<number>
  /** The client went away (abort, disconnect) before the response was complete. */
  readonly aborted: boolean
  /**
   * The usage a `POST /v1/messages` answer reported: a message's `usage`; for a stream, its
   * `message_start` usage (1 output token), or `message_delta`'s final count when the stream
   * completes. `None` for errors and for streams that fail before `message_start`.
   */
  readonly usage: Option.Option<CallUsage>
}

/**
 * Token counts reported by one call (see {@link CallRecord}).
 *
 * @since 0.1.0
 * @category Models
 */
export interface CallUsage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * The capacity model of `POST /v1/messages`. Checks, in order: requests per minute and
 * tokens per minute (token buckets replenished continuously, as the API documents; beyond
 * them `429 rate_limit_error` with `retry-after` = whole seconds until the request fits),
 * then concurrency (beyond it `529 overloaded_error`, immediately). A rejected request
 * consumes no bucket. Responses carry `anthropic-ratelimit-{requests,tokens}-*` headers for
 * the configured buckets.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CapacityOptions {
  /** Requests in service at once (from arrival until the response or stream is complete). Default: unlimited. */
  readonly concurrency?: number | undefined
  /** Requests per minute. Default: unlimited. */
  readonly requestsPerMinute?: number | undefined
  /** Input + output tokens per minute (charged on admission). Default: unlimited. */
  readonly tokensPerMinute?: number | undefined
  /**
   * Each capacity rejection keeps `share` of one concurrency slot busy for `duration`, so a
   * storm of retries eats capacity (models the cost of refusing requests). Default: none.
   */
  readonly rejectionCost?: { readonly share: number; readonly duration: Duration.DurationInput } | undefined
  /**
   * Per-model capacity, as on the real API where every model has its own: a request for a model
   * listed here is admitted against that model's own limits (fields left out are unlimited, as
   * above) and its rate-limit headers describe them; other models share the limits above. So a
   * fallback to a smaller model lands on capacity an overload of the larger one does not use.
   * Default: every model shares one pool.
   */
  readonly models?: Readonly<Record<string, Omit<CapacityOptions, "models">>> | undefined
}

/**
 * The Message Batches model. A batch is created `in_progress`; request i of n finishes at
 * `created + processingTime × (i + 1) / n` (or at its `Fault.batchResult` latency), and the batch
 * ends when its last request has finished. Requests still unfinished 24 h after creation are
 * `expired` and the batch ends then. A cancel moves it to `canceling` and, `cancelTime` later (or
 * when its requests are done, if sooner), to `ended`: requests unfinished by then are `canceled`.
 * Until a batch ends every request counts as `processing`, as the API reports it. Results are
 * served as JSONL in a fixed order that is not the submission order, and become unavailable
 * 29 days after creation (`archived_at`). Creation is validated like the API: 1 to `maxRequests`
 * requests, a body of at most `maxBytes` (else `413 request_too_large`), unique `custom_id`s of
 * 1–64 characters from `[a-zA-Z0-9_-]`, and each `params` shaped like a Messages request. A request
 * naming an unknown model ends `errored` (`not_found_error`). Successful messages report
 * `service_tier: "batch"`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BatchOptions {
  /** Time from creation until the last request of a batch finishes. Default: 1 minute. */
  readonly processingTime?: Duration.DurationInput | undefined
  /** Time from a cancel until the batch ends. Default: 10 seconds. */
  readonly cancelTime?: Duration.DurationInput | undefined
  /** Requests per batch. Default: 100,000 (the API's limit). */
  readonly maxRequests?: number | undefined
  /** Bytes of the create request's body. Default: 256 MiB (the API's limit). */
  readonly maxBytes?: number | undefined
}

/**
 * A Message Batch as the simulator keeps it, for tests.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BatchRecord {
  readonly id: string
  /** The number of the call that created it (see {@link CallRecord}). */
  readonly call: number
  /** Clock time (ms) of creation. */
  readonly createdAt: number
  /** The `custom_id`s submitted, in order. */
  readonly customIds: ReadonlyArray<string>
  /** At the current Clock time. */
  readonly processingStatus: "in_progress" | "canceling" | "ended"
  /** Clock time (ms) the batch ends (or ended), as things stand. */
  readonly endsAt: number
  readonly canceled: boolean
  readonly deleted: boolean
}

/**
 * A model record for `GET /v1/models`; `id` is required, the other fields default.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ModelInfo {
  readonly id: string
  readonly [key: string]: unknown
}

/**
 * The parsed body of a Messages request, as given to `reply`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface MessagesRequest {
  readonly model: string
  readonly max_tokens: number
  readonly messages: ReadonlyArray<{ readonly role?: unknown; readonly content?: unknown }>
  readonly system?: unknown
  readonly stream?: unknown
  readonly [key: string]: unknown
}

/**
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Scripted faults. Default: none. */
  readonly script?: Script.Script | ReadonlyArray<Fault.Fault> | undefined
  readonly capacity?: CapacityOptions | undefined
  /** Time before a successful response starts (headers, or `message_start`). Default: 0. */
  readonly latency?: Duration.DurationInput | undefined
  /** Time between SSE events of a stream. Default: 0. */
  readonly streamInterval?: Duration.DurationInput | undefined
  /** Send a `ping` after `content_block_start`, as the API does. Default: true. */
  readonly ping?: boolean | undefined
  /** Reply text for a Messages request. Default: `Simulated reply to: <last user text>`. */
  readonly reply?: ((request: MessagesRequest, call: number) => string) | undefined
  /** Keep only the last `maxCalls` records in the call log (for long benchmarks). Default: all. */
  readonly maxCalls?: number | undefined
  /** Known models (ids or records). Default: the ids of the official SDK's `Model` type. */
  readonly models?: ReadonlyArray<string | ModelInfo> | undefined
  /** The Message Batches model. */
  readonly batches?: BatchOptions | undefined
}

/**
 * @since 0.1.0
 * @category Models
 */
export interface Service {
  /** Answer one request. Never fails; interrupting it marks the call aborted. */
  readonly handle: (request: SimRequest) => Effect.Effect<SimResponse>
  /** A snapshot of the call log. */
  readonly calls: Effect.Effect<ReadonlyArray<CallRecord>>
  /** Wait until at least `count` calls have arrived. */
  readonly awaitCalls: (count: number) => Effect.Effect<void>
  /** Calls currently admitted by the capacity model and not yet complete. */
  readonly inFlight: Effect.Effect<number>
  /** Replace the script (its faults start with all their uses). */
  readonly setScript: (script: Script.Script | ReadonlyArray<Fault.Fault>) => Effect.Effect<void>
  /**
   * Every Message Batch created so far, oldest first, as seen at the current Clock time. Optional
   * so that wrappers of a service built before batches existed still type-check; the built-in
   * simulator always has it.
   */
  readonly batches?: Effect.Effect<ReadonlyArray<BatchRecord>> | undefined
}

/**
 * @since 0.1.0
 * @category Tags
 */
export class Simulator extends Context.Tag("@ballast/testing/Simulator")<Simulator, Service>() {}

/**
 * Build a simulator. Time is read from the `Clock` of each call, not of `make`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options?: Options) => Effect.Effect<Service> = internal.make

/**
 * @since 0.1.0
 * @category Layers
 */
export const layer = (options?: Options): Layer.Layer<Simulator> => Layer.effect(Simulator, make(options))

/**
 * @since 0.1.0
 * @category Accessors
 */
export const handle = (request: SimRequest): Effect.Effect<SimResponse, never, Simulator> =>
  Effect.flatMap(Simulator, (sim) => sim.handle(request))

/**
 * @since 0.1.0
 * @category Accessors
 */
export const calls: Effect.Effect<ReadonlyArray<CallRecord>, never, Simulator> = Effect.flatMap(
  Simulator,
  (sim) => sim.calls
)

/**
 * @since 0.1.0
 * @category Accessors
 */
export const awaitCalls = (count: number): Effect.Effect<void, never, Simulator> =>
  Effect.flatMap(Simulator, (sim) => sim.awaitCalls(count))

/**
 * @since 0.1.0
 * @category Accessors
 */
export const setScript = (
  script: Script.Script | ReadonlyArray<Fault.Fault>
): Effect.Effect<void, never, Simulator> => Effect.flatMap(Simulator, (sim) => sim.setScript(script))

/**
 * @since 0.1.0
 * @category Accessors
 */
export const batches: Effect.Effect<ReadonlyArray<BatchRecord>, never, Simulator> = Effect.flatMap(
  Simulator,
  (sim) => sim.batches ?? Effect.succeed([])
)

/**
 * @since 0.1.0
 * @category Guards
 */
export const isJsonResponse = (response: SimResponse): response is JsonResponse => response._tag === "Json"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isEventStreamResponse = (response: SimResponse): response is EventStreamResponse =>
  response._tag === "EventStream"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isConnectionReset = (response: SimResponse): response is ConnectionReset =>
  response._tag === "ConnectionReset"
