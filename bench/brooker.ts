/**
 * Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015), re-run with ballast's
 * `Backoff` schedules.
 *
 * The model is the one of the post's simulator (aws-samples/aws-arch-backoff-simulator,
 * `src/backoff_simulator.py`), as a discrete-event loop in simulated milliseconds:
 * - one OCC server holding one row with a version number;
 * - `N` clients, each wanting to write the row once: read the version, then write with it; the
 *   write succeeds only if no other write landed since that read;
 * - every message (read, read reply, write, write reply) takes `|N(10 ms, sd 2)|` on the network;
 * - after a failed write the client waits `network delay + backoff(attempt)` before reading again;
 * - figures: write calls per run and completion time (the last write reply), averaged over runs.
 *
 * The backoff delays are the outputs of `Backoff.make(...)` itself: each client holds the
 * schedule's state and steps it once per failed write, so every delay (and every random draw)
 * goes through ballast's code and effect's seeded `Random`.
 *
 * Indexing: the Python client counts `attempt` from 1 before its first backoff, so its first
 * exponential delay is `base · 2 = 10 ms`; ballast counts retries from 0 (`base · 2^0`). The
 * exponential strategies therefore run with `base = 10 ms` (= 5 · 2^1, the same sequence 10, 20,
 * 40 … capped at 2 s). Decorrelated jitter does not use the index and runs with `base = 5 ms`.
 */
import * as Backoff from "@ballast/core/Backoff"
import { Duration, Effect, Random, type Schedule } from "effect"

/** The strategies, as `bench-results.json` names them. */
export type Strategy = "none" | "equal" | "full" | "decorrelated"

export const strategies: ReadonlyArray<Strategy> = ["none", "equal", "full", "decorrelated"]

/** Brooker's figures for 100 clients (the reference rerun of the original simulator). */
export const published: Readonly<Record<Strategy, { readonly calls: number; readonly completionMs: number }>> = {
  none: { calls: 1852, completionMs: 63_513 },
  equal: { calls: 812, completionMs: 6_605 },
  full: { calls: 796, completionMs: 4_940 },
  decorrelated: { calls: 999, completionMs: 4_698 }
}

export const CLIENTS = 100
export const RUNS = Number(process.env.BENCH_BROOKER_RUNS ?? 100)
const NET_MEAN = 10
const NET_SD = 2
const BASE = 5
const CAP = 2_000

/** The `Backoff` options reproducing the post's formulas (see the indexing note above). */
export const backoffOptions = (strategy: Strategy): Backoff.Options =>
  strategy === "decorrelated"
    ? { base: Duration.millis(BASE), cap: Duration.millis(CAP), jitter: "decorrelated" }
    : { base: Duration.millis(BASE * 2), factor: 2, cap: Duration.millis(CAP), jitter: strategy }

// ---------------------------------------------------------------------------------------------
// A small binary heap of events ordered by time (ties by insertion order).

interface Event {
  readonly at: number
  readonly seq: number
  readonly kind: 0 | 1 | 2 | 3 // read at server, read reply at client, write at server, write reply at client
  readonly client: number
  readonly value: number // version read, or 1/0 for write success
}

class Heap {
  private readonly items: Array<Event> = []
  get size(): number {
    return this.items.length
  }
  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  push(e: Event): void {
    const items = this.items
    items.push(e)
    let i = items.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(items[i]!, items[p]!)) break
      ;[items[i], items[p]] = [items[p]!, items[i]!]
      i = p
    }
  }
  pop(): Event {
    const items = this.items
    const top = items[0]!
    const last = items.pop()!
    if (items.length > 0) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < items.length && this.less(items[l]!, items[m]!)) m = l
        if (r < items.length && this.less(items[r]!, items[m]!)) m = r
        if (m === i) break
        ;[items[i], items[m]] = [items[m]!, items[i]!]
        i = m
      }
    }
    return top
  }
}

/** `|N(mean, sd)|` from effect's `Random` (Box–Muller), like the post's `abs(normalvariate)`. */
const networkDelay: Effect.Effect<number> = Effect.map(
  Effect.zip(Random.next, Random.next),
  ([u1, u2]) => Math.abs(NET_MEAN + NET_SD * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2))
)

/** One run: `clients` clients until every one has written; returns write calls and completion time. */
export const simulate = (
  clients: number,
  schedule: Schedule.Schedule<Duration.Duration, unknown>
): Effect.Effect<{ readonly calls: number; readonly completionMs: number }> =>
  Effect.gen(function*() {
    const heap = new Heap()
    let seq = 0
    const send = (at: number, kind: Event["kind"], client: number, value: number) =>
      heap.push({ at, seq: seq++, kind, client, value })
    const states: Array<unknown> = []
    for (let c = 0; c < clients; c++) {
      states.push(schedule.initial)
      send(yield* networkDelay, 0, c, 0)
    }
    let version = 0
    let calls = 0
    let now = 0
    while (heap.size > 0) {
      const e = heap.pop()
      now = e.at
      switch (e.kind) {
        case 0: // the server answers the read with the current version
          send(now + (yield* networkDelay), 1, e.client, version)
          break
        case 1: // the client writes with the version it read
          send(now + (yield* networkDelay), 2, e.client, e.value)
          break
        case 2: {
          calls++
          const ok = e.value === version
          if (ok) version++
          send(now + (yield* networkDelay), 3, e.client, ok ? 1 : 0)
          break
        }
        case 3: {
          if (e.value === 1) break
          // ballast's schedule decides the backoff; its `now` is irrelevant to the delay
          const [state, delay] = yield* schedule.step(now, undefined, states[e.client])
          states[e.client] = state
          send(now + (yield* networkDelay) + Duration.toMillis(delay), 0, e.client, 0)
          break
        }
      }
    }
    return { calls, completionMs: now }
  })

const meanSe = (xs: ReadonlyArray<number>) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1)
  return { mean, se: Math.sqrt(variance / xs.length) }
}

export interface Row {
  readonly calls: number
  readonly completionMs: number
  /** Standard errors of the two means (sd of one run / √runs): how far a rerun with other seeds may land. */
  readonly callsSe: number
  readonly completionSe: number
}

/** Mean calls and completion time over `runs` seeded runs (seed = run index + 1, the same for every strategy). */
export const measure = (strategy: Strategy, runs = RUNS, clients = CLIENTS): Effect.Effect<Row> =>
  Effect.gen(function*() {
    const schedule = Backoff.make(backoffOptions(strategy))
    const calls: Array<number> = []
    const times: Array<number> = []
    for (let run = 0; run < runs; run++) {
      const r = yield* simulate(clients, schedule).pipe(Effect.withRandom(Random.make(run + 1)))
      calls.push(r.calls)
      times.push(r.completionMs)
    }
    const c = meanSe(calls)
    const t = meanSe(times)
    return { calls: Math.round(c.mean), completionMs: Math.round(t.mean), callsSe: c.se, completionSe: t.se }
  })

/** Runs every strategy; the figures keyed by strategy, as written to `bench-results.json`. */
export const run = (): Promise<Record<Strategy, Row>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const out: Partial<Record<Strategy, Row>> = {}
      for (const s of strategies) out[s] = yield* measure(s)
      return out as Record<Strategy, Row>
    })
  )

const ratio = (a: number, b: number) => (a / b).toFixed(2)

/**
 * The difference in standard errors of a difference of two means, taking the published mean (also
 * 100 runs of the same model) to have the same spread as ours: |z| < 2 is what reruns with other
 * seeds give.
 */
const z = (ours: number, theirs: number, se: number) => ((ours - theirs) / (Math.SQRT2 * se)).toFixed(1)

/** The markdown table: ballast next to the published figures. */
export const table = (rows: Record<Strategy, Row>): string =>
  [
    "| strategy | ballast calls (± s.e.) | published calls | ratio | z | ballast completion ms (± s.e.) | published ms | ratio | z |",
    "|---|---|---|---|---|---|---|---|---|",
    ...strategies.map((s) => {
      const b = rows[s]
      const p = published[s]
      return `| ${s} | ${b.calls} ± ${Math.round(b.callsSe)} | ${p.calls} | ${ratio(b.calls, p.calls)} | ${
        z(b.calls, p.calls, b.callsSe)
      } | ${b.completionMs} ± ${Math.round(b.completionSe)} | ${p.completionMs} | ${ratio(b.completionMs, p.completionMs)} | ${
        z(b.completionMs, p.completionMs, b.completionSe)
      } |`
    })
  ].join("\n")
