/**
 * A {@link Policy.Policy} made real: one retry budget, one circuit breaker per key, one adaptive
 * limiter and one rate-limit pacer, shared by every call made through it, with a stream of typed
 * events, spans and metrics.
 *
 * Inside one attempt the order is: pacing wait → circuit breaker (per key) → concurrency permit (per
 * key) → attempt timeout → the call. Between attempts `Retry.schedule` chooses the delay (backoff raised
 * to Retry-After, never past the deadline) and the budget is asked for a token. When a step gives
 * up on an overload-class failure (or its circuit is open), the call moves to the next step of the
 * fallback chain; an invalid request never falls back and is never retried.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Policy, Resilience, RetryBudget } from "@ballast/core"
 *
 * declare const call: (model: string) => Effect.Effect<string, Error>
 *
 * const policy = Policy.make({ budget: RetryBudget.tokenBucket(), fallback: ["big", "small"] })
 *
 * const program = Effect.gen(function*() {
 *   const resilience = yield* Resilience.make(policy)
 *   const routed = yield* resilience.run((attempt) => call(attempt.key), { key: "big" })
 *   return `${routed.value} (served by ${routed.key})`
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Option, Scope, Stream } from "effect"
import { Context, Data, Effect, Layer, Metric } from "effect"
import { dual } from "effect/Function"
import type * as AdaptiveConcurrency from "./AdaptiveConcurrency.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as Classification from "./Classification.js"
import * as internal from "./internal/resilience.js"
import type * as Pacing from "./Pacing.js"
import type * as Policy from "./Policy.js"
import type * as RetryBudget from "./RetryBudget.js"

/**
 * One attempt of a one step took longer than the policy's `attemptTimeout`. Retryable (transient).
 *
 * @since 0.1.0
 * @category Errors
 */
export class AttemptTimeout extends Data.TaggedError("AttemptTimeout")<{
  readonly timeout: Duration.Duration
}> implements Classification.Classifiable {
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return Classification.make("Transient")
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `The attempt took longer than its timeout`
  }
}

/**
 * The whole call (retries and fallbacks included) passed the policy's `deadline`. Not retryable.
 *
 * @since 0.1.0
 * @category Errors
 */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{
  readonly deadline: Duration.Duration
}> implements Classification.Classifiable {
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return Classification.make("Transient", { retryable: false })
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `The call passed its deadline`
  }
}

/**
 * The failures a policy adds to those of the call itself.
 *
 * @since 0.1.0
 * @category Errors
 */
export type PolicyError<E> =
  | RetryBudget.RetryBudgetExhausted<E>
  | CircuitBreaker.CircuitOpen
  | AdaptiveConcurrency.LoadShed
  | AttemptTimeout
  | DeadlineExceeded

/**
 * What a call's attempt function is told.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Attempt {
  /** The key of the current step of the chain (for Anthropic: the model). */
  readonly key: string
  /** 1-based attempt number within the current step. */
  readonly attempt: number
  /** 0-based index of the step in the chain (0 = the key the call asked for). */
  readonly step: number
}

/**
 * Why a step of the chain was left.
 *
 * - `"circuit-open"`: its breaker refused the call; no request was sent.
 * - `"load-shed"`: its concurrency limiter's queue was full or timed out; no request was sent.
 * - `"not-retryable" | "max-retries" | "max-elapsed" | "deadline"`: `Retry.GiveUp` reasons.
 * - `"budget"`: the retry budget refused a retry.
 *
 * @since 0.1.0
 * @category Models
 */
export type LeftReason = "circuit-open" | "load-shed" | "not-retryable" | "max-retries" | "max-elapsed" | "deadline" | "budget"

/**
 * One step of the chain a call walked.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RouteStep {
  readonly key: string
  /** Attempts sent for this step (a refusal by an open circuit counts as none). */
  readonly attempts: number
  /** `"served"` for the step that answered; the reason the step was left otherwise. */
  readonly outcome: "served" | LeftReason
  /** The last failure of a step that was left. */
  readonly error: Option.Option<unknown>
}

/**
 * A result with the key that served it and the route the call took.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Routed<A> {
  readonly value: A
  /** The key of the step that served the call. */
  readonly key: string
  readonly route: ReadonlyArray<RouteStep>
}

/**
 * What happens inside a policy, as typed values (see {@link Service.events}).
 *
 * @since 0.1.0
 * @category Events
 */
export type Event = Data.TaggedEnum<{
  /** An attempt failed. */
  AttemptFailed: {
    readonly key: string
    readonly attempt: number
    readonly error: unknown
    readonly classification: Classification.Classification
    readonly at: number
  }
  /** A retry was scheduled after `delay`. */
  RetryScheduled: {
    readonly key: string
    readonly attempt: number
    readonly delay: Duration.Duration
    readonly reason: "backoff" | "retry-after"
    readonly at: number
  }
  /** The call moved from one step of the chain to the next. */
  FellBack: { readonly from: string; readonly to: string; readonly reason: LeftReason; readonly at: number }
  /** A call succeeded. */
  Succeeded: { readonly key: string; readonly attempts: number; readonly elapsed: number; readonly at: number }
  /** A call failed for good. */
  GaveUp: {
    readonly key: string
    readonly attempts: number
    readonly reason: LeftReason | "deadline-exceeded" | "no-fallback"
    readonly error: unknown
    readonly at: number
  }
}>

/**
 * Constructors and matchers of {@link Event}.
 *
 * @since 0.1.0
 * @category Events
 */
export const Event = Data.taggedEnum<Event>()

/**
 * Options of {@link Service.run}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RunOptions {
  /** The key the call asks for (for Anthropic: the request's model). Default: `"default"`. */
  readonly key?: string | undefined
  /** Whether the call may move down the fallback chain. Default: `true`. */
  readonly fallback?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category Models
 */
export interface Service {
  readonly policy: Policy.Policy
  /**
   * Runs a call under the policy. `attempt` is called once per attempt with the step's key; the
   * result says which key served it and why earlier steps were left.
   */
  readonly run: <A, E, R>(
    attempt: (attempt: Attempt) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) => Effect.Effect<Routed<A>, E | PolicyError<E>, R>
  /**
   * {@link Service.run} for calls whose result keeps using the connection (an open stream): the
   * concurrency permit of the attempt that succeeds is held until the caller's `Scope` closes, and
   * the outcome the limiter records is that scope's exit. Failed attempts return theirs at once.
   */
  readonly runScoped: <A, E, R>(
    attempt: (attempt: Attempt) => Effect.Effect<A, E, R>,
    options?: RunOptions
  ) => Effect.Effect<Routed<A>, E | PolicyError<E>, R | Scope.Scope>
  /** Runs one effect under the policy (no fallback: there is no key to change). */
  readonly apply: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PolicyError<E>, R>
  /** Every event of every call, from the moment of subscription. */
  readonly events: Stream.Stream<Event>
  /** The retry budget, if the policy has one. */
  readonly budget: Option.Option<RetryBudget.RetryBudget>
  /** The circuit breakers (one per key), if the policy has them. */
  readonly breakers: Option.Option<CircuitBreaker.Keyed>
  /** The adaptive limiters (one per key: capacity is per model), if the policy has them. */
  readonly concurrency: Option.Option<Limiters>
  /** The rate-limit pacer, if the policy paces. Provider layers feed it the rate-limit headers. */
  readonly pacer: Option.Option<Pacing.Pacer>
}

/**
 * The metrics every running policy updates, each tagged `policy` with the policy's name
 * (`ballast_breaker_state` also `key`). Read one with
 * `Metric.value(Metric.tagged(Resilience.metrics.attempts, "policy", "interactive"))`.
 *
 * @since 0.1.0
 * @category Metrics
 */
export const metrics = {
  /** `ballast_attempts_total`: attempts sent (refusals by an open circuit included). */
  attempts: Metric.counter("ballast_attempts_total", { description: "Attempts under a ballast policy", incremental: true }),
  /** `ballast_retries_total`: retries scheduled. */
  retries: Metric.counter("ballast_retries_total", { description: "Retries scheduled by a ballast policy", incremental: true }),
  /** `ballast_give_ups_total`: calls that failed for good. */
  giveUps: Metric.counter("ballast_give_ups_total", { description: "Calls that failed for good", incremental: true }),
  /** `ballast_fallbacks_total`: moves to the next step of a fallback chain. */
  fallbacks: Metric.counter("ballast_fallbacks_total", { description: "Moves down a fallback chain", incremental: true }),
  /** `ballast_budget_level`: share of the retry budget left (0..1), sampled when a retry is asked. */
  budgetLevel: Metric.gauge("ballast_budget_level", { description: "Share of the retry budget left" }),
  /** `ballast_concurrency_limit`: per key, the adaptive limiter's current limit. */
  concurrencyLimit: Metric.gauge("ballast_concurrency_limit", { description: "Adaptive concurrency limit" }),
  /** `ballast_breaker_state`: per key, 0 closed, 0.5 half-open, 1 open. */
  breakerState: Metric.gauge("ballast_breaker_state", { description: "Circuit state: 0 closed, 0.5 half-open, 1 open" })
} as const

/**
 * The adaptive concurrency limiters of a running policy, one per key (made on first use).
 *
 * @since 0.1.0
 * @category Models
 */
export interface Limiters {
  readonly get: (key: string) => Effect.Effect<AdaptiveConcurrency.AdaptiveConcurrency>
  readonly all: Effect.Effect<ReadonlyMap<string, AdaptiveConcurrency.AdaptiveConcurrency>>
}

/**
 * The running policy as a service, for code that wants to read its events or state.
 *
 * @since 0.1.0
 * @category Tags
 */
export class Resilience extends Context.Tag("@ballast/core/Resilience")<Resilience, Service>() {}

/**
 * Makes the running state of a policy. Background work (metric gauges that follow the breakers and
 * the limiter) lives in the scope.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (policy: Policy.Policy) => Effect.Effect<Service, never, Scope.Scope> = internal.make

/**
 * A layer of {@link Resilience} for a policy.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = (policy: Policy.Policy): Layer.Layer<Resilience> => Layer.scoped(Resilience, make(policy))

/**
 * Applies a policy to one effect with fresh state. Handy for a one-off; to share a budget, breakers
 * and a limiter between calls, use {@link make} once and its `apply`/`run`.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const apply: {
  (policy: Policy.Policy): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PolicyError<E>, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Policy.Policy): Effect.Effect<A, E | PolicyError<E>, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Policy.Policy) => applyFresh(self, policy)
)

const applyFresh = <A, E, R>(self: Effect.Effect<A, E, R>, policy: Policy.Policy) =>
  Effect.scoped(Effect.flatMap(make(policy), (r) => r.apply(self)))
