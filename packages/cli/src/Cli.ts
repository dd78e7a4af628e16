/**
 * The `ballast` command.
 *
 * ```sh
 * ballast batch submit requests.jsonl --out results.jsonl   # see BatchCommand
 * ballast batch status
 * ballast batch results msgbatch_… --out results.jsonl
 * ballast simulator --port 4010 --script faults.json       # the loopback simulator (@ballast/testing)
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as SimulatorCli from "@ballast/testing/Cli"
import * as BatchCommand from "./BatchCommand.js"

/**
 * `ballast simulator`: the Anthropic API simulator as a loopback HTTP server for your own tests —
 * the `ballast-simulator` command of `@ballast/testing` (same options: `--port`, `--host`,
 * `--script`, `--concurrency`, `--rpm`, `--tpm`, `--latency`, `--stream-interval`).
 *
 * @since 0.1.0
 * @category Commands
 */
export const simulatorCommand = Command.make("simulator", SimulatorCli.options, SimulatorCli.serve).pipe(
  Command.withDescription("Serve the Anthropic API simulator on 127.0.0.1 until interrupted")
)

/**
 * `ballast` and its subcommands.
 *
 * @since 0.1.0
 * @category Commands
 */
export const command = Command.make("ballast").pipe(
  Command.withDescription("Batches through the Message Batches API, and the API simulator"),
  Command.withSubcommands([BatchCommand.command, simulatorCommand])
)

/**
 * Runs the command on `process.argv`-style arguments (the first two are skipped).
 *
 * @since 0.1.0
 * @category Commands
 */
export const run = Command.run(command, { name: "ballast", version: "0.1.0" })
