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
