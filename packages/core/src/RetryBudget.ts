/**
 * Retry budgets: a bound on how many retries a whole client makes, shared by all its calls.
 *
 * Per-call limits (`Retry.schedule`'s `maxRetries`) bound one call; they do not stop a thousand calls
 * from each retrying three times into an outage, quadrupling the load on a server that is already
 * over capacity. A budget shared by every call does: when most calls fail, retries run out and calls
 * fail fast; when calls succeed again, the budget refills.
 *
 * Two forms, both plain data:
 *
 * - {@link TokenBucket} (the AWS SDKs' "standard" retry quota): a bucket of 500 tokens; a retry takes
 *   5 (10 after a `Transient` failure such as a timeout); a call that succeeds at once puts 1 back and
 *   one that succeeds after retrying puts back what that retry took. Refuses when the bucket cannot
 *   pay, so a wide outage drains it in about 100 retries and a healthy stream of calls refills it.
 * - {@link Ratio} (Google SRE, Finagle): retries within a sliding window may not exceed `ratio` of the
 *   calls started in it, plus a small floor (`minRetriesPerSecond`) so that a quiet client can still
 *   retry. Caps the extra load retries add at about `1 + ratio` times.
 *
 * {@link make} turns either into a running {@link RetryBudget}.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Predicate } from "effect"
import * as Classification from "./Classification.js"
import * as internal from "./internal/retryBudget.js"

/**
 * The AWS SDKs' standard retry quota.
 *
 * @since 0.1.0
 * @category Models
 */
export class TokenBucket extends Data.TaggedClass("TokenBucket")<{
  /** The most tokens the bucket holds; it starts full. */
  readonly capacity: number
  /** What a retry takes after an `Overloaded`, `RateLimited` or `Permanent` failure. */
  readonly retryCost: number
  /** What a retry takes after a `Transient` failure (timeouts, connection errors, most 5xx). */
  readonly transientCost: number
  /** What a call that succeeds on its first attempt puts back. */
  readonly successRefund: number
}> {}

/**
 * A sliding-window ratio of retries to calls, as in Google SRE's "retries < 10% of requests" and
 * Finagle's `RetryBudget`.
 *
 * @since 0.1.0
 * @category Models
 */
export class Ratio extends Data.TaggedClass("Ratio")<{
  /** Retries allowed per call started in the window. */
  readonly ratio: number
  /**
   * How far back calls and retries are counted. The window moves in steps of a tenth of its length,
   * so an event stops counting between 0.9 and 1 window after it happened.
   */
  readonly window: Duration.Duration
  /** Retries allowed per second of window whatever the traffic (`minRetriesPerSecond · window` in all). */
  readonly minRetriesPerSecond: number
}> {}

/**
 * Either form of budget.
 *
 * @since 0.1.0
 * @category Models
 */
export type Config = TokenBucket | Ratio

/**
 * The defaults of {@link tokenBucket} and {@link ratio}.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly tokenBucket: {
    readonly capacity: number
    readonly retryCost: number
    readonly transientCost: number
    readonly successRefund: number
  }
  readonly ratio: {
    readonly ratio: number
    readonly window: Duration.Duration
    readonly minRetriesPerSecond: number
  }
} = {
  tokenBucket: { capacity: 500, retryCost: 5, transientCost: 10, successRefund: 1 },
  ratio: { ratio: 0.1, window: Duration.seconds(10), minRetriesPerSecond: 1 }
}

const nonNegative = (n: number | undefined, fallback: number): number =>
  n === undefined || Number.isNaN(n) ? fallback : Math.max(0, n)

/**
 * A token bucket. Negative numbers are taken as `0`.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@ballast/core"
 *
 * const standard = RetryBudget.tokenBucket() // 500 tokens, 5 per retry, 10 after a transient failure
 * const small = RetryBudget.tokenBucket({ capacity: 50 })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const tokenBucket = (options?: {
  /** Default: `500`. */
  readonly capacity?: number | undefined
  /** Default: `5`. */
  readonly retryCost?: number | undefined
  /** Default: `10`. */
  readonly transientCost?: number | undefined
  /** Default: `1`. */
  readonly successRefund?: number | undefined
}): TokenBucket =>
  new TokenBucket({
    capacity: nonNegative(options?.capacity, defaults.tokenBucket.capacity),
    retryCost: nonNegative(options?.retryCost, defaults.tokenBucket.retryCost),
    transientCost: nonNegative(options?.transientCost, defaults.tokenBucket.transientCost),
    successRefund: nonNegative(options?.successRefund, defaults.tokenBucket.successRefund)
  })

/**
 * A sliding-window ratio budget. Negative numbers are taken as `0`; a window shorter than 1 ms as 1 ms.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@ballast/core"
 *
 * // at most 20% extra calls from retries over the last minute, and 30 retries a minute whatever the traffic
 * const budget = RetryBudget.ratio({ ratio: 0.2, window: "1 minute", minRetriesPerSecond: 0.5 })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const ratio = (options?: {
  /** Default: `0.1`. */
  readonly ratio?: number | undefined
  /** Default: `10 seconds`. */
  readonly window?: Duration.DurationInput | undefined
  /** Default: `1`. */
  readonly minRetriesPerSecond?: number | undefined
}): Ratio =>
  new Ratio({
    ratio: nonNegative(options?.ratio, defaults.ratio.ratio),
    window: options?.window === undefined ? defaults.ratio.window : Duration.decode(options.window),
    minRetriesPerSecond: nonNegative(options?.minRetriesPerSecond, defaults.ratio.minRetriesPerSecond)
  })

/**
 * A running budget, shared by every call of a client. The policy tells it when a call starts, asks it
 * before each retry and tells it when a call succeeds.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RetryBudget {
  readonly config: Config
  /** A call starts (its first attempt, not a retry). */
  readonly onRequest: Effect.Effect<void>
  /**
   * Withdraws for one retry of a call that failed with this classification. `false` means the budget
   * is exhausted: nothing was withdrawn and the call should give up (see {@link RetryBudgetExhausted}).
   */
  readonly tryRetry: (classification: Classification.Classification) => Effect.Effect<boolean>
  /**
   * A call succeeded. `false`: on its first attempt (the bucket gets `successRefund`). After retries,
   * pass the classification of the failure that the last (successful) retry followed: the bucket gets
   * back exactly what that retry took. `true` refunds `retryCost`, the smaller of the two costs.
   * The ratio budget ignores successes.
   */
  readonly onSuccess: (retried: boolean | Classification.Classification) => Effect.Effect<void>
  /** What is left of the budget, from `0` (no retry allowed) to `1` (full). */
  readonly level: Effect.Effect<number>
}

/**
 * Starts a budget. The token bucket starts full; the ratio budget starts with an empty window, so only
 * its floor (`minRetriesPerSecond · window`) is available until calls arrive. Time comes from `Clock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Classification, RetryBudget } from "@ballast/core"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make(RetryBudget.tokenBucket())
 *   yield* budget.onRequest
 *   const allowed = yield* budget.tryRetry(Classification.make("Overloaded")) // true: 495 tokens left
 *   yield* budget.onSuccess(Classification.make("Overloaded")) // back to 500
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (config: Config): Effect.Effect<RetryBudget> =>
  Effect.sync(() => {
    if (config._tag === "TokenBucket") {
      const state = new internal.TokenBucketState(
        config.capacity,
        config.retryCost,
        config.transientCost,
        config.successRefund
      )
      return {
        config,
        onRequest: Effect.void,
        tryRetry: (c) => Effect.sync(() => state.tryRetry(0, c.kind)),
        onSuccess: (retried) => Effect.sync(() => state.success(retriedKind(retried))),
        level: Effect.sync(() => state.level())
      }
    }
    const state = new internal.RatioState(config.ratio, Duration.toMillis(config.window), config.minRetriesPerSecond)
    return {
      config,
      onRequest: Effect.clockWith((clock) => Effect.sync(() => state.request(clock.unsafeCurrentTimeMillis()))),
      tryRetry: (c) => Effect.clockWith((clock) => Effect.sync(() => state.tryRetry(clock.unsafeCurrentTimeMillis(), c.kind))),
      onSuccess: () => Effect.void,
      level: Effect.clockWith((clock) => Effect.sync(() => state.level(clock.unsafeCurrentTimeMillis())))
    }
  })

const retriedKind = (retried: boolean | Classification.Classification): Classification.Kind | undefined =>
  retried === false ? undefined : retried === true ? "Overloaded" : retried.kind

/**
 * A call gave up because the retry budget had nothing left for another retry. Carries the failure
 * that would have been retried. Classified as that failure's kind, not retryable.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RetryBudgetExhausted<E> extends Data.TaggedError("RetryBudgetExhausted")<{
  /** The failure that would have been retried. */
  readonly error: E
  /** The budget's level when it refused, from 0 to 1. */
  readonly level: number
}> implements Classification.Classifiable {
  get [Classification.TypeId](): Classification.Classification {
    const inner = Classification.classify(this.error)
    return Classification.make(inner.kind, { retryable: false, retryAfter: inner.retryAfter })
  }

  override get message(): string {
    return `The retry budget is exhausted (level ${this.level.toFixed(3)}); not retrying: ${describe(this.error)}`
  }
}

const describe = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
    ? error.message
    : Predicate.hasProperty(error, "_tag") && typeof error._tag === "string"
    ? error._tag
    : String(error)

/**
 * @since 0.1.0
 * @category Guards
 */
export const isRetryBudgetExhausted = (u: unknown): u is RetryBudgetExhausted<unknown> =>
  Predicate.isTagged(u, "RetryBudgetExhausted")
