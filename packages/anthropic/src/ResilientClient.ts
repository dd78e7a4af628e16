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
 *   connection errors) are retried and fall back; the open stream holds no permit (see
 *   `StreamRecovery` for failures inside a stream).
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
    resilience.run(
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
  { readonly client: AnthropicClient.Service; readonly resilience: Resilience.Service },
  never,
  AnthropicClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const base = yield* AnthropicClient
    const resilience = yield* Resilience.make(policy)
    return { client: wrap(base, resilience), resilience }
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
): Layer.Layer<AnthropicClient | Resilience.Resilience, never, AnthropicClient> =>
  Layer.scopedContext(
    Effect.map(make(policy), ({ client, resilience }) =>
      Context.make(AnthropicClient, client).pipe(Context.add(Resilience.Resilience, resilience)))
  )
