/**
 * @since 0.1.0
 */
export * as Classification from "./Classification.js"
