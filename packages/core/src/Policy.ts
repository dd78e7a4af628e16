/**
 * A resilience policy as one plain value: retry timing, retry budget, circuit breaker, adaptive
 * concurrency, rate-limit pacing, deadlines and a fallback chain.
 *
 * A `Policy` is data. It does nothing by itself: it prints readably, compares by value
 * (`Equal.equals`), and can be stored, diffed and unit-tested without running a request.
 * `Resilience.make(policy)` turns it into running state (one budget, one breaker per key, one
 * limiter) shared by every call made through it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Policy, RetryBudget } from "@ballast/core"
 *
 * const policy = Policy.make({
 *   name: "search",
 *   retry: { maxRetries: 4, base: "250 millis", cap: "4 seconds" },
 *   budget: RetryBudget.tokenBucket(),
 *   breaker: CircuitBreaker.config(),
 *   deadline: "20 seconds",
 *   fallback: ["claude-sonnet-5-5", "claude-haiku-5-5"]
 * }).pipe(Policy.withAttemptTimeout("10 seconds"))
 *
 * console.log(String(policy))
 * ```
 *
 * @since 0.1.0
 */
import { Data, Duration, Option } from "effect"
import { dual } from "effect/Function"
import { NodeInspectSymbol } from "effect/Inspectable"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import type * as AdaptiveConcurrency from "./AdaptiveConcurrency.js"
import type * as Backoff from "./Backoff.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as format_ from "./internal/format.js"
import type * as RetryBudget from "./RetryBudget.js"

/**
 * Retry timing of a policy (or of one fallback step): how many retries, the backoff and how the
 * server's Retry-After is treated. See `Retry.Options` for the meaning of each field.
 *
 * @since 0.1.0
 * @category Models
 */
export class RetrySettings extends Data.Class<{
  /** Retries after the first attempt. Default: `3`. */
  readonly maxRetries: number
  /** First backoff delay. Default: `500 millis`. */
  readonly base: Duration.Duration
  /** Growth per retry. Default: `2`. */
  readonly factor: number
  /** Longest backoff delay. Default: `8 seconds`. */
  readonly cap: Duration.Duration
  /** Jitter (see `Backoff.Jitter`). Default: `"full"`. */
  readonly jitter: Backoff.Jitter
  /** Whether Retry-After raises the delay. Default: `true`. */
  readonly honourRetryAfter: boolean
  /** Longest Retry-After honoured. Default: `60 seconds`. */
  readonly maxRetryAfter: Duration.Duration
}> {}

/**
 * Options for {@link RetrySettings}; every field optional.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RetryOptions {
  readonly maxRetries?: number | undefined
  readonly base?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly cap?: Duration.DurationInput | undefined
  readonly jitter?: Backoff.Jitter | undefined
  readonly honourRetryAfter?: boolean | undefined
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/**
 * The default retry settings: 3 retries, full jitter from 500 ms doubling to 8 s, Retry-After
 * honoured up to 60 s.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaultRetry: RetrySettings = new RetrySettings({
  maxRetries: 3,
  base: Duration.millis(500),
  factor: 2,
  cap: Duration.seconds(8),
  jitter: "full",
  honourRetryAfter: true,
  maxRetryAfter: Duration.seconds(60)
})

/**
 * Builds retry settings from options, on top of `from` (default: {@link defaultRetry}).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const retrySettings = (options?: RetryOptions, from: RetrySettings = defaultRetry): RetrySettings =>
  new RetrySettings({
    maxRetries: options?.maxRetries ?? from.maxRetries,
    base: options?.base === undefined ? from.base : Duration.decode(options.base),
    factor: options?.factor ?? from.factor,
    cap: options?.cap === undefined ? from.cap : Duration.decode(options.cap),
    jitter: options?.jitter ?? from.jitter,
    honourRetryAfter: options?.honourRetryAfter ?? from.honourRetryAfter,
    maxRetryAfter: options?.maxRetryAfter === undefined ? from.maxRetryAfter : Duration.decode(options.maxRetryAfter)
  })

/**
 * One step of a fallback chain: a key (for Anthropic, a model id) and, optionally, its own retry
 * settings (otherwise the policy's).
 *
 * @since 0.1.0
 * @category Models
 */
export class FallbackStep extends Data.Class<{
  readonly key: string
  readonly retry: Option.Option<RetrySettings>
}> {}

/**
 * A fallback step given as a key, or as a key with retry options.
 *
 * @since 0.1.0
 * @category Models
 */
export type FallbackInput = string | { readonly key: string; readonly retry?: RetryOptions | undefined }

/**
 * A resilience policy. Build one with {@link make}, change it with the `with*` combinators.
 *
 * @since 0.1.0
 * @category Models
 */
export class Policy extends Data.Class<{
  /** A name for logs, spans and metrics. */
  readonly name: string
  /** Retry timing of the first step (and of fallback steps without their own). */
  readonly retry: RetrySettings
  /** A retry budget shared by every call, or none. */
  readonly budget: Option.Option<RetryBudget.Config>
  /** A circuit breaker per key (model), or none. */
  readonly breaker: Option.Option<CircuitBreaker.Config>
  /** An adaptive concurrency limiter shared by every call, or none. */
  readonly concurrency: Option.Option<AdaptiveConcurrency.Config>
  /** Whether calls wait for a used-up rate-limit window to reset instead of being refused. */
  readonly pacing: boolean
  /** Longest time one attempt may take, or none. */
  readonly attemptTimeout: Option.Option<Duration.Duration>
  /** Longest time a whole call may take, retries and fallbacks included, or none. */
  readonly deadline: Option.Option<Duration.Duration>
  /** Ordered fallback chain (see `Resilience.run` for how the chain starts). */
  readonly fallback: ReadonlyArray<FallbackStep>
}> implements Pipeable {
  /** Policies are pipeable: `policy.pipe(Policy.withDeadline("5 seconds"), Policy.named("x"))`. */
  declare readonly pipe: Pipeable["pipe"]
  /** @since 0.1.0 */
  override toString(): string {
    return format(this)
  }
  /** @since 0.1.0 */
  toJSON(): unknown {
    return format_.toJSON(this)
  }
  /** @since 0.1.0 */
  [NodeInspectSymbol](): string {
    return format(this)
  }
}

Object.defineProperty(Policy.prototype, "pipe", {
  value: function(this: Policy) {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  enumerable: false
})

/**
 * Options of {@link make}. Durations accept any `Duration.DurationInput`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Default: `"custom"`. */
  readonly name?: string | undefined
  /** Default: {@link defaultRetry}. */
  readonly retry?: RetryOptions | RetrySettings | undefined
  /** Default: none. */
  readonly budget?: RetryBudget.Config | undefined
  /** Default: none. */
  readonly breaker?: CircuitBreaker.Config | undefined
  /** Default: none. */
  readonly concurrency?: AdaptiveConcurrency.Config | undefined
  /** Default: `false`. */
  readonly pacing?: boolean | undefined
  /** Default: none. */
  readonly attemptTimeout?: Duration.DurationInput | undefined
  /** Default: none. */
  readonly deadline?: Duration.DurationInput | undefined
  /** Default: no fallback. */
  readonly fallback?: ReadonlyArray<FallbackInput> | undefined
}

const toRetry = (input: RetryOptions | RetrySettings | undefined, from?: RetrySettings): RetrySettings =>
  input instanceof RetrySettings ? input : retrySettings(input, from)

const toStep = (input: FallbackInput): FallbackStep =>
  typeof input === "string"
    ? new FallbackStep({ key: input, retry: Option.none() })
    : new FallbackStep({
      key: input.key,
      retry: input.retry === undefined ? Option.none() : Option.some(retrySettings(input.retry))
    })

const optionalDuration = (d: Duration.DurationInput | undefined) =>
  d === undefined ? Option.none() : Option.some(Duration.decode(d))

/**
 * Builds a policy. Everything left out is off, except retries ({@link defaultRetry}).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (options?: Options): Policy =>
  new Policy({
    name: options?.name ?? "custom",
    retry: toRetry(options?.retry),
    budget: Option.fromNullable(options?.budget),
    breaker: Option.fromNullable(options?.breaker),
    concurrency: Option.fromNullable(options?.concurrency),
    pacing: options?.pacing ?? false,
    attemptTimeout: optionalDuration(options?.attemptTimeout),
    deadline: optionalDuration(options?.deadline),
    fallback: Data.array((options?.fallback ?? []).map(toStep))
  })

const update = (self: Policy, patch: Partial<ConstructorParameters<typeof Policy>[0]>): Policy =>
  new Policy({ ...self, ...patch })

/**
 * Renames a policy.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const named: {
  (name: string): (self: Policy) => Policy
  (self: Policy, name: string): Policy
} = dual(2, (self: Policy, name: string) => update(self, { name }))

/**
 * Changes the retry settings; fields left out keep their current value.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withRetry: {
  (options: RetryOptions | RetrySettings): (self: Policy) => Policy
  (self: Policy, options: RetryOptions | RetrySettings): Policy
} = dual(2, (self: Policy, options: RetryOptions | RetrySettings) => update(self, { retry: toRetry(options, self.retry) }))

/**
 * Sets (or with `undefined`, removes) the retry budget.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withBudget: {
  (budget: RetryBudget.Config | undefined): (self: Policy) => Policy
  (self: Policy, budget: RetryBudget.Config | undefined): Policy
} = dual(2, (self: Policy, budget: RetryBudget.Config | undefined) => update(self, { budget: Option.fromNullable(budget) }))

/**
 * Sets (or with `undefined`, removes) the circuit breaker.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withBreaker: {
  (breaker: CircuitBreaker.Config | undefined): (self: Policy) => Policy
  (self: Policy, breaker: CircuitBreaker.Config | undefined): Policy
} = dual(
  2,
  (self: Policy, breaker: CircuitBreaker.Config | undefined) => update(self, { breaker: Option.fromNullable(breaker) })
)

/**
 * Sets (or with `undefined`, removes) the adaptive concurrency limiter.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withConcurrency: {
  (concurrency: AdaptiveConcurrency.Config | undefined): (self: Policy) => Policy
  (self: Policy, concurrency: AdaptiveConcurrency.Config | undefined): Policy
} = dual(
  2,
  (self: Policy, concurrency: AdaptiveConcurrency.Config | undefined) =>
    update(self, { concurrency: Option.fromNullable(concurrency) })
)

/**
 * Turns rate-limit pacing on or off.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withPacing: {
  (pacing: boolean): (self: Policy) => Policy
  (self: Policy, pacing: boolean): Policy
} = dual(2, (self: Policy, pacing: boolean) => update(self, { pacing }))

/**
 * Sets (or with `undefined`, removes) the per-attempt timeout.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withAttemptTimeout: {
  (timeout: Duration.DurationInput | undefined): (self: Policy) => Policy
  (self: Policy, timeout: Duration.DurationInput | undefined): Policy
} = dual(
  2,
  (self: Policy, timeout: Duration.DurationInput | undefined) =>
    update(self, { attemptTimeout: optionalDuration(timeout) })
)

/**
 * Sets (or with `undefined`, removes) the deadline of a whole call.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withDeadline: {
  (deadline: Duration.DurationInput | undefined): (self: Policy) => Policy
  (self: Policy, deadline: Duration.DurationInput | undefined): Policy
} = dual(
  2,
  (self: Policy, deadline: Duration.DurationInput | undefined) => update(self, { deadline: optionalDuration(deadline) })
)

/**
 * Replaces the fallback chain (an empty array removes it).
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withFallback: {
  (steps: ReadonlyArray<FallbackInput>): (self: Policy) => Policy
  (self: Policy, steps: ReadonlyArray<FallbackInput>): Policy
} = dual(
  2,
  (self: Policy, steps: ReadonlyArray<FallbackInput>) => update(self, { fallback: Data.array(steps.map(toStep)) })
)

/**
 * The chain of keys a call with `key` walks: `key` itself, then the fallback steps after `key`'s
 * position in the chain (all of them when `key` is not in it), without repeating `key`.
 *
 * @since 0.1.0
 * @category Fallback
 */
export const chain = (self: Policy, key: string): ReadonlyArray<FallbackStep> => {
  const index = self.fallback.findIndex((step) => step.key === key)
  const rest = (index >= 0 ? self.fallback.slice(index + 1) : self.fallback).filter((step) => step.key !== key)
  const first = index >= 0 ? self.fallback[index]! : new FallbackStep({ key, retry: Option.none() })
  return [first, ...rest]
}

/**
 * The retry settings used for one step of the chain.
 *
 * @since 0.1.0
 * @category Fallback
 */
export const retryFor = (self: Policy, step: FallbackStep): RetrySettings => Option.getOrElse(step.retry, () => self.retry)

/**
 * A readable multi-line description of a policy (also what `String(policy)` gives).
 *
 * @since 0.1.0
 * @category Formatting
 */
export const format = (self: Policy): string => format_.policy(self)
