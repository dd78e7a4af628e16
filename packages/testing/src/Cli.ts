/**
 * The `ballast-simulator` command: the loopback server from a shell.
 *
 * ```sh
 * ballast-simulator --port 4010 --script faults.json --concurrency 8 --rpm 100
 * # ballast simulator listening on http://127.0.0.1:4010
 * ```
 *
 * Options: `--port` (default 4010; 0 picks a free port), `--host` (default 127.0.0.1),
 * `--script` (a JSON script, see `Script.fromJson`), `--concurrency`, `--rpm`, `--tpm`,
 * `--latency` and `--stream-interval` (milliseconds or durations like `"250 millis"`).
 * The server runs until interrupted (Ctrl-C).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fault from "./Fault.js"
import * as Script from "./Script.js"
import * as Server from "./Server.js"
import * as Simulator from "./Simulator.js"

const integer = (name: string, description: string) =>
  Options.integer(name).pipe(Options.withDescription(description), Options.optional)

const duration = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

/**
 * The command's options.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Config {
  readonly port: number
  readonly host: string
  readonly script: Option.Option<string>
  readonly concurrency: Option.Option<number>
  readonly rpm: Option.Option<number>
  readonly tpm: Option.Option<number>
  readonly latency: Option.Option<string>
  readonly streamInterval: Option.Option<string>
}

/**
 * A simulator script or an option could not be read.
 *
 * @since 0.1.0
 * @category Errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

const decodeMillis = (name: string, value: Option.Option<string>): Effect.Effect<number | undefined, CliError> =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) => {
      const input = /^\d+(\.\d+)?$/.test(text) ? Number(text) : text
      return Either.match(Schema.decodeUnknownEither(Fault.Millis)(input), {
        onLeft: () => Effect.fail(new CliError({ message: `--${name}: not a duration: ${text}` })),
        onRight: Effect.succeed
      })
    }
  })

/**
 * Read a script from a JSON file.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const readScript = (path: string): Effect.Effect<Script.Script, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* Effect.mapError(
      fs.readFileString(path),
      (error) => new CliError({ message: `--script: cannot read ${path}: ${error.message}` })
    )
    return yield* Either.match(Script.fromJson(text), {
      onLeft: (error) => Effect.fail(new CliError({ message: `--script: invalid script in ${path}: ${error.message}` })),
      onRight: Effect.succeed
    })
  })

/**
 * The simulator options a configuration describes.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const simulatorOptions = (config: Config): Effect.Effect<Simulator.Options, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const script = Option.isSome(config.script) ? yield* readScript(config.script.value) : Script.empty
    const latency = yield* decodeMillis("latency", config.latency)
    const streamInterval = yield* decodeMillis("stream-interval", config.streamInterval)
    return {
      script,
      latency,
      streamInterval,
      capacity: {
        concurrency: Option.getOrUndefined(config.concurrency),
        requestsPerMinute: Option.getOrUndefined(config.rpm),
        tokensPerMinute: Option.getOrUndefined(config.tpm)
      }
    }
  })

/**
 * Serve a simulator as configured, print its URL, and run until interrupted.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const serve = (config: Config): Effect.Effect<never, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const options = yield* simulatorOptions(config)
    const { url } = yield* Server.start({ port: config.port, host: config.host }).pipe(
      Effect.provide(Simulator.layer(options)),
      Effect.mapError((error) =>
        new CliError({ message: `cannot listen on ${config.host}:${config.port}: ${String(error.cause)}` })
      )
    )
    yield* Console.log(`ballast simulator listening on ${url}`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

/**
 * The command's options, for commands that embed it under another name (`ballast simulator`).
 *
 * @since 0.1.0
 * @category Commands
 */
export const options = {
  port: Options.integer("port").pipe(Options.withDescription("Port on 127.0.0.1 (0: any free port)"), Options.withDefault(4010)),
  host: Options.text("host").pipe(Options.withDescription("Interface to listen on"), Options.withDefault("127.0.0.1")),
  script: Options.file("script").pipe(Options.withDescription("JSON script of faults"), Options.optional),
  concurrency: integer("concurrency", "Requests in service at once; beyond: 529"),
  rpm: integer("rpm", "Requests per minute; beyond: 429 with retry-after"),
  tpm: integer("tpm", "Tokens per minute; beyond: 429 with retry-after"),
  latency: duration("latency", "Time before each successful response (ms or \"2 seconds\")"),
  streamInterval: duration("stream-interval", "Time between stream events (ms or \"50 millis\")")
}

/**
 * The `ballast-simulator` command.
 *
 * @since 0.1.0
 * @category Commands
 */
export const command = Command.make("ballast-simulator", options, (config) => serve(config))

/**
 * Run the command on `process.argv`-style arguments.
 *
 * @since 0.1.0
 * @category Commands
 */
export const run = Command.run(command, { name: "ballast-simulator", version: "0.1.0" })

