/**
 * `ballast batch`: send a JSONL file of requests through the Message Batches API and get one
 * outcome per `custom_id`, surviving Ctrl-C and crashes.
 *
 * ```sh
 * ballast batch submit requests.jsonl --out results.jsonl [--journal path] [--base-url URL]
 * ballast batch status [--journal path] [--base-url URL]
 * ballast batch results BATCH_ID --out file.jsonl [--base-url URL]
 * ```
 *
 * - `submit` checks every line first (nothing is sent if one is bad), then submits through
 *   `BatchSubmitter` with a durable journal (default `ballast-batch.journal.jsonl`): a live progress
 *   line from the batches' `request_counts`, outcomes written to `--out` as they arrive. Interrupted
 *   (Ctrl-C) or killed, run the same command again: it resumes from the journal — batches already
 *   created are polled, not created again; the output file is written again from the start, with
 *   the outcomes the journal holds first. One journal per submission: a journal that planned
 *   `custom_id`s not in the requests file is refused.
 * - `status` prints what the journal holds, and asks the API for the live state of the batches not
 *   yet read (when `ANTHROPIC_API_KEY` is set).
 * - `results` downloads the results of one ended batch as the API gives them (JSONL).
 *
 * The API key comes from `ANTHROPIC_API_KEY` (read with `Config.redacted`; it is never printed).
 * `--base-url` (else `ANTHROPIC_BASE_URL`, else the real API) points the commands elsewhere, e.g.
 * at the loopback simulator started with `ballast simulator`. Every API call goes through
 * `ResilientClient.layer(Presets.background)`: 529s and 429s are retried patiently.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import {
  AnthropicClient,
  BatchJournal,
  type BatchOutcome,
  BatchSubmitter,
  Presets,
  ResilientClient
} from "@ballast/anthropic"
import { Config, Console, Context, Effect, Either, Exit, Layer, Option, Predicate, Schema, Stream } from "effect"
import * as BatchFiles from "./BatchFiles.js"
import * as Summary from "./internal/journalSummary.js"
import * as Progress from "./Progress.js"

/**
 * A command could not do its work; `message` says why (and, for `submit`, whether running it again
 * resumes).
 *
 * @since 0.1.0
 * @category Errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

/**
 * The journal `submit` and `status` use when `--journal` is not given.
 *
 * @since 0.1.0
 * @category Constants
 */
export const defaultJournal = "ballast-batch.journal.jsonl"

/**
 * The `fetch` the commands' API client uses. Default: `globalThis.fetch`; tests provide the
 * simulator's in-process `fetch`.
 *
 * @since 0.1.0
 * @category Tags
 */
export class Fetch extends Context.Reference<Fetch>()("@ballast/cli/BatchCommand/Fetch", {
  defaultValue: (): AnthropicClient.Fetch | undefined => undefined
}) {}

/**
 * The commands' API client: `AnthropicClient.layerConfig` (key from `ANTHROPIC_API_KEY`; base URL
 * from `baseUrl`, else `ANTHROPIC_BASE_URL`) under `ResilientClient.layer(Presets.background)`.
 *
 * @since 0.1.0
 * @category Layers
 */
export const clientLayer = (baseUrl: Option.Option<string>): Layer.Layer<AnthropicClient.AnthropicClient, CliError> =>
  Layer.unwrapEffect(Effect.map(Fetch, (fetch) =>
    ResilientClient.layer(Presets.background).pipe(
      Layer.provide(AnthropicClient.layerConfig({
        fetch,
        baseURL: Option.isSome(baseUrl) ? Config.succeed(baseUrl) : undefined
      })),
      Layer.mapError(() =>
        new CliError({
          message: "ANTHROPIC_API_KEY is not set (against the simulator any value works: ANTHROPIC_API_KEY=test)"
        })
      )
    )))

const describe = (error: unknown): string => {
  const tag = Predicate.hasProperty(error, "_tag") ? String(error._tag) : "Error"
  const message = Predicate.hasProperty(error, "message") && typeof error.message === "string" ? error.message : ""
  return message === "" ? tag : tag === "CliError" ? message : `${tag}: ${message}`
}

const encoder = new TextEncoder()

const writeLines = (file: FileSystem.File, lines: ReadonlyArray<string>) =>
  lines.length === 0 ? Effect.void : file.writeAll(encoder.encode(lines.join("\n") + "\n"))

const ioError = (what: string) => (error: { readonly message: string }) =>
  new CliError({ message: `cannot ${what}: ${error.message}` })

// --- submit ----------------------------------------------------------------------------------

/**
 * What `batch submit` is given.
 *
 * @since 0.1.0
 * @category Models
 */
export interface SubmitConfig {
  readonly requests: string
  readonly out: string
  readonly journal: string
  readonly baseUrl: Option.Option<string>
  readonly maxRequestsPerBatch: Option.Option<number>
  readonly maxAttempts: Option.Option<number>
}

/** Refuses a journal that planned custom_ids the requests file does not have. */
const checkJournal = (entries: ReadonlyArray<BatchJournal.Entry>, requests: ReadonlyArray<BatchSubmitter.Request>, path: string) =>
  Effect.suspend(() => {
    const ids = new Set(requests.map((r) => r.custom_id))
    for (const id of Summary.plannedIds(entries)) {
      if (!ids.has(id)) {
        return Effect.fail(
          new CliError({
            message: `the journal ${path} belongs to another submission (it holds custom_id ${id}, which is not in ` +
              `the requests file): pass --journal with a new path, or delete it`
          })
        )
      }
    }
    return Effect.void
  })

/**
 * `ballast batch submit`.
 *
 * @since 0.1.0
 * @category Handlers
 */
export const submit = (
  config: SubmitConfig
): Effect.Effect<void, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* Effect.mapError(fs.readFileString(config.requests), ioError(`read ${config.requests}`))
    const requests = yield* Either.mapLeft(
      BatchFiles.parse(text),
      (error) => new CliError({ message: `${config.requests}: ${error.message}` })
    )
    const journal = yield* BatchJournal.makeFile(config.journal)
    yield* checkJournal(yield* journal.read, requests, config.journal)
    const submitter = yield* BatchSubmitter.make({
      maxRequestsPerBatch: Option.getOrUndefined(config.maxRequestsPerBatch),
      maxAttempts: Option.getOrUndefined(config.maxAttempts)
    }).pipe(Effect.provideService(BatchJournal.BatchJournal, journal))
    const output = yield* Progress.ProgressOutput
    const tracker = new Progress.Tracker(requests.length)

    const run = Effect.gen(function*() {
      const file = yield* Effect.mapError(fs.open(config.out, { flag: "w" }), ioError(`write ${config.out}`))
      yield* submitter.run(requests).pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.suspend(() => {
            const lines: Array<string> = []
            let significant = false
            for (const event of chunk) {
              if (tracker.add(event)) significant = true
              else lines.push(BatchFiles.outcomeLine(event as BatchOutcome.Outcome))
            }
            return Effect.zipRight(
              Effect.mapError(writeLines(file, lines), ioError(`write ${config.out}`)),
              output.update(tracker.line(), significant)
            )
          })
        )
      )
    })

    yield* Effect.scoped(run).pipe(
      Effect.mapError((error): CliError =>
        error instanceof CliError
          ? error
          : new CliError({
            message: `${describe(error)}` +
              (error._tag === "BatchInputError" ? "" : ` (run the same command again to resume from ${config.journal})`)
          })
      ),
      Effect.onExit((exit) =>
        Exit.isInterrupted(exit)
          ? output.end(`interrupted: run the same command again to resume from ${config.journal}`)
          : output.end(tracker.line())
      )
    )
    yield* Console.log(`${tracker.summary()}; results in ${config.out} (journal: ${config.journal})`)
  }).pipe(
    Effect.provide(clientLayer(config.baseUrl)),
    Effect.mapError((error) => (error instanceof CliError ? error : new CliError({ message: describe(error) })))
  )

// --- status ----------------------------------------------------------------------------------

/**
 * What `batch status` is given.
 *
 * @since 0.1.0
 * @category Models
 */
export interface StatusConfig {
  readonly journal: string
  readonly baseUrl: Option.Option<string>
}

const countsText = (c: Progress.Counts) =>
  `processing ${c.processing} · succeeded ${c.succeeded} · errored ${c.errored} · expired ${c.expired} · canceled ${c.canceled}`

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join("").trimEnd())
}

/**
 * `ballast batch status`.
 *
 * @since 0.1.0
 * @category Handlers
 */
export const status = (config: StatusConfig): Effect.Effect<void, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* Effect.mapError(fs.exists(config.journal), ioError(`read ${config.journal}`))
    if (!exists) return yield* Effect.fail(new CliError({ message: `no journal at ${config.journal} (pass --journal)` }))
    const journal = yield* BatchJournal.makeFile(config.journal)
    const summary = Summary.summarize(yield* Effect.mapError(journal.read, (e) => new CliError({ message: e.message })))
    const o = summary.outcomes
    const failed = o.errored + o.expired + o.canceled + o.rejected
    yield* Console.log(
      `journal ${config.journal}: ${summary.planned} requests planned in ${summary.plans.length} ` +
        `${summary.plans.length === 1 ? "batch" : "batches"}; ${summary.resolved} resolved ` +
        `(${o.succeeded} succeeded, ${failed} failed: ${o.errored} errored, ${o.expired} expired, ` +
        `${o.canceled} canceled, ${o.rejected} rejected)`
    )
    const open = summary.plans.filter((plan) => !plan.done && plan.batchId !== undefined)
    const live = new Map<string, string>()
    let note: string | undefined
    if (open.length > 0) {
      const fetched = yield* Effect.either(Effect.provide(
        Effect.forEach(open, (plan) =>
          Effect.map(
            Effect.either(Effect.flatMap(AnthropicClient.AnthropicClient, (client) => client.messages.batches.retrieve(plan.batchId!))),
            (batch) => [plan.batchId!, batch] as const
          )),
        clientLayer(config.baseUrl)
      ))
      if (Either.isLeft(fetched)) note = `(${fetched.left.message}: showing the journal only)`
      else {
        for (const [id, batch] of fetched.right) {
          live.set(
            id,
            Either.isRight(batch)
              ? `${batch.right.processing_status} · ${countsText(batch.right.request_counts)}`
              : `unknown (${describe(batch.left)})`
          )
        }
      }
    }
    const rows = [["plan", "attempt", "batch", "requests", "resolved", "state"]]
    for (const plan of summary.plans) {
      const state = plan.done
        ? "done (results recorded)"
        : plan.batchId === undefined
        ? "planned (not created yet)"
        : live.get(plan.batchId) ?? "created"
      rows.push([
        String(plan.plan),
        String(plan.attempt),
        (plan.batchId ?? "-") + (plan.adopted ? " (adopted)" : ""),
        String(plan.requests),
        String(plan.resolved),
        state
      ])
    }
    for (const line of table(rows)) yield* Console.log(line)
    if (note !== undefined) yield* Console.log(note)
  })

// --- results ---------------------------------------------------------------------------------

/**
 * What `batch results` is given.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ResultsConfig {
  readonly batchId: string
  readonly out: string
  readonly baseUrl: Option.Option<string>
}

/**
 * `ballast batch results`.
 *
 * @since 0.1.0
 * @category Handlers
 */
export const results = (config: ResultsConfig): Effect.Effect<void, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const client = yield* AnthropicClient.AnthropicClient
    const counts: Record<string, number> = { succeeded: 0, errored: 0, expired: 0, canceled: 0 }
    let total = 0
    const download = (file: FileSystem.File) =>
      client.messages.batches.results(config.batchId).pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.suspend(() => {
            const lines: Array<string> = []
            for (const line of chunk) {
              total++
              counts[line.result.type] = (counts[line.result.type] ?? 0) + 1
              lines.push(JSON.stringify(line))
            }
            return Effect.mapError(writeLines(file, lines), ioError(`write ${config.out}`))
          })
        )
      )
    yield* Effect.scoped(
      Effect.flatMap(Effect.mapError(fs.open(config.out, { flag: "w" }), ioError(`write ${config.out}`)), download)
    ).pipe(Effect.mapError((error) => (error instanceof CliError ? error : new CliError({ message: describe(error) }))))
    yield* Console.log(
      `${total} results of ${config.batchId} in ${config.out}: ${counts["succeeded"]} succeeded, ${counts["errored"]} errored, ` +
        `${counts["expired"]} expired, ${counts["canceled"]} canceled`
    )
  }).pipe(Effect.provide(clientLayer(config.baseUrl)))

// --- commands --------------------------------------------------------------------------------

const baseUrl = Options.text("base-url").pipe(
  Options.withDescription("API base URL, e.g. the loopback simulator (default: ANTHROPIC_BASE_URL, else the real API)"),
  Options.optional
)

const journal = Options.text("journal").pipe(
  Options.withDescription("The submission's journal (append-only JSONL): what was submitted and what came back"),
  Options.withDefault(defaultJournal)
)

/**
 * `ballast batch submit requests.jsonl --out results.jsonl`.
 *
 * @since 0.1.0
 * @category Commands
 */
export const submitCommand = Command.make("submit", {
  requests: Args.file({ name: "requests.jsonl", exists: "yes" }).pipe(
    Args.withDescription("One {\"custom_id\", \"params\"} per line, as the Message Batches API takes them")
  ),
  out: Options.text("out").pipe(Options.withDescription("Where to write one outcome per custom_id (JSONL)")),
  journal,
  baseUrl,
  maxRequestsPerBatch: Options.integer("max-requests-per-batch").pipe(
    Options.withDescription("Requests per batch (default: the API's 100,000)"),
    Options.optional
  ),
  maxAttempts: Options.integer("max-attempts").pipe(
    Options.withDescription("Attempts per request; overloaded/api_error and expired results are resubmitted (default 3)"),
    Options.optional
  )
}, submit).pipe(Command.withDescription("Submit requests through the Message Batches API; resumes from its journal"))

/**
 * `ballast batch status`.
 *
 * @since 0.1.0
 * @category Commands
 */
export const statusCommand = Command.make("status", { journal, baseUrl }, status).pipe(
  Command.withDescription("What the journal holds, and the live state of its open batches")
)

/**
 * `ballast batch results BATCH_ID --out file.jsonl`.
 *
 * @since 0.1.0
 * @category Commands
 */
export const resultsCommand = Command.make("results", {
  batchId: Args.text({ name: "batch-id" }).pipe(Args.withDescription("The id of an ended batch (msgbatch_…)")),
  out: Options.text("out").pipe(Options.withDescription("Where to write the results (JSONL, as the API gives them)")),
  baseUrl
}, results).pipe(Command.withDescription("Download the results of one batch"))

/**
 * `ballast batch` and its subcommands.
 *
 * @since 0.1.0
 * @category Commands
 */
export const command = Command.make("batch").pipe(
  Command.withDescription("The Message Batches API: submit, status, results"),
  Command.withSubcommands([submitCommand, statusCommand, resultsCommand])
)

