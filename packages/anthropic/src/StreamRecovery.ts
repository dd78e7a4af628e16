/**
 * Resilient `messages.stream`: overload that arrives inside a 200 stream, stalled streams and cut
 * connections, without losing or silently duplicating a token.
 *
 * One call is a sequence of HTTP attempts. Each attempt is run by a {@link Runner} until its first
 * content event: a failure before then (a 529 or 429 answer, `overloaded_error` before
 * `message_start`, a stall, a cut connection) is retried by the runner and the consumer never sees
 * it. A failure after content is handled by the call's {@link Strategy}:
 *
 * - `"continue"` (default): a new request carries the text received so far as an assistant prefill
 *   and its answer is stitched on, so the concatenated text deltas are the answer exactly once. A
 *   {@link Continued} marker says where. Falls back to `"restart"` when the partial message holds
 *   anything but text (an open or finished tool-use block, thinking), when the request enables
 *   extended thinking, or when the prefilled request is refused with 400 `invalid_request_error`.
 * - `"restart"`: the request is sent again from scratch; a {@link Restarted} marker comes first,
 *   telling the consumer to discard what it has.
 *
 * Markers are emitted as soon as a failure is seen, so a consumer can show it at once.
 * - `"fail"`: the stream fails with {@link MidStreamFailure}, carrying the partial message.
 *
 * Stalls are typed failures ({@link StreamStalled}, transient): `idleTimeout` bounds the wait for
 * any event, `contentTimeout` the wait for content (a stream of nothing but pings). Cut connections
 * and truncated bodies (`ConnectionFailed`, `"stream_truncated"`) are transient like in-stream
 * overload. The stream ends with a {@link Summary}: the whole message and the usage summed over
 * every attempt. Interrupting the consumer aborts the HTTP request in flight and closes every
 * attempt's scope (permits taken by the runner inside it are returned).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { StreamRecovery } from "@ballast/anthropic"
 *
 * const program = StreamRecovery.stream(
 *   { model: "claude-sonnet-5-5", max_tokens: 1024, messages: [{ role: "user", content: "Hello" }] },
 *   { strategy: "continue", idleTimeout: "30 seconds" }
 * ).pipe(
 *   Stream.runForEach((event) =>
 *     event.type === "restarted" ? Effect.log("-- discard, starting over --")
 *     : Effect.sync(() => process.stdout.write(StreamRecovery.textOf(event))))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Message, MessageCreateParamsBase, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages"
import { Classification, Retry } from "@ballast/core"
import type { Scope } from "effect"
import { Data, Duration, Effect, Option, Predicate, Stream } from "effect"
import type * as AnthropicClient from "./AnthropicClient.js"
import * as internal from "./internal/streamRecovery.js"

/**
 * What to do when a stream fails after content was sent to the consumer.
 *
 * - `"continue"`: prefill the partial text and stitch the continuation on (falls back to
 *   `"restart"` when that is not possible, see the module docs).
 * - `"restart"`: re-stream from scratch after a {@link Restarted} marker.
 * - `"fail"`: fail with {@link MidStreamFailure}.
 *
 * @since 0.1.0
 * @category Models
 */
export type Strategy = "restart" | "continue" | "fail"

/**
 * The failures of the client's `messages.streamWithResponse` (the API's typed errors; with a
 * resilient client, also its policy's refusals).
 *
 * @since 0.1.0
 * @category Models
 */
export type ClientError = Effect.Effect.Error<ReturnType<AnthropicClient.Messages["streamWithResponse"]>>

/**
 * What one attempt can fail with.
 *
 * @since 0.1.0
 * @category Models
 */
export type AttemptError = ClientError | StreamStalled

/**
 * What a runner tells an attempt: the key to use (the model) and the attempt's number.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Attempt {
  /** The model to call (a fallback chain may change it). */
  readonly key: string
  /** 1-based number of the attempt within this run. */
  readonly attempt: number
}

/**
 * Runs the attempts of one leg of a stream (from the request to the first content) with retries
 * and whatever else a policy adds. `options.key` is the model of the request. The runner may put
 * things in the `Scope` it is given (permits): that scope lives as long as the leg's HTTP stream.
 *
 * `Resilience.run` of `@ballast/core` has this shape once its result is unwrapped:
 * `(attempt, options) => Effect.map(resilience.run(attempt, options), (routed) => routed.value)`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Runner<X = never> {
  <A, R>(
    attempt: (attempt: Attempt) => Effect.Effect<A, AttemptError, R>,
    options?: { readonly key?: string | undefined }
  ): Effect.Effect<A, AttemptError | X, R | Scope.Scope>
}

/**
 * A runner built on `Retry.retry` of `@ballast/core` (backoff with jitter, raised to Retry-After,
 * only for retryable failures). The default runner is `retryRunner()`: `Retry.defaults`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const retryRunner = (options?: Retry.RetryOptions<AttemptError>): Runner => (attempt, run) =>
  Effect.suspend(() => {
    let n = 0
    const key = run?.key ?? ""
    return Retry.retry(Effect.suspend(() => attempt({ key, attempt: ++n })), options)
  })

/**
 * Options of {@link stream}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<X = never> {
  /** What to do after a failure that follows content. Default: `"continue"`. */
  readonly strategy?: Strategy | undefined
  /**
   * The longest wait for any event, once the response headers arrived. Note: the official SDK
   * drops `ping` events before the client sees them, so today only message and content events
   * reset this timer. Default: `60 seconds`.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * The longest wait for content (`content_block_*`, `message_delta`, `message_stop`): from the
   * response headers, and between content events. `message_start` and pings do not count.
   * Default: `120 seconds`.
   */
  readonly contentTimeout?: Duration.DurationInput | undefined
  /** How many failures after content are recovered from (by restart or continue). Default: `3`. */
  readonly maxRecoveries?: number | undefined
  /**
   * Runs each leg's attempts (see {@link Runner}). Default: `retryRunner()`. A client that is
   * already resilient (`ResilientClient.layer`) retries failures before the response starts
   * itself; the runner then sees only what that policy gave up on, and stalls.
   */
  readonly runner?: Runner<X> | undefined
  /** Per-request options passed to the client (headers, time to response headers). */
  readonly requestOptions?: AnthropicClient.RequestOptions | undefined
}

/**
 * The defaults of {@link Options}.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly strategy: Strategy
  readonly idleTimeout: Duration.Duration
  readonly contentTimeout: Duration.Duration
  readonly maxRecoveries: number
} = {
  strategy: "continue",
  idleTimeout: Duration.seconds(60),
  contentTimeout: Duration.seconds(120),
  maxRecoveries: 3
}

/**
 * Token counts, summed over attempts.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Usage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens: number
  readonly cache_read_input_tokens: number
}

/**
 * One HTTP attempt of a stream.
 *
 * @since 0.1.0
 * @category Models
 */
export interface AttemptRecord {
  /** 1-based, over the whole stream. */
  readonly attempt: number
  readonly model: string
  /** `"initial"`: the request as given; `"restart"` / `"continue"`: a recovery after content. */
  readonly mode: "initial" | "restart" | "continue"
  readonly requestId: Option.Option<string>
  /**
   * The usage the attempt reported: `message_start`'s, updated by `message_delta` when the attempt
   * got that far. `None` when it failed before `message_start`.
   */
  readonly usage: Option.Option<Usage>
  /** Why the attempt failed; `None` for the attempt that completed the stream. */
  readonly error: Option.Option<AttemptError>
}

/**
 * The stream failed after a recovery was done for (or, with `"fail"`, after content). Carries the
 * message as the consumer had it. Not retryable: the caller has seen content.
 *
 * @since 0.1.0
 * @category Errors
 */
export class MidStreamFailure<E = AttemptError> extends Data.TaggedError("MidStreamFailure")<{
  /** The failure that ended the stream. */
  readonly error: E
  readonly strategy: Strategy
  /** The message as the consumer had it (text, tool-use blocks with their input so far). */
  readonly partial: Option.Option<Message>
  /** Summed over every attempt. */
  readonly usage: Usage
  readonly attempts: ReadonlyArray<AttemptRecord>
  readonly recoveries: number
}> implements Classification.Classifiable {
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    const inner = Classification.classify(this.error)
    return Classification.make(inner.kind, { retryable: false, retryAfter: inner.retryAfter })
  }
  /** @since 0.1.0 */
  override get message(): string {
    const tag = Predicate.hasProperty(this.error, "_tag") ? String(this.error._tag) : "failure"
    return `The stream failed after content was sent (${tag}, ${this.recoveries} recoveries)`
  }
}

/**
 * No event (`"idle"`) or no content (`"content"`) arrived within the timeout. Transient, retryable.
 *
 * @since 0.1.0
 * @category Errors
 */
export class StreamStalled extends Data.TaggedError("StreamStalled")<{
  readonly reason: "idle" | "content"
  readonly timeout: Duration.Duration
  readonly requestId: Option.Option<string>
  /** Whether this attempt had sent content before it stalled. */
  readonly contentEmitted: boolean
}> implements Classification.Classifiable {
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return Classification.make("Transient")
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `No ${this.reason === "idle" ? "event" : "content"} within ${Duration.format(this.timeout)}`
  }
}

/**
 * Discard everything received so far: the request is being sent again from scratch, and a new
 * `message_start` follows (unless the stream then fails; {@link MidStreamFailure} still carries
 * the discarded partial message). Emitted as soon as the failure is seen, before any backoff.
 *
 * @since 0.1.0
 * @category Markers
 */
export interface Restarted {
  readonly type: "restarted"
  /** 1-based count of recoveries in this stream. */
  readonly recovery: number
  /** The failure that caused it. */
  readonly error: AttemptError
}

/**
 * The stream broke off and is being continued: what follows extends the message the consumer has
 * (no new `message_start`; the open text block goes on). Emitted as soon as the failure is seen.
 * If the API refuses the prefilled request, a {@link Restarted} follows.
 *
 * @since 0.1.0
 * @category Markers
 */
export interface Continued {
  readonly type: "continued"
  readonly recovery: number
  readonly error: AttemptError
  /** The assistant text sent as prefill (the text so far, trailing whitespace trimmed). */
  readonly prefill: string
}

/**
 * The last event of a stream that completed.
 *
 * @since 0.1.0
 * @category Markers
 */
export interface Summary {
  readonly type: "summary"
  /** The whole message as the consumer assembled it; its `usage` is the total over attempts. */
  readonly message: Message
  /** The text of the message's text blocks. */
  readonly text: string
  /** Summed over every attempt, failed ones included. */
  readonly usage: Usage
  readonly attempts: ReadonlyArray<AttemptRecord>
  /** Failures after content that were recovered from. */
  readonly recoveries: number
}

/**
 * @since 0.1.0
 * @category Markers
 */
export type Marker = Restarted | Continued | Summary

/**
 * What the stream emits: the SDK's raw events and the markers.
 *
 * @since 0.1.0
 * @category Models
 */
export type Event = RawMessageStreamEvent | Marker

/**
 * Everything {@link stream} can fail with: before content, the attempt's or the runner's failure
 * as is; after content, {@link MidStreamFailure}.
 *
 * @since 0.1.0
 * @category Models
 */
export type Failure<X = never> = AttemptError | X | MidStreamFailure<AttemptError | X>

/**
 * The parameters of {@link stream}: those of `messages.create` without `stream`.
 *
 * @since 0.1.0
 * @category Models
 */
export type Params = Omit<MessageCreateParamsBase, "stream">

/**
 * A resilient `messages.stream` through the {@link AnthropicClient.AnthropicClient} in context.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const stream: <X = never>(
  params: Params,
  options?: Options<X>
) => Stream.Stream<Event, Failure<X>, AnthropicClient.AnthropicClient> = internal.stream

/**
 * Runs {@link stream} to its end and returns its {@link Summary}.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const collect = <X = never>(
  params: Params,
  options?: Options<X>
): Effect.Effect<Summary, Failure<X>, AnthropicClient.AnthropicClient> => summary(stream(params, options))

/**
 * The {@link Summary} of a stream of events (fails if the stream ends without one).
 *
 * @since 0.1.0
 * @category Combinators
 */
export const summary = <E, R>(self: Stream.Stream<Event, E, R>): Effect.Effect<Summary, E, R> =>
  Effect.flatMap(
    Stream.runFold(self, Option.none<Summary>(), (last, event) => (isSummary(event) ? Option.some(event) : last)),
    Option.match({
      onNone: () => Effect.dieMessage("StreamRecovery.summary: the stream ended without a summary"),
      onSome: Effect.succeed
    })
  )

/**
 * The text an event adds (a `text_delta`), or `""`.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const textOf = (event: Event): string =>
  event.type === "content_block_delta" && event.delta.type === "text_delta" ? event.delta.text : ""

/**
 * Assembles the text of a stream as a consumer should: text deltas appended, cleared at
 * {@link Restarted}.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const appendText = (text: string, event: Event): string =>
  event.type === "restarted" ? "" : text + textOf(event)

/**
 * @since 0.1.0
 * @category Guards
 */
export const isMarker = (event: Event): event is Marker =>
  event.type === "restarted" || event.type === "continued" || event.type === "summary"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isRestarted = (event: Event): event is Restarted => event.type === "restarted"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isContinued = (event: Event): event is Continued => event.type === "continued"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isSummary = (event: Event): event is Summary => event.type === "summary"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isMidStreamFailure = (u: unknown): u is MidStreamFailure<unknown> =>
  Predicate.isTagged(u, "MidStreamFailure")
