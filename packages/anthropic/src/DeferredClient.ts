/**
 * Deferrable calls: ordinary `messages.create` calls that are sent through the Message Batches API
 * (half the price, out of the way of interactive traffic) instead of `/v1/messages`.
 *
 * `layer(Presets.batch)` replaces the `AnthropicClient` in context with one whose deferrable
 * `messages.create` calls are gathered into a **window** — until it holds `maxSize` calls or
 * `maxWait` has passed since its first call, whichever comes first — and the window is sent as one
 * batch through {@link BatchSubmitter} (chunked only if it exceeds the API's limits). Each caller
 * waits for its own entry and gets its own `Message`, or the typed `AnthropicError` the same
 * request would have met as a direct call (see {@link toClientError}). The caller's code does not
 * change: it still calls `client.messages.create(params)`.
 *
 * Which calls are deferred:
 * - `defer: "all"` (what `Presets.batch` does): every `messages.create`, unless the call is marked
 *   {@link immediate};
 * - `defer: "marked"`: only the calls marked {@link deferrable}.
 *
 * Everything else — immediate calls, `createWithResponse`, streams, `countTokens`, `models.*`,
 * `messages.batches.*` — passes through to the client below, untouched. The batch API calls the
 * window makes (create, poll, list, cancel) go through the preset's `policy` (when it has one)
 * wrapped around that client.
 *
 * Interrupting a waiting caller takes its call out of the window if the window is still open, and
 * otherwise discards its result when the batch ends; the other callers are not affected. When every
 * caller of a sent window has gone, its submission stops and its batches are canceled.
 *
 * Why a layer of its own rather than `ResilientClient.layer(Presets.batch)`: a batch preset is not
 * a `Policy` — it changes where calls go and when they answer (minutes to hours later), it holds
 * state (the open window, the batches in flight) and it contains a policy for its own API calls.
 * Keeping `ResilientClient.layer` about policies keeps both types honest; the two layers stack:
 * put `DeferredClient.layer` over `ResilientClient.layer(Presets.interactive)` and the calls that
 * are not deferred get the interactive policy.
 *
 * @example
 * ```ts
 * import { AnthropicClient, DeferredClient, Presets } from "@ballast/anthropic"
 * import { Effect, Layer } from "effect"
 *
 * const ClientLive = DeferredClient.layer(Presets.batch).pipe(Layer.provide(AnthropicClient.layerConfig()))
 *
 * const summarise = (text: string) =>
 *   Effect.flatMap(AnthropicClient.AnthropicClient, (client) =>
 *     client.messages.create({
 *       model: "claude-sonnet-5-5",
 *       max_tokens: 512,
 *       messages: [{ role: "user", content: `Summarise: ${text}` }]
 *     }))
 *
 * // 500 summaries become one batch; each fiber gets its own Message when the batch ends
 * declare const texts: ReadonlyArray<string>
 * const program = Effect.forEach(texts, summarise, { concurrency: "unbounded" }).pipe(Effect.provide(ClientLive))
 * ```
 *
 * @since 0.1.0
 */
import type { Message, MessageCreateParamsNonStreaming } from "@anthropic-ai/sdk/resources/messages"
import type { Policy } from "@ballast/core"
import type { Scope } from "effect"
import { Context, Data, Duration, Effect, FiberRef, Layer, Option } from "effect"
import { dual } from "effect/Function"
import { NodeInspectSymbol } from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import type * as AnthropicClient from "./AnthropicClient.js"
import { AnthropicClient as AnthropicClientTag } from "./AnthropicClient.js"
import type * as BatchOutcome from "./BatchOutcome.js"
import * as BatchSubmitter from "./BatchSubmitter.js"
import * as internal from "./internal/deferredClient.js"

/**
 * Which `messages.create` calls a deferred client sends as batch entries: `"all"` (unless marked
 * {@link immediate}) or only those marked {@link deferrable}.
 *
 * @since 0.1.0
 * @category Models
 */
export type Defer = "all" | "marked"

/**
 * A batch preset, as data: which calls are deferred, the window that gathers them, the policy for
 * the batch API calls, and how the batches are polled and resubmitted. Prints readably, compares by
 * value, pipes through the `with*` combinators.
 *
 * @since 0.1.0
 * @category Models
 */
export class Config extends Data.Class<{
  /** A name for logs and spans. */
  readonly name: string
  /** Which calls are deferred. */
  readonly defer: Defer
  /** A window is sent when it holds this many calls. */
  readonly maxSize: number
  /** …or when this long has passed since its first call, whichever comes first. */
  readonly maxWait: Duration.Duration
  /** The policy wrapped around the batch API calls (create, poll, list, cancel), or none. */
  readonly policy: Option.Option<Policy.Policy>
  /** Chunking limits, poll schedule and resubmission of each window's batch. */
  readonly submitter: BatchSubmitter.Config
}> implements Pipeable {
  /** Configs are pipeable: `Presets.batch.pipe(DeferredClient.withWindow({ maxWait: "5 minutes" }))`. */
  declare readonly pipe: Pipeable["pipe"]
  /** @since 0.1.0 */
  override toString(): string {
    return format(this)
  }
  /** @since 0.1.0 */
  toJSON(): unknown {
    return internal.toJSON(this)
  }
  /** @since 0.1.0 */
  [NodeInspectSymbol](): string {
    return format(this)
  }
}

Object.defineProperty(Config.prototype, "pipe", {
  value: function(this: Config) {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  enumerable: false
})

/**
 * Options of {@link config}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Default: `"deferred"`. */
  readonly name?: string | undefined
  /** Default: `"all"`. */
  readonly defer?: Defer | undefined
  /** Default: 10,000 calls. */
  readonly maxSize?: number | undefined
  /** Default: 30 seconds. */
  readonly maxWait?: Duration.DurationInput | undefined
  /** Default: none (the batch calls go through the client below as they are). */
  readonly policy?: Policy.Policy | undefined
  /** Default: `BatchSubmitter.config()` (poll 5 s ×2 up to 1 min; 3 attempts). */
  readonly submitter?: BatchSubmitter.Config | Omit<BatchSubmitter.Options, "poll"> | undefined
}

/**
 * A batch preset from options, defaults filled in. Two configs from the same options are equal.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const config = (options?: Options): Config =>
  new Config({
    name: options?.name ?? "deferred",
    defer: options?.defer ?? "all",
    maxSize: options?.maxSize ?? 10_000,
    maxWait: Duration.decode(options?.maxWait ?? "30 seconds"),
    policy: Option.fromNullable(options?.policy),
    submitter: options?.submitter instanceof BatchSubmitter.Config
      ? options.submitter
      : BatchSubmitter.config(options?.submitter)
  })

/**
 * Changes the window; fields left out keep their value.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withWindow: {
  (
    window: { readonly maxSize?: number | undefined; readonly maxWait?: Duration.DurationInput | undefined }
  ): (self: Config) => Config
  (
    self: Config,
    window: { readonly maxSize?: number | undefined; readonly maxWait?: Duration.DurationInput | undefined }
  ): Config
} = dual(2, (self: Config, window: { readonly maxSize?: number | undefined; readonly maxWait?: Duration.DurationInput | undefined }) =>
  new Config({
    ...self,
    maxSize: window.maxSize ?? self.maxSize,
    maxWait: window.maxWait === undefined ? self.maxWait : Duration.decode(window.maxWait)
  }))

/**
 * Changes which calls are deferred.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withDefer: {
  (defer: Defer): (self: Config) => Config
  (self: Config, defer: Defer): Config
} = dual(2, (self: Config, defer: Defer) => new Config({ ...self, defer }))

/**
 * Sets (or with `undefined`, removes) the policy of the batch API calls.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withPolicy: {
  (policy: Policy.Policy | undefined): (self: Config) => Config
  (self: Config, policy: Policy.Policy | undefined): Config
} = dual(2, (self: Config, policy: Policy.Policy | undefined) => new Config({ ...self, policy: Option.fromNullable(policy) }))

/**
 * Replaces the submitter configuration (poll schedule, attempts, limits).
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withSubmitter: {
  (submitter: BatchSubmitter.Config | Omit<BatchSubmitter.Options, "poll">): (self: Config) => Config
  (self: Config, submitter: BatchSubmitter.Config | Omit<BatchSubmitter.Options, "poll">): Config
} = dual(2, (self: Config, submitter: BatchSubmitter.Config | Omit<BatchSubmitter.Options, "poll">) =>
  new Config({
    ...self,
    submitter: submitter instanceof BatchSubmitter.Config ? submitter : BatchSubmitter.config(submitter)
  }))

/**
 * A readable multi-line description (also what `String(config)` gives).
 *
 * @since 0.1.0
 * @category Formatting
 */
export const format = (self: Config): string => internal.format(self)

/**
 * The mark a call carries: `Some(true)` deferrable, `Some(false)` immediate, `None` unmarked
 * (the preset's `defer` decides). Set it with {@link deferrable} / {@link immediate}.
 *
 * @since 0.1.0
 * @category Marks
 */
export const currentMark: FiberRef.FiberRef<Option.Option<boolean>> = internal.currentMark

/**
 * Marks the `messages.create` calls made by `self` as deferrable: under a deferred client they
 * become batch entries (with `defer: "all"` they already are).
 *
 * @since 0.1.0
 * @category Marks
 */
export const deferrable = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentMark, Option.some(true))

/**
 * Marks the `messages.create` calls made by `self` as immediate: they go straight to
 * `/v1/messages` through the client below, even with `defer: "all"`.
 *
 * @since 0.1.0
 * @category Marks
 */
export const immediate = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentMark, Option.some(false))

/**
 * What a window did, for logs and tests.
 *
 * @since 0.1.0
 * @category Models
 */
export interface WindowReport {
  /** 1, 2, 3… in the order windows opened. */
  readonly window: number
  /** Calls sent (callers interrupted before the window closed are not counted). */
  readonly calls: number
  /** Why the window closed. */
  readonly closedBy: "size" | "time" | "flush"
  /** Clock time (ms) of its first call and of its closing. */
  readonly openedAt: number
  readonly closedAt: number
}

/**
 * The running deferred client: the window, and a way to send it now.
 *
 * @since 0.1.0
 * @category Tags
 */
export class DeferredClient extends Context.Tag("@ballast/anthropic/DeferredClient")<
  DeferredClient,
  DeferredClient.Service
>() {}

/**
 * @since 0.1.0
 * @category Models
 */
export declare namespace DeferredClient {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Service {
    readonly config: Config
    /** Calls waiting in the open window. */
    readonly pending: Effect.Effect<number>
    /** Close the open window now (if it holds calls) and send it. */
    readonly flush: Effect.Effect<void>
    /** Windows closed so far, oldest first (the last 1,000). */
    readonly windows: Effect.Effect<ReadonlyArray<WindowReport>>
  }
}

/**
 * Custom ids of deferred calls: `w<window>-<n>` (`n` from 0 in the order the calls joined).
 *
 * @since 0.1.0
 * @category Models
 */
export const customId: (window: number, n: number) => string = internal.customId

/**
 * The typed error a caller gets for a request that did not succeed in its batch — the class the same
 * failure has as a direct call:
 * - `errored` with an API error type (after the submitter's resubmissions): that type's class
 *   (`overloaded_error` → `Overloaded`, `invalid_request_error` → `InvalidRequest`, …);
 * - the batch create refused (400/413): that refusal;
 * - `expired`: `Timeout` with `errorType: "batch_expired"`;
 * - `canceled`: `UnknownApiError` with `errorType: "batch_canceled"`;
 * - a submission that stopped: its client error as is; a journal or submitter problem: `SdkError`
 *   (`errorType: "batch_error"`).
 *
 * @since 0.1.0
 * @category Errors
 */
export const toClientError: (
  error: BatchOutcome.RequestFailure | BatchSubmitter.SubmitError
) => AnthropicClient.ClientError = internal.toClientError

/**
 * Makes the deferred client over the `AnthropicClient` in context; its windows and batches live
 * in the `Scope`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (
  config: Config
): Effect.Effect<
  { readonly client: AnthropicClient.AnthropicClient.Service; readonly deferred: DeferredClient.Service },
  never,
  AnthropicClient.AnthropicClient | Scope.Scope
> => internal.make(config)

/**
 * A layer that replaces the `AnthropicClient` in context with the deferred client, and provides
 * the running {@link DeferredClient}.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = (
  config: Config
): Layer.Layer<AnthropicClient.AnthropicClient | DeferredClient, never, AnthropicClient.AnthropicClient> =>
  Layer.scopedContext(
    Effect.map(make(config), ({ client, deferred }) =>
      Context.make(AnthropicClientTag, client).pipe(Context.add(DeferredClient, deferred)))
  )

/**
 * A `messages.create` through the client in context, marked deferrable: the usual call for code
 * that may run under a deferred client with `defer: "marked"`.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const create = (
  params: MessageCreateParamsNonStreaming
): Effect.Effect<Message, AnthropicClient.ClientError, AnthropicClient.AnthropicClient> =>
  deferrable(Effect.flatMap(AnthropicClientTag, (client) => client.messages.create(params)))
