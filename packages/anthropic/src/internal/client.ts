import Anthropic from "@anthropic-ai/sdk"
import type { RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages"
import type { MessageBatchIndividualResponse } from "@anthropic-ai/sdk/resources/messages/batches"
import { Clock, Duration, Effect, Option, Redacted, Stream } from "effect"
import type * as Client from "../AnthropicClient.js"
import * as AnthropicError from "../AnthropicError.js"
import * as RateLimit from "../RateLimit.js"

const DEFAULT_BASE_URL = "https://api.anthropic.com"
/** Timers in the SDK are `setTimeout`s: larger values fire at once. */
const MAX_TIMEOUT_MILLIS = 2 ** 31 - 1

const toMillis = (input: Duration.DurationInput): number => {
  const millis = Duration.toMillis(Duration.decode(input))
  return Math.max(0, Math.min(MAX_TIMEOUT_MILLIS, Math.round(millis)))
}

const sdkRequestOptions = (options: Client.RequestOptions | undefined, signal: AbortSignal) => ({
  signal,
  maxRetries: 0,
  ...(options?.timeout !== undefined ? { timeout: toMillis(options.timeout) } : {}),
  ...(options?.headers !== undefined ? { headers: { ...options.headers } } : {})
})

const spanAttributes = (model: string) => ({ "gen_ai.system": "anthropic", "gen_ai.request.model": model })

/** @internal */
export const make = (options: Client.Options): Effect.Effect<Client.AnthropicClient.Service<AnthropicError.AnthropicError>> =>
  Effect.sync(() => {
    const apiKey = options.apiKey
    // The key stays inside the Redacted: the SDK asks for it per request through this function,
    // so the SDK instance never holds it in a field.
    const sdk = new Anthropic({
      apiKey: () => Promise.resolve(Redacted.value(apiKey)),
      baseURL: options.baseURL ?? DEFAULT_BASE_URL,
      maxRetries: 0,
      fetch: options.fetch,
      timeout: options.timeout === undefined ? undefined : toMillis(options.timeout),
      defaultHeaders: options.defaultHeaders === undefined ? undefined : { ...options.defaultHeaders }
    })

    const redact = (text: string): string => {
      const secret = Redacted.value(apiKey)
      return secret.length === 0 ? text : text.replaceAll(secret, "<redacted>")
    }

    const mapError = (
      error: unknown,
      context?: { readonly contentEmitted: boolean; readonly inStream: boolean }
    ): Effect.Effect<never, AnthropicError.AnthropicError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(
          AnthropicError.fromSdkError(error, {
            now,
            redact,
            contentEmitted: context?.contentEmitted,
            inStream: context?.inStream
          })
        ))

    const annotateFailure = (error: AnthropicError.AnthropicError) =>
      Effect.annotateCurrentSpan({
        "anthropic.error": error.name,
        "anthropic.error_type": error.errorType,
        "anthropic.request_id": Option.getOrElse(error.requestId, () => "")
      })

    /**
     * Runs one SDK call; interruption aborts `signal`, which aborts the fetch.
     * Keep the explicit `(signal) =>`: `Effect.tryPromise` only creates (and aborts) a signal
     * when its `try` function declares a parameter (`try.length >= 1`).
     */
    const attempt = <A>(f: (signal: AbortSignal) => PromiseLike<A>): Effect.Effect<A, AnthropicError.AnthropicError> =>
      Effect.tryPromise({ try: (signal: AbortSignal) => f(signal), catch: (error) => error }).pipe(
        Effect.catchAll((error) => mapError(error)),
        Effect.tapError(annotateFailure)
      )

    const withResponse = <A>(
      result: { readonly data: A; readonly response: Response; readonly request_id: string | null | undefined }
    ): Client.WithResponse<A> => ({
      value: result.data,
      requestId: Option.fromNullable(result.request_id),
      rateLimit: RateLimit.fromHeaders(result.response.headers)
    })

    const create: Client.Messages<AnthropicError.AnthropicError>["create"] = (params, options) =>
      attempt((signal) => sdk.messages.create(params, sdkRequestOptions(options, signal))).pipe(
        Effect.withSpan("AnthropicClient.messages.create", { attributes: spanAttributes(params.model) })
      )

    const createWithResponse: Client.Messages<AnthropicError.AnthropicError>["createWithResponse"] = (params, options) =>
      attempt((signal) => sdk.messages.create(params, sdkRequestOptions(options, signal)).withResponse()).pipe(
        Effect.map(withResponse),
        Effect.tap((r) => Effect.annotateCurrentSpan("anthropic.request_id", Option.getOrElse(r.requestId, () => ""))),
        Effect.withSpan("AnthropicClient.messages.createWithResponse", { attributes: spanAttributes(params.model) })
      )

    const streamWithResponse: Client.Messages<AnthropicError.AnthropicError>["streamWithResponse"] = (params, options) =>
      Effect.gen(function*() {
        const controller = new AbortController()
        yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
        const result = yield* attempt((signal) =>
          sdk.messages.create(
            { ...params, stream: true },
            sdkRequestOptions(options, AbortSignal.any([signal, controller.signal]))
          ).withResponse()
        )
        const opened = { ...withResponse(result), iterator: result.data[Symbol.asyncIterator]() }
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            // Abort first, so a pending body read ends; then let the SDK iterator clean up.
            controller.abort()
            void opened.iterator.return?.().catch(() => undefined)
          })
        )
        let contentEmitted = false
        let stopped = false
        const pull: Effect.Effect<RawMessageStreamEvent, Option.Option<AnthropicError.AnthropicError>> = Effect
          .tryPromise({ try: () => opened.iterator.next(), catch: (error) => error })
          .pipe(
            Effect.catchAll((error) => mapError(error, { contentEmitted, inStream: true })),
            Effect.mapError(Option.some),
            Effect.flatMap((result) => {
              if (result.done) {
                return stopped
                  ? Effect.fail(Option.none())
                  : Effect.fail(Option.some(truncated(opened, contentEmitted)))
              }
              const event = result.value
              if (event.type === "content_block_start" || event.type === "content_block_delta") contentEmitted = true
              if (event.type === "message_stop") stopped = true
              return Effect.succeed(event)
            })
          )
        const value: Stream.Stream<RawMessageStreamEvent, AnthropicError.AnthropicError> = Stream
          .repeatEffectOption(pull)
        return { value, requestId: opened.requestId, rateLimit: opened.rateLimit }
      }).pipe(
        Effect.withSpan("AnthropicClient.messages.streamWithResponse", { attributes: spanAttributes(params.model) })
      )

    const stream: Client.Messages<AnthropicError.AnthropicError>["stream"] = (params, options) =>
      Stream.unwrapScoped(Effect.map(streamWithResponse(params, options), (r) => r.value)).pipe(
        Stream.withSpan("AnthropicClient.messages.stream", { attributes: spanAttributes(params.model) })
      )

    const countTokens: Client.Messages<AnthropicError.AnthropicError>["countTokens"] = (params, options) =>
      attempt((signal) => sdk.messages.countTokens(params, sdkRequestOptions(options, signal))).pipe(
        Effect.withSpan("AnthropicClient.messages.countTokens", { attributes: spanAttributes(params.model) })
      )

    const list: Client.Models<AnthropicError.AnthropicError>["list"] = (params, options) =>
      attempt(async (signal) => {
        const out: Array<Anthropic.ModelInfo> = []
        for await (const model of sdk.models.list(params ?? {}, sdkRequestOptions(options, signal))) {
          out.push(model)
        }
        return out
      }).pipe(Effect.withSpan("AnthropicClient.models.list"))

    const retrieve: Client.Models<AnthropicError.AnthropicError>["retrieve"] = (id, params, options) =>
      attempt((signal) => sdk.models.retrieve(id, params ?? {}, sdkRequestOptions(options, signal))).pipe(
        Effect.withSpan("AnthropicClient.models.retrieve", { attributes: { "gen_ai.request.model": id } })
      )

    const batchSpan = (name: string, id?: string) =>
      Effect.withSpan(`AnthropicClient.messages.batches.${name}`, {
        attributes: id === undefined ? { "gen_ai.system": "anthropic" } : {
          "gen_ai.system": "anthropic",
          "anthropic.batch.id": id
        }
      })

    const batchCreate: Client.Batches<AnthropicError.AnthropicError>["create"] = (params, options) =>
      attempt((signal) => sdk.messages.batches.create(params, sdkRequestOptions(options, signal))).pipe(
        Effect.tap((batch) => Effect.annotateCurrentSpan("anthropic.batch.id", batch.id)),
        Effect.withSpan("AnthropicClient.messages.batches.create", {
          attributes: { "gen_ai.system": "anthropic", "anthropic.batch.request_count": params.requests.length }
        })
      )

    const batchRetrieve: Client.Batches<AnthropicError.AnthropicError>["retrieve"] = (id, params, options) =>
      attempt((signal) => sdk.messages.batches.retrieve(id, params ?? {}, sdkRequestOptions(options, signal))).pipe(
        batchSpan("retrieve", id)
      )

    const batchList: Client.Batches<AnthropicError.AnthropicError>["list"] = (params, options) =>
      attempt(async (signal) => {
        const page = await sdk.messages.batches.list(params ?? {}, sdkRequestOptions(options, signal))
        return {
          data: page.data,
          hasMore: page.has_more,
          firstId: Option.fromNullable(page.first_id),
          lastId: Option.fromNullable(page.last_id)
        }
      }).pipe(batchSpan("list"))

    const batchCancel: Client.Batches<AnthropicError.AnthropicError>["cancel"] = (id, params, options) =>
      attempt((signal) => sdk.messages.batches.cancel(id, params ?? {}, sdkRequestOptions(options, signal))).pipe(
        batchSpan("cancel", id)
      )

    const batchResults: Client.Batches<AnthropicError.AnthropicError>["results"] = (id, params, options) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const controller = new AbortController()
        yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
        const decoder = yield* attempt((signal) =>
          sdk.messages.batches.results(
            id,
            params ?? {},
            sdkRequestOptions(options, AbortSignal.any([signal, controller.signal]))
          )
        )
        const iterator = decoder[Symbol.asyncIterator]()
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            // Abort first, so a pending body read ends; then let the decoder clean up.
            controller.abort()
            void iterator.return?.().catch(() => undefined)
          })
        )
        let emitted = false
        const pull: Effect.Effect<MessageBatchIndividualResponse, Option.Option<AnthropicError.AnthropicError>> = Effect
          .tryPromise({ try: () => iterator.next(), catch: (error) => error })
          .pipe(
            Effect.catchAll((error) => mapError(error, { contentEmitted: emitted, inStream: true })),
            Effect.mapError(Option.some),
            Effect.flatMap((result) => {
              if (result.done) return Effect.fail(Option.none())
              emitted = true
              return Effect.succeed(result.value)
            })
          )
        return Stream.repeatEffectOption(pull)
      }).pipe(batchSpan("results.open", id))).pipe(
        Stream.withSpan("AnthropicClient.messages.batches.results", {
          attributes: { "gen_ai.system": "anthropic", "anthropic.batch.id": id }
        })
      )

    return {
      messages: {
        create,
        createWithResponse,
        stream,
        streamWithResponse,
        countTokens,
        batches: {
          create: batchCreate,
          retrieve: batchRetrieve,
          list: batchList,
          cancel: batchCancel,
          results: batchResults
        }
      },
      models: { list, retrieve },
      unsafeSdk: () => sdk
    }
  })

const truncated = (
  opened: { readonly requestId: Option.Option<string>; readonly rateLimit: RateLimit.RateLimit },
  contentEmitted: boolean
): AnthropicError.AnthropicError =>
  new AnthropicError.ConnectionFailed({
    status: Option.none(),
    errorType: "stream_truncated",
    errorCode: Option.none(),
    message: "The stream ended before message_stop",
    requestId: opened.requestId,
    retryAfter: Option.none(),
    shouldRetry: Option.none(),
    rateLimit: opened.rateLimit,
    inStream: true,
    contentEmitted,
    raw: Option.none()
  })
