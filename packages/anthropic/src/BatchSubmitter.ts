/**
 * Send non-urgent work through the Message Batches API — half the price, and out of the way of
 * interactive traffic — and get back exactly one outcome per `custom_id`, even across crashes.
 *
 * {@link BatchSubmitter.Service.submit} takes any number of requests and:
 * 1. checks them before anything is sent ({@link BatchInputError} names the offending `custom_id`);
 * 2. cuts them into as few batches as the API's limits allow (requests and bytes per batch);
 * 3. creates each batch through the `AnthropicClient` in context — provide the resilient client
 *    layer and these calls (create, poll, results) get its backoff on 529/429;
 * 4. polls each batch on a `Schedule` (growing interval with a cap) until it ends;
 * 5. streams the results as each batch ends, matched by `custom_id`: a message
 *    ({@link BatchOutcome.Succeeded}) or a typed failure ({@link BatchOutcome.Failed});
 * 6. resubmits, in a later batch, requests that `errored` with a retryable type (`overloaded_error`,
 *    `api_error`) or `expired`, up to `maxAttempts` attempts; `canceled` requests are reported.
 *
 * Every step is written to the {@link BatchJournal.BatchJournal} in context before it is relied on.
 * Run `submit` again with the same requests and journal after a crash: outcomes already recorded
 * are streamed first, batches already created are polled (not created again), results not yet
 * recorded are read again, and nothing is submitted twice. A crash between a create call and the
 * journal entry that records it is repaired by finding the batch in `messages.batches.list`
 * (created within `adoptWindow` of the plan, not known to the journal, with the planned number of
 * requests), checked against its results once it ends.
 *
 * @example
 * ```ts
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { AnthropicClient, BatchJournal, BatchSubmitter } from "@ballast/anthropic"
 * import { Effect, Layer, Stream } from "effect"
 *
 * declare const requests: ReadonlyArray<BatchSubmitter.Request>
 *
 * const program = Effect.gen(function*() {
 *   const submitter = yield* BatchSubmitter.BatchSubmitter
 *   yield* submitter.submit(requests).pipe(
 *     Stream.runForEach((outcome) => Effect.log(`${outcome.customId}: ${outcome._tag}`))
 *   )
 * }).pipe(
 *   Effect.provide(BatchSubmitter.layer().pipe(
 *     Layer.provide(BatchJournal.layerFile("./batches.journal.jsonl")),
 *     Layer.provide(NodeFileSystem.layer),
 *     Layer.provide(AnthropicClient.layerConfig())
 *   ))
 * )
 * ```
 *
 * Limits assumed (see reference/anthropic-api.md §4): 100,000 requests and 256 MB per batch, the
 * smaller reading of "256 MB" (256,000,000 bytes) being the default so a batch fits either way;
 * `custom_id` of 1 to 64 characters of `[a-zA-Z0-9_-]` (the API's documented pattern).
 *
 * @since 0.1.0
 */
import type { BatchCreateParams, MessageBatch } from "@anthropic-ai/sdk/resources/messages/batches"
import type { Option } from "effect"
import { Context, Data, Duration, Effect, Layer, Schedule, Stream } from "effect"
import type * as AnthropicClient from "./AnthropicClient.js"
import type * as BatchJournal from "./BatchJournal.js"
import type * as BatchOutcome from "./BatchOutcome.js"
import * as internal from "./internal/batchSubmitter.js"

/**
 * One request: a `custom_id` and the parameters of a non-streaming `messages.create`.
 *
 * @since 0.1.0
 * @category Models
 */
export type Request = BatchCreateParams.Request

/**
 * A request was refused before anything was sent: a `custom_id` the API would refuse
 * (`InvalidCustomId`), used twice (`DuplicateCustomId`), or a request too large to fit in a batch
 * even alone (`RequestTooLarge`).
 *
 * @since 0.1.0
 * @category Errors
 */
export class BatchInputError extends Data.TaggedError("BatchInputError")<{
  readonly reason: "InvalidCustomId" | "DuplicateCustomId" | "RequestTooLarge"
  readonly customId: string
  readonly message: string
}> {}

/**
 * The submission cannot go on:
 * - `Mismatch`: a batch's results do not hold exactly the planned `custom_id`s (a batch adopted
 *   after a crash was not ours, or the API lost results);
 * - `PollingStopped`: a custom poll `Schedule` ended before the batch did;
 * - `MissingRequest`: the journal needs to resubmit a `custom_id` that is not in the requests given.
 *
 * @since 0.1.0
 * @category Errors
 */
export class BatchSubmitError extends Data.TaggedError("BatchSubmitError")<{
  readonly reason: "Mismatch" | "PollingStopped" | "MissingRequest"
  readonly batchId: Option.Option<string>
  readonly message: string
}> {}

/**
 * The errors of the client's batch calls (the API's typed errors, and the policy's refusals when
 * the client is the resilient one).
 *
 * @since 0.1.0
 * @category Models
 */
export type ClientError = Effect.Effect.Error<ReturnType<AnthropicClient.Batches["create"]>>

/**
 * Why a submission stopped. Everything but {@link BatchInputError} leaves the journal consistent:
 * run the submission again to resume.
 *
 * @since 0.1.0
 * @category Models
 */
export type SubmitError = BatchInputError | BatchSubmitError | BatchJournal.BatchJournalError | ClientError

/**
 * A batch was created (or, after a crash, found again: `adopted`).
 *
 * @since 0.1.0
 * @category Events
 */
export class BatchCreated extends Data.TaggedClass("BatchCreated")<{
  /** The journal's number for the planned batch. */
  readonly plan: number
  readonly batchId: string
  readonly attempt: number
  readonly requests: number
  readonly adopted: boolean
}> {}

/**
 * A batch was polled; `batch.request_counts` is the progress the API reports.
 *
 * @since 0.1.0
 * @category Events
 */
export class BatchPolled extends Data.TaggedClass("BatchPolled")<{
  readonly plan: number
  readonly batch: MessageBatch
}> {}

/**
 * What {@link BatchSubmitter.Service.run} streams: progress, and one outcome per `custom_id`.
 *
 * @since 0.1.0
 * @category Events
 */
export type Event = BatchCreated | BatchPolled | BatchOutcome.Outcome

/**
 * The submitter's configuration, as data (see {@link config} for the defaults).
 *
 * @since 0.1.0
 * @category Models
 */
export class Config extends Data.Class<{
  readonly maxRequestsPerBatch: number
  readonly maxBytesPerBatch: number
  readonly maxAttempts: number
  readonly retryErrorTypes: ReadonlyArray<string>
  readonly pollInitial: Duration.Duration
  readonly pollFactor: number
  readonly pollMax: Duration.Duration
  readonly adoptWindow: Duration.Duration
}> {}

/**
 * Options of {@link config}, {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Requests per batch. Default: 100,000 (the API's limit). */
  readonly maxRequestsPerBatch?: number | undefined
  /** Bytes of a create request's body. Default: 256,000,000 (the API's "256 MB", read conservatively). */
  readonly maxBytesPerBatch?: number | undefined
  /** Attempts per request, the first included: a retryable result is resubmitted until then. Default: 3. */
  readonly maxAttempts?: number | undefined
  /** `error.type`s of `errored` results worth resubmitting. Default: `overloaded_error`, `api_error`. */
  readonly retryErrorTypes?: ReadonlyArray<string> | undefined
  /** First wait between polls of a batch. Default: 5 seconds. */
  readonly pollInitial?: Duration.DurationInput | undefined
  /** Each wait is the previous one times this. Default: 2. */
  readonly pollFactor?: number | undefined
  /** Longest wait between polls. Default: 1 minute. */
  readonly pollMax?: Duration.DurationInput | undefined
  /** How far before its plan a batch may have been created to be adopted after a crash. Default: 5 minutes. */
  readonly adoptWindow?: Duration.DurationInput | undefined
  /** Replaces the poll schedule built from `pollInitial`/`pollFactor`/`pollMax`; its input is the batch polled. */
  readonly poll?: Schedule.Schedule<unknown, MessageBatch> | undefined
}

/**
 * The configuration from options, defaults filled in. Two configs from the same options are equal.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const config = (options?: Options): Config =>
  new Config({
    maxRequestsPerBatch: options?.maxRequestsPerBatch ?? 100_000,
    maxBytesPerBatch: options?.maxBytesPerBatch ?? 256_000_000,
    maxAttempts: options?.maxAttempts ?? 3,
    retryErrorTypes: Data.array([...(options?.retryErrorTypes ?? ["overloaded_error", "api_error"])]),
    pollInitial: Duration.decode(options?.pollInitial ?? "5 seconds"),
    pollFactor: options?.pollFactor ?? 2,
    pollMax: Duration.decode(options?.pollMax ?? "1 minute"),
    adoptWindow: Duration.decode(options?.adoptWindow ?? "5 minutes")
  })

/**
 * The default poll schedule of a configuration: waits of `pollInitial × pollFactorⁿ`, never more
 * than `pollMax`, forever.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const pollSchedule = (config: Config): Schedule.Schedule<unknown> =>
  Schedule.exponential(config.pollInitial, config.pollFactor).pipe(
    Schedule.union(Schedule.spaced(config.pollMax)),
    Schedule.asVoid
  )

/**
 * The batch submitter.
 *
 * @since 0.1.0
 * @category Tags
 */
export class BatchSubmitter extends Context.Tag("@ballast/anthropic/BatchSubmitter")<
  BatchSubmitter,
  BatchSubmitter.Service
>() {}

/**
 * @since 0.1.0
 * @category Models
 */
export declare namespace BatchSubmitter {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Service {
    readonly config: Config
    /**
     * Submit requests; stream one outcome per `custom_id` (on a resumed run, those the journal
     * already holds come first). Fails with {@link BatchInputError} before anything is sent.
     */
    readonly submit: (requests: Iterable<Request>) => Stream.Stream<BatchOutcome.Outcome, SubmitError>
    /** {@link Service.submit} with progress events: batches created and polled. */
    readonly run: (requests: Iterable<Request>) => Stream.Stream<Event, SubmitError>
  }
}

/**
 * Builds a submitter over the `AnthropicClient` and `BatchJournal` in context.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (
  options?: Options
): Effect.Effect<BatchSubmitter.Service, never, AnthropicClient.AnthropicClient | BatchJournal.BatchJournal> =>
  internal.make(config(options), options?.poll)

/**
 * @since 0.1.0
 * @category Layers
 */
export const layer = (
  options?: Options
): Layer.Layer<BatchSubmitter, never, AnthropicClient.AnthropicClient | BatchJournal.BatchJournal> =>
  Layer.effect(BatchSubmitter, make(options))

/**
 * Submit with the {@link BatchSubmitter} in context.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const submit = (
  requests: Iterable<Request>
): Stream.Stream<BatchOutcome.Outcome, SubmitError, BatchSubmitter> =>
  Stream.unwrap(Effect.map(BatchSubmitter, (submitter) => submitter.submit(requests)))
