/**
 * The official Anthropic SDK as an Effect service.
 *
 * The SDK is built with `maxRetries: 0`: every retry belongs to ballast policies. Every call
 * fails with a typed {@link AnthropicError.AnthropicError}, runs in a span, and aborts its HTTP
 * request when the fiber is interrupted (for streams: when the consumer stops or is interrupted).
 *
 * @since 0.1.0
 */
import type Anthropic from "@anthropic-ai/sdk"
import type {
  Message,
  MessageCountTokensParams,
  MessageCreateParamsBase,
  MessageCreateParamsNonStreaming,
  MessageTokensCount,
  RawMessageStreamEvent
} from "@anthropic-ai/sdk/resources/messages"
import type {
  BatchCancelParams,
  BatchCreateParams,
  BatchListParams,
  BatchResultsParams,
  BatchRetrieveParams,
  MessageBatch,
  MessageBatchIndividualResponse
} from "@anthropic-ai/sdk/resources/messages/batches"
import type { ModelInfo, ModelListParams, ModelRetrieveParams } from "@anthropic-ai/sdk/resources/models"
import type { ConfigError, Duration, Scope, Stream } from "effect"
import { Config, Context, Effect, Layer, Option } from "effect"
import type * as Redacted from "effect/Redacted"
import type { Resilience } from "@ballast/core"
import type * as AnthropicError from "./AnthropicError.js"
import * as internal from "./internal/client.js"
import type * as RateLimit from "./RateLimit.js"

/**
 * The Anthropic client service.
 *
 * @since 0.1.0
 * @category Tags
 */
export class AnthropicClient extends Context.Tag("@ballast/anthropic/AnthropicClient")<
  AnthropicClient,
  AnthropicClient.Service
>() {}

/**
 * @since 0.1.0
 * @category Models
 */
export declare namespace AnthropicClient {
  /**
   * @since 0.1.0
   * @category Models
   */
  /**
   * The service. `E` is what its calls may fail with: {@link ClientError} for the service in
   * context (which may be the resilient one); `make` returns the plain client, whose calls fail only
   * with the API's errors.
   */
  export interface Service<E = ClientError> {
    readonly messages: Messages<E>
    readonly models: Models<E>
    /**
     * The underlying SDK instance (built with `maxRetries: 0`). Calls made on it bypass
     * typed errors, spans and interruption; prefer the service methods.
     */
    readonly unsafeSdk: () => Anthropic
  }
}

/**
 * The failures of the service's calls: the API's typed errors and, when the client is the resilient
 * one (`ResilientClient.layer`), the policy's own refusals — retry budget exhausted, circuit open,
 * load shed, attempt timeout, deadline exceeded (see `Resilience.PolicyError` in `@ballast/core`).
 *
 * @since 0.1.0
 * @category Models
 */
export type ClientError = AnthropicError.AnthropicError | Resilience.PolicyError<unknown>

/**
 * `messages.*` of the service.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Messages<E = ClientError> {
  /** `POST /v1/messages`, non-streaming. */
  readonly create: (
    params: MessageCreateParamsNonStreaming,
    options?: RequestOptions
  ) => Effect.Effect<Message, E>
  /** {@link Messages.create} with the request id and rate-limit headers of the successful response. */
  readonly createWithResponse: (
    params: MessageCreateParamsNonStreaming,
    options?: RequestOptions
  ) => Effect.Effect<WithResponse<Message>, E>
  /**
   * `POST /v1/messages` with `stream: true`, as a `Stream` of the SDK's raw events
   * (`message_start`, `content_block_*`, `message_delta`, `message_stop`; `ping` is skipped).
   *
   * An `event: error` fails the stream with the class of its `type` (`inStream: true`,
   * `contentEmitted` set if a `content_block_start`/`content_block_delta` came before it). A body
   * that ends without `message_stop` fails with `ConnectionFailed` (`errorType: "stream_truncated"`).
   * Ending or interrupting the consumer aborts the request.
   */
  readonly stream: (
    params: StreamParams,
    options?: RequestOptions
  ) => Stream.Stream<RawMessageStreamEvent, E>
  /**
   * Opens the stream and succeeds once the response headers arrive, with the request id and
   * rate-limit headers. The events stream can be consumed once, inside the scope; closing the
   * scope aborts the request.
   */
  readonly streamWithResponse: (
    params: StreamParams,
    options?: RequestOptions
  ) => Effect.Effect<
    WithResponse<Stream.Stream<RawMessageStreamEvent, E>>,
    E,
    Scope.Scope
  >
  /** `POST /v1/messages/count_tokens`. */
  readonly countTokens: (
    params: MessageCountTokensParams,
    options?: RequestOptions
  ) => Effect.Effect<MessageTokensCount, E>
  /** The Message Batches API (`/v1/messages/batches`). */
  readonly batches: Batches<E>
}

/**
 * `messages.batches.*` of the service: the Message Batches API. Each method is one HTTP
 * request (except `results`: the SDK retrieves the batch, then downloads its `results_url`),
 * so a policy wrapped around it retries exactly that request.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Batches<E = ClientError> {
  /** `POST /v1/messages/batches`. */
  readonly create: (
    params: BatchCreateParams,
    options?: RequestOptions
  ) => Effect.Effect<MessageBatch, E>
  /** `GET /v1/messages/batches/{id}`: idempotent, the call to poll with. */
  readonly retrieve: (
    id: string,
    params?: BatchRetrieveParams,
    options?: RequestOptions
  ) => Effect.Effect<MessageBatch, E>
  /** `GET /v1/messages/batches`: one page, newest first; pass `after_id: page.lastId` for the next. */
  readonly list: (
    params?: BatchListParams,
    options?: RequestOptions
  ) => Effect.Effect<BatchPage, E>
  /** `POST /v1/messages/batches/{id}/cancel`: the batch moves to `canceling`. */
  readonly cancel: (
    id: string,
    params?: BatchCancelParams,
    options?: RequestOptions
  ) => Effect.Effect<MessageBatch, E>
  /**
   * The results of an ended batch, decoded line by line from its `results_url` (JSONL, in no
   * particular order: match them by `custom_id`). Fails with `SdkError` when the batch has no
   * `results_url` yet. Ending or interrupting the consumer aborts the download.
   */
  readonly results: (
    id: string,
    params?: BatchResultsParams,
    options?: RequestOptions
  ) => Stream.Stream<MessageBatchIndividualResponse, E>
}

/**
 * One page of {@link Batches.list}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BatchPage {
  readonly data: ReadonlyArray<MessageBatch>
  readonly hasMore: boolean
  /** Id of the first (newest) batch of the page; pass it as `before_id` for the previous page. */
  readonly firstId: Option.Option<string>
  /** Id of the last (oldest) batch of the page; pass it as `after_id` for the next page. */
  readonly lastId: Option.Option<string>
}

/**
 * `models.*` of the service.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Models<E = ClientError> {
  /** `GET /v1/models`, every page collected (newest first). */
  readonly list: (
    params?: ModelListParams,
    options?: RequestOptions
  ) => Effect.Effect<ReadonlyArray<ModelInfo>, E>
  /** `GET /v1/models/{id}` (resolves aliases). */
  readonly retrieve: (
    id: string,
    params?: ModelRetrieveParams,
    options?: RequestOptions
  ) => Effect.Effect<ModelInfo, E>
}

/**
 * The parameters of {@link Messages.stream}: those of `messages.create` without `stream`.
 *
 * @since 0.1.0
 * @category Models
 */
export type StreamParams = Omit<MessageCreateParamsBase, "stream">

/**
 * A successful result with the response metadata that pacing policies need.
 *
 * @since 0.1.0
 * @category Models
 */
export interface WithResponse<A> {
  readonly value: A
  /** The `request-id` header. */
  readonly requestId: Option.Option<string>
  /** The `anthropic-ratelimit-*` headers. */
  readonly rateLimit: RateLimit.RateLimit
  /**
   * Set by the resilient client (`ResilientClient.layer`): the route the call took down the policy's
   * fallback chain — which model served it and why the models before it were left.
   */
  readonly route?: ReadonlyArray<Resilience.RouteStep> | undefined
}

/**
 * Per-call options.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RequestOptions {
  /** Time allowed until the response headers arrive (the SDK `timeout`). Default: the client's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * A `fetch` implementation, as the SDK accepts it.
 *
 * @since 0.1.0
 * @category Models
 */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** The API key; it is never printed, logged or put in an error. */
  readonly apiKey: Redacted.Redacted<string>
  /** Default: `https://api.anthropic.com` (the `ANTHROPIC_BASE_URL` variable is not read by `layer`). */
  readonly baseURL?: string | undefined
  /** Default: `globalThis.fetch`. */
  readonly fetch?: Fetch | undefined
  /** Per attempt, until response headers arrive (the SDK `timeout`). Default: 10 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Headers sent with every request. */
  readonly defaultHeaders?: Readonly<Record<string, string>> | undefined
}

/**
 * Builds the service. The SDK is created with `maxRetries: 0`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options: Options) => Effect.Effect<AnthropicClient.Service<AnthropicError.AnthropicError>> =
  internal.make

/**
 * @since 0.1.0
 * @category Layers
 */
export const layer = (options: Options): Layer.Layer<AnthropicClient> => Layer.effect(AnthropicClient, make(options))

/**
 * Options of {@link layerConfig}: where to read the key and base URL, plus the plain options.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ConfigOptions extends Omit<Options, "apiKey" | "baseURL"> {
  /** Default: `Config.redacted("ANTHROPIC_API_KEY")`. */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default: `Config.option(Config.string("ANTHROPIC_BASE_URL"))`. */
  readonly baseURL?: Config.Config<Option.Option<string>> | undefined
}

/**
 * A layer that reads `ANTHROPIC_API_KEY` (redacted) and the optional `ANTHROPIC_BASE_URL`
 * from the `ConfigProvider`.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig = (
  options?: ConfigOptions
): Layer.Layer<AnthropicClient, ConfigError.ConfigError> =>
  Layer.effect(
    AnthropicClient,
    Effect.gen(function*() {
      const { apiKey: apiKeyConfig, baseURL: baseURLConfig, ...rest } = options ?? {}
      const apiKey = yield* apiKeyConfig ?? Config.redacted("ANTHROPIC_API_KEY")
      const baseURL = yield* baseURLConfig ?? Config.option(Config.string("ANTHROPIC_BASE_URL"))
      return yield* make({ ...rest, apiKey, baseURL: Option.getOrUndefined(baseURL) })
    })
  )
