/**
 * An `AnthropicClient` whose every call goes through a `Policy`.
 *
 * `layer(policy)` wraps the `AnthropicClient` it is given (the plain SDK service, or anything else
 * that provides the tag) and provides both the wrapped `AnthropicClient` and the running
 * `Resilience` (to read events, breaker states, the budget level or the concurrency limit).
 *
 * - `messages.create` / `createWithResponse` walk the policy's fallback chain from the request's
 *   `model`; the step's model replaces `model` in the request. `createWithResponse` returns the
 *   route the call took.
 * - `messages.stream` / `streamWithResponse`: failures before the response starts (HTTP 529/429/5xx,
 *   connection errors) are retried and fall back; the open stream keeps its concurrency permit until
 *   it ends. For failures inside a stream (overload after HTTP 200, stalls, cut connections) use
 *   {@link stream}: `StreamRecovery` with this policy as its runner, provided by the same layer.
 * - `countTokens`, `models.*` and `messages.batches.*` are retried under the policy without fallback;
 *   `batches.results` is passed through.
 * - With `pacing`, the `anthropic-ratelimit-*` headers of every response feed the pacer, so a call
 *   waits for a used-up window to reset instead of being refused.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AnthropicClient, Presets, ResilientClient } from "@ballast/anthropic"
 *
 * const ClientLive = ResilientClient.layer(Presets.interactive).pipe(
 *   Layer.provide(AnthropicClient.layerConfig())
 * )
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* AnthropicClient.AnthropicClient
 *   return yield* client.messages.create({
 *     model: "claude-opus-5-5",
 *     max_tokens: 256,
 *     messages: [{ role: "user", content: "Hello" }]
 *   })
 * }).pipe(Effect.provide(ClientLive))
 * ```
 *
 * @since 0.1.0
 */
import type { Policy } from "@ballast/core"
import { Resilience } from "@ballast/core"
import type { Scope } from "effect"
import { Context, DateTime, Effect, Layer, Option, Stream } from "effect"
import { AnthropicClient } from "./AnthropicClient.js"
import type * as Client from "./AnthropicClient.js"
import type * as RateLimit from "./RateLimit.js"
import * as StreamRecovery from "./StreamRecovery.js"

const windowsOf = (rateLimit: RateLimit.RateLimit) => {
  const out: Array<{ name: string; remaining: number; resetAt: number }> = []
  const add = (name: string, window: RateLimit.Window) => {
    if (Option.isSome(window.remaining) && Option.isSome(window.reset)) {
      out.push({ name, remaining: window.remaining.value, resetAt: DateTime.toEpochMillis(window.reset.value) })
    }
  }
  add("requests", rateLimit.requests)
  add("tokens", rateLimit.tokens)
  add("input-tokens", rateLimit.inputTokens)
  add("output-tokens", rateLimit.outputTokens)
  return out
}

/**
 * Wraps a client in a running policy.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const wrap = (base: AnthropicClient.Service, resilience: Resilience.Service): AnthropicClient.Service => {

  const observe = <A>(response: Client.WithResponse<A>): Effect.Effect<void> =>
    Option.isSome(resilience.pacer) ? resilience.pacer.value.observe(windowsOf(response.rateLimit)) : Effect.void

  const createWithResponse: Client.Messages["createWithResponse"] = (params, options) =>
    resilience.run(
      ({ key }) => Effect.tap(base.messages.createWithResponse({ ...params, model: key }, options), observe),
      { key: params.model }
    ).pipe(Effect.map((routed) => ({ ...routed.value, route: routed.route })))

  const streamWithResponse: Client.Messages["streamWithResponse"] = (params, options) =>
    resilience.runScoped(
      ({ key }) => Effect.tap(base.messages.streamWithResponse({ ...params, model: key }, options), observe),
      { key: params.model }
    ).pipe(Effect.map((routed) => ({ ...routed.value, route: routed.route })))

  const stream: Client.Messages["stream"] = (params, options) =>
    Stream.unwrapScoped(
      Effect.map(streamWithResponse(params, options), (response) => response.value)
    )

  return {
    ...base,
    messages: {
      ...base.messages,
      create: (params, options) => Effect.map(createWithResponse(params, options), (response) => response.value),
      createWithResponse,
      stream,
      streamWithResponse,
      countTokens: (params, options) => resilience.apply(base.messages.countTokens(params, options)),
      batches: {
        ...base.messages.batches,
        create: (params, options) => resilience.apply(base.messages.batches.create(params, options)),
        retrieve: (id, params, options) => resilience.apply(base.messages.batches.retrieve(id, params, options)),
        list: (params, options) => resilience.apply(base.messages.batches.list(params, options)),
        cancel: (id, params, options) => resilience.apply(base.messages.batches.cancel(id, params, options))
      }
    },
    models: {
      list: (params, options) => resilience.apply(base.models.list(params, options)),
      retrieve: (id, params, options) => resilience.apply(base.models.retrieve(id, params, options))
    }
  }
}

/**
 * Makes the running policy and the wrapped client from the `AnthropicClient` in context.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (
  policy: Policy.Policy
): Effect.Effect<
  {
    readonly client: AnthropicClient.Service
    readonly resilience: Resilience.Service
    readonly streams: ResilientStreams.Service
  },
  never,
  AnthropicClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const base = yield* AnthropicClient
    const resilience = yield* Resilience.make(policy)
    const runner = streamRunner(resilience)
    const streams: ResilientStreams.Service = {
      stream: (params, options) =>
        StreamRecovery.stream(params, { ...options, runner }).pipe(Stream.provideService(AnthropicClient, base))
    }
    return { client: wrap(base, resilience), resilience, streams }
  })

/**
 * A layer that replaces the `AnthropicClient` in context with one whose every call goes through
 * `policy`, and provides the running `Resilience`.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = (
  policy: Policy.Policy
): Layer.Layer<AnthropicClient | Resilience.Resilience | ResilientStreams, never, AnthropicClient> =>
  Layer.scopedContext(
    Effect.map(make(policy), ({ client, resilience, streams }) =>
      Context.make(AnthropicClient, client).pipe(
        Context.add(Resilience.Resilience, resilience),
        Context.add(ResilientStreams, streams)
      ))
  )

/**
 * A `StreamRecovery.Runner` that runs each leg of a stream under a running policy: retries,
 * budget, breaker and fallback before the first content, and the concurrency permit held for as
 * long as the leg's HTTP stream is open.
 *
 * @since 0.1.0
 * @category Streams
 */
export const streamRunner = (
  resilience: Resilience.Service
): StreamRecovery.Runner<Resilience.PolicyError<unknown>> =>
(attempt, options) => Effect.map(resilience.runScoped(attempt, options), (routed) => routed.value)

/**
 * Options of {@link stream}: those of `StreamRecovery.stream` but the runner (the layer's policy).
 *
 * @since 0.1.0
 * @category Streams
 */
export type StreamOptions = Omit<StreamRecovery.Options<Resilience.PolicyError<unknown>>, "runner">

/**
 * Resilient streams under the layer's policy: `StreamRecovery.stream` over the plain client, with
 * the policy as its runner (so retries are not made twice).
 *
 * @since 0.1.0
 * @category Streams
 */
export class ResilientStreams extends Context.Tag("@ballast/anthropic/ResilientClient/ResilientStreams")<
  ResilientStreams,
  ResilientStreams.Service
>() {}

/**
 * @since 0.1.0
 * @category Streams
 */
export declare namespace ResilientStreams {
  /**
   * @since 0.1.0
   * @category Streams
   */
  export interface Service {
    readonly stream: (
      params: StreamRecovery.Params,
      options?: StreamOptions
    ) => Stream.Stream<StreamRecovery.Event, StreamRecovery.Failure<Resilience.PolicyError<unknown>>>
  }
}

/**
 * A recovering `messages.stream` under the policy of the `ResilientClient.layer` in context:
 * failures before content are retried (and fall back) under the policy, failures after content are
 * handled by the strategy (`"continue"` by default), and stalls are typed errors.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { AnthropicClient, Presets, ResilientClient, StreamRecovery } from "@ballast/anthropic"
 *
 * const program = ResilientClient.stream(
 *   { model: "claude-sonnet-5-5", max_tokens: 1024, messages: [{ role: "user", content: "Tell a story" }] },
 *   { strategy: "continue", idleTimeout: "30 seconds" }
 * ).pipe(
 *   Stream.runForEach((event) => Effect.sync(() => process.stdout.write(StreamRecovery.textOf(event)))),
 *   Effect.provide(ResilientClient.layer(Presets.interactive).pipe(Layer.provide(AnthropicClient.layerConfig())))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Streams
 */
export const stream = (
  params: StreamRecovery.Params,
  options?: StreamOptions
): Stream.Stream<StreamRecovery.Event, StreamRecovery.Failure<Resilience.PolicyError<unknown>>, ResilientStreams> =>
  Stream.unwrap(Effect.map(ResilientStreams, (streams) => streams.stream(params, options)))
