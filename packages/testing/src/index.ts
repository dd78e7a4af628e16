/**
 * @since 0.1.0
 */
export * as Catalogue from "./Catalogue.js"

/**
 * @since 0.1.0
 */
export * as Fault from "./Fault.js"

/**
 * @since 0.1.0
 */
export * as InProcess from "./InProcess.js"

/**
 * @since 0.1.0
 */
export * as Script from "./Script.js"

/**
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * @since 0.1.0
 */
export * as Simulator from "./Simulator.js"
