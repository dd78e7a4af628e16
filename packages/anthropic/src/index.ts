/**
 * @since 0.1.0
 */
export * as AnthropicClient from "./AnthropicClient.js"

/**
 * @since 0.1.0
 */
export * as AnthropicError from "./AnthropicError.js"

/**
 * @since 0.1.0
 */
export * as BatchJournal from "./BatchJournal.js"

/**
 * @since 0.1.0
 */
export * as BatchOutcome from "./BatchOutcome.js"

/**
 * @since 0.1.0
 */
export * as BatchSubmitter from "./BatchSubmitter.js"

/**
 * @since 0.1.0
 */
export * as DeferredClient from "./DeferredClient.js"

/**
 * @since 0.1.0
 */
export * as RateLimit from "./RateLimit.js"

/**
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"

/**
 * @since 0.1.0
 */
export * as Presets from "./Presets.js"

/**
 * @since 0.1.0
 */
export * as ResilientClient from "./ResilientClient.js"

/**
 * @since 0.1.0
 */
export * as StreamRecovery from "./StreamRecovery.js"
