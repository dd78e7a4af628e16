#!/usr/bin/env tsx
/**
 * Entry point of `ballast` (see `Cli`). A command's failure is printed as one line and exits 1;
 * Ctrl-C interrupts the command (a batch submission says how to resume).
 *
 * @since 0.1.0
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

const exit = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

Cli.run(process.argv).pipe(
  Effect.catchIf(ValidationError.isValidationError, () => exit(1)), // @effect/cli has printed it
  Effect.catchTag("CliError", (error) => Effect.zipRight(Console.error(`ballast: ${error.message}`), exit(1))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
