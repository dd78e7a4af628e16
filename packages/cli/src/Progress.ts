/**
 * The live progress line of `ballast batch submit`:
 *
 * ```
 * [████████░░░░░░░░░░░░] 100/250 resolved · 3 batches, 2 in progress · processing 150 · succeeded 100 · errored 0 · expired 0 · canceled 0
 * ```
 *
 * The bar counts the `custom_id`s that have their final outcome (on a resumed run, those recorded in
 * the journal count from the start). The counts after it are the API's `request_counts` from the
 * latest poll of every batch of the submission, summed (a resubmitted request is counted in each
 * batch it went through; the API reports every count but `processing` as 0 until a batch ends).
 *
 * On a terminal the line is redrawn in place on standard error; elsewhere (a log file, CI) a line
 * is printed each time a batch is created or polled.
 *
 * @since 0.1.0
 */
import type { BatchSubmitter } from "@ballast/anthropic"
import { Context, Effect } from "effect"
import * as BatchFiles from "./BatchFiles.js"

/**
 * A batch's `request_counts`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Counts {
  readonly processing: number
  readonly succeeded: number
  readonly errored: number
  readonly canceled: number
  readonly expired: number
}

/**
 * What the tracker knows of one batch.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BatchState {
  readonly batchId: string
  readonly status: string
  readonly counts: Counts
}

const zero: Counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }

/**
 * The progress of one submission, fed with the submitter's events.
 *
 * @since 0.1.0
 * @category Models
 */
export class Tracker {
  /** Latest state of each batch, by the journal's plan number. */
  readonly batches = new Map<number, BatchState>()
  /** Final outcomes by kind. */
  readonly outcomes: Record<BatchFiles.Kind, number> = { succeeded: 0, errored: 0, expired: 0, canceled: 0, rejected: 0 }
  resolved = 0

  constructor(
    /** Requests in the submission. */
    readonly total: number
  ) {}

  /** Records an event; `true` when a batch was created or polled (the API's counts may have moved). */
  add(event: BatchSubmitter.Event): boolean {
    switch (event._tag) {
      case "BatchCreated":
        this.batches.set(event.plan, {
          batchId: event.batchId,
          status: "in_progress",
          counts: { ...zero, processing: event.requests }
        })
        return true
      case "BatchPolled":
        this.batches.set(event.plan, {
          batchId: event.batch.id,
          status: event.batch.processing_status,
          counts: event.batch.request_counts
        })
        return true
      default:
        this.resolved++
        this.outcomes[BatchFiles.kindOf(event)]++
        return false
    }
  }

  /** The API's counts summed over every batch. */
  counts(): Counts {
    const sum = { ...zero }
    for (const { counts } of this.batches.values()) {
      sum.processing += counts.processing
      sum.succeeded += counts.succeeded
      sum.errored += counts.errored
      sum.canceled += counts.canceled
      sum.expired += counts.expired
    }
    return sum
  }

  /** The progress line. */
  line(width = 20): string {
    const c = this.counts()
    const inProgress = [...this.batches.values()].filter((b) => b.status !== "ended").length
    const batches = this.batches.size === 1 ? "1 batch" : `${this.batches.size} batches`
    return [
      `${bar(this.resolved, this.total, width)} ${this.resolved}/${this.total} resolved`,
      `${batches}, ${inProgress} in progress`,
      `processing ${c.processing}`,
      `succeeded ${c.succeeded}`,
      `errored ${c.errored}`,
      `expired ${c.expired}`,
      `canceled ${c.canceled}`
    ].join(" · ")
  }

  /** The closing summary. */
  summary(): string {
    const o = this.outcomes
    const failed = o.errored + o.expired + o.canceled + o.rejected
    return `${this.resolved}/${this.total} resolved: ${o.succeeded} succeeded, ${failed} failed ` +
      `(${o.errored} errored, ${o.expired} expired, ${o.canceled} canceled, ${o.rejected} rejected) in ${this.batches.size} ` +
      (this.batches.size === 1 ? "batch" : "batches")
  }
}

/**
 * A text progress bar: `[██████░░░░]`, `done` of `total` filled (floor), `width` cells.
 *
 * @since 0.1.0
 * @category Rendering
 */
export const bar = (done: number, total: number, width: number): string => {
  const filled = total <= 0 ? width : Math.min(width, Math.floor((done / total) * width))
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]`
}

/**
 * Where progress goes: `update` after events (`significant`: a batch was created or polled),
 * `end` once with the last line.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Output {
  readonly update: (line: string, significant: boolean) => Effect.Effect<void>
  readonly end: (line: string) => Effect.Effect<void>
}

/**
 * Progress on a stream: redrawn in place on a terminal, one line per significant change otherwise.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const streamOutput = (stream: NodeJS.WriteStream): Output => {
  let last: string | undefined
  let drawn = false
  return stream.isTTY
    ? {
      update: (line) =>
        Effect.sync(() => {
          if (line === last) return
          last = line
          drawn = true
          stream.write(`\r\x1b[2K${line}`)
        }),
      end: (line) =>
        Effect.sync(() => {
          stream.write(`${drawn ? "\r\x1b[2K" : ""}${line}\n`)
          drawn = false
          last = undefined
        })
    }
    : {
      update: (line, significant) =>
        Effect.sync(() => {
          if (!significant || line === last) return
          last = line
          stream.write(`${line}\n`)
        }),
      end: (line) => Effect.sync(() => void stream.write(`${line}\n`))
    }
}

/**
 * The progress output in use. Default: standard error ({@link streamOutput}).
 *
 * @since 0.1.0
 * @category Tags
 */
export class ProgressOutput extends Context.Reference<ProgressOutput>()("@ballast/cli/Progress/ProgressOutput", {
  defaultValue: (): Output => streamOutput(process.stderr)
}) {}

/**
 * An output that keeps every line in memory (for tests): `lines` holds what a log would show,
 * `significant` marks the lines a non-terminal output would print.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const memoryOutput = (): Output & {
  readonly lines: Array<{ readonly line: string; readonly significant: boolean; readonly end: boolean }>
} => {
  const lines: Array<{ readonly line: string; readonly significant: boolean; readonly end: boolean }> = []
  return {
    lines,
    update: (line, significant) => Effect.sync(() => void lines.push({ line, significant, end: false })),
    end: (line) => Effect.sync(() => void lines.push({ line, significant: true, end: true }))
  }
}
