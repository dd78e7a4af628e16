/**
 * The durable record `BatchSubmitter` keeps of one submission: which `custom_id`s went into which
 * planned batch and on which attempt, the batch id the API gave it, every final outcome, and which
 * batches have been fully read. A process that is killed and restarted reads it back and resumes:
 * it polls the batches it had created instead of creating them again, re-reads results it had not
 * finished recording, and resubmits only what still needs it.
 *
 * The file form is append-only JSONL, one {@link Entry} per line, written with one `write` and an
 * `fsync` per append. A line cut short by a crash is not valid JSON and is skipped on reading (its
 * entry was never written); a line that is JSON but not an entry fails the read.
 *
 * One journal holds one submission at a time: do not run two submitters on the same journal at
 * once. Use a fresh location for an unrelated submission.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Data, Effect, Layer, Schema } from "effect"
import * as BatchOutcome from "./BatchOutcome.js"

/**
 * A batch is about to be created for these `custom_id`s (written before the API call, so a crash
 * between the call and {@link Created} can be recovered by finding the batch again).
 * `plan` numbers the plans of this journal 1, 2, 3…; `at` is the Clock time in ms.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Planned = Schema.TaggedStruct("Planned", {
  plan: Schema.Int,
  attempt: Schema.Int,
  customIds: Schema.Array(Schema.String),
  at: Schema.Number
})

/**
 * The API created the planned batch with this id (`adopted`: found again after a crash rather
 * than returned by the create call).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Created = Schema.TaggedStruct("Created", {
  plan: Schema.Int,
  batchId: Schema.String,
  at: Schema.Number,
  adopted: Schema.optional(Schema.Boolean)
})

/**
 * The final outcome of one `custom_id` (from the results of `plan`'s batch, or the refusal of its create).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Resolved = Schema.TaggedStruct("Resolved", {
  plan: Schema.Int,
  outcome: BatchOutcome.Outcome
})

/**
 * Every result of the batch has been recorded: its `custom_id`s without a {@link Resolved} entry
 * are to be resubmitted.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Done = Schema.TaggedStruct("Done", { plan: Schema.Int, batchId: Schema.String })

/**
 * One line of the journal.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Entry = Schema.Union(Planned, Created, Resolved, Done)

/**
 * @since 0.1.0
 * @category Models
 */
export type Entry = typeof Entry.Type

/**
 * Reading or writing the journal failed (I/O, or a line that is not an entry).
 *
 * @since 0.1.0
 * @category Errors
 */
export class BatchJournalError extends Data.TaggedError("BatchJournalError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * @since 0.1.0
 * @category Models
 */
export interface Service {
  /** Every entry written so far, in order. */
  readonly read: Effect.Effect<ReadonlyArray<Entry>, BatchJournalError>
  /** Append entries, durably, in order (concurrent appends are serialised). */
  readonly append: (entries: ReadonlyArray<Entry>) => Effect.Effect<void, BatchJournalError>
}

/**
 * @since 0.1.0
 * @category Tags
 */
export class BatchJournal extends Context.Tag("@ballast/anthropic/BatchJournal")<BatchJournal, Service>() {}

const encodeEntry = Schema.encodeSync(Entry)
const decodeEntry = Schema.decodeUnknownEither(Entry)

/**
 * The JSONL line of an entry (without the newline).
 *
 * @since 0.1.0
 * @category Encoding
 */
export const encode = (entry: Entry): string => JSON.stringify(encodeEntry(entry))

/**
 * The entries of JSONL text. A line that is not JSON is a write cut short by a crash and is
 * skipped; a line that is JSON but not an entry fails.
 *
 * @since 0.1.0
 * @category Decoding
 */
export const decode = (text: string): Effect.Effect<ReadonlyArray<Entry>, BatchJournalError> =>
  Effect.suspend(() => {
    const entries: Array<Entry> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line.trim() === "") continue
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch {
        continue
      }
      const decoded = decodeEntry(json)
      if (decoded._tag === "Left") {
        return Effect.fail(
          new BatchJournalError({ message: `Journal line ${i + 1} is not a journal entry`, cause: decoded.left })
        )
      }
      entries.push(decoded.right)
    }
    return Effect.succeed(entries)
  })

const encoder = new TextEncoder()

/**
 * A journal in an append-only JSONL file at `path` (created on the first append; its directory
 * must exist).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeFile = (path: string): Effect.Effect<Service, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const lock = yield* Effect.makeSemaphore(1)
    const fail = (what: string) => (cause: unknown) =>
      new BatchJournalError({ message: `Could not ${what} the batch journal at ${path}`, cause })
    const readText = Effect.flatMap(
      fs.exists(path),
      (exists) => (exists ? fs.readFileString(path) : Effect.succeed(""))
    ).pipe(Effect.mapError(fail("read")))
    /** Whether the file ends inside a torn line: the next append starts with a newline. */
    let torn: boolean | undefined
    const read = Effect.flatMap(readText, (text) => {
      torn = text.length > 0 && !text.endsWith("\n")
      return decode(text)
    })
    const append = (entries: ReadonlyArray<Entry>) =>
      entries.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.gen(function*() {
          if (torn === undefined) {
            const text = yield* readText
            torn = text.length > 0 && !text.endsWith("\n")
          }
          const text = (torn ? "\n" : "") + entries.map(encode).join("\n") + "\n"
          yield* Effect.scoped(Effect.gen(function*() {
            const file = yield* fs.open(path, { flag: "a" })
            yield* file.writeAll(encoder.encode(text))
            yield* file.sync
          })).pipe(Effect.mapError(fail("append to")))
          torn = false
        })
      )
    return { read: lock.withPermits(1)(read), append }
  })

/**
 * A journal in memory, as JSONL lines (the same encoding as the file). `lines` starts it with
 * existing content; the service's `lines` reads it back.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeMemory = (
  lines?: ReadonlyArray<string>
): Effect.Effect<Service & { readonly lines: Effect.Effect<ReadonlyArray<string>> }> =>
  Effect.sync(() => {
    const store: Array<string> = [...(lines ?? [])]
    return {
      read: Effect.suspend(() => decode(store.join("\n"))),
      append: (entries) => Effect.sync(() => void store.push(...entries.map(encode))),
      lines: Effect.sync(() => [...store])
    }
  })

/**
 * @since 0.1.0
 * @category Layers
 */
export const layerFile = (path: string): Layer.Layer<BatchJournal, never, FileSystem.FileSystem> =>
  Layer.effect(BatchJournal, makeFile(path))

/**
 * A fresh in-memory journal (nothing survives the process: for tests).
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerMemory: Layer.Layer<BatchJournal> = Layer.effect(BatchJournal, makeMemory())
