/**
 * @since 0.1.0
 */
export * as BatchCommand from "./BatchCommand.js"

/**
 * @since 0.1.0
 */
export * as BatchFiles from "./BatchFiles.js"

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as Progress from "./Progress.js"
