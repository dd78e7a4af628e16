/**
 * @since 0.1.0
 */
export * as Backoff from "./Backoff.js"

/**
 * @since 0.1.0
 */
export * as Classification from "./Classification.js"

/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * @since 0.1.0
 */
export * as Policy from "./Policy.js"

/**
 * @since 0.1.0
 */
export * as Resilience from "./Resilience.js"

/**
 * @since 0.1.0
 */
export * as AdaptiveConcurrency from "./AdaptiveConcurrency.js"

/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * @since 0.1.0
 */
export * as Pacing from "./Pacing.js"

/**
 * @since 0.1.0
 */
export * as RetryBudget from "./RetryBudget.js"
