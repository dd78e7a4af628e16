/**
 * A discrete-event `Clock` for long simulated scenarios.
 *
 * `TestClock.adjust` wakes sleepers one at a time and, after each, polls with several
 * `setTimeout(0)` rounds until every fiber is suspended: about 3–4 ms of wall time per sleeper.
 * A retry storm has hundreds of thousands of distinct wake-up instants (jittered backoffs), which
 * would take many minutes. This clock keeps the same semantics — time stands still until every
 * fiber is waiting on it, then jumps to the next due sleep — at a few microseconds per instant:
 *
 * - `sleep` registers a plain callback in a binary heap (time, then registration order);
 *   interruption removes it. Wake-ups fall on whole milliseconds, like the live clock's
 *   (`Date.now()`, `setTimeout`): a simulated clock with fractional milliseconds can produce a
 *   sleep that rounds to zero and a timer loop that never lets time move (see the bench's notes);
 * - fibers run on a scheduler that never yields to the macrotask queue (`MixedScheduler` with an
 *   unbounded microtask depth), so one `setImmediate` round means every fiber and every promise
 *   (the SDK's `await`s, the in-process `fetch`) has settled;
 * - {@link SimClock.run} alternates: settle, then advance to the earliest due instant and fire
 *   every sleep due then.
 *
 * Real timers are never involved, so nothing here depends on the machine's speed: two runs with
 * the same seeds make the same decisions at the same simulated instants.
 */
import { Clock, Duration, Effect, Scheduler } from "effect"

interface Entry {
  readonly at: number
  readonly seq: number
  readonly fire: () => void
  cancelled: boolean
}

const before = (a: Entry, b: Entry) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** The scheduler to run simulated fibers on: every task in a microtask, never a `setTimeout`. */
export const scheduler: Scheduler.Scheduler = new Scheduler.MixedScheduler(Number.POSITIVE_INFINITY)

const debug = process.env.BENCH_DEBUG === "1"

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

export class SimClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now: number
  private seq = 0
  private readonly heap: Array<Entry> = []
  /** Distinct instants the clock has advanced to (for the report). */
  steps = 0

  constructor(start = 0) {
    this.now = start
  }

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  /**
   * A sleep of zero or less completes at once (like `TestClock`); any other ends on the next whole
   * millisecond at or after `now + duration`, at least 1 ms later (like `setTimeout` on the live
   * clock). Time is therefore always a whole number of milliseconds, as `Date.now()` is.
   */
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    if (!(millis > 0)) return Effect.void
    return Effect.async<void>((resume) => {
      const entry = this.schedule(Math.max(this.now + 1, Math.ceil(this.now + millis)), () => resume(Effect.void))
      return Effect.sync(() => {
        entry.cancelled = true
      })
    })
  }

  /** Calls `fire` once the clock reaches `at`; set `cancelled` on the result to take it back. */
  schedule(at: number, fire: () => void): Entry {
    const entry: Entry = { at, seq: this.seq++, fire, cancelled: false }
    const h = this.heap
    h.push(entry)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
    return entry
  }

  private pop(): Entry {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }

  /** The earliest pending (not cancelled) due time, dropping cancelled entries on the way. */
  private next(): number | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop()
    return this.heap.length > 0 ? this.heap[0]!.at : undefined
  }

  /**
   * Drives the simulation until `done()` holds after everything has settled, or until the next
   * due instant would pass `until`. Resolves with `"done"`, `"until"`, or `"idle"` (nothing left
   * to wake and not done: the program is waiting on something that is not this clock).
   */
  async run(done: () => boolean, until = Number.POSITIVE_INFINITY): Promise<"done" | "until" | "idle"> {
    for (;;) {
      await settle()
      if (done()) return "done"
      const at = this.next()
      if (at === undefined) return "idle"
      if (at > until) return "until"
      this.now = at
      this.steps++
      if (debug && this.steps % 100 === 0) console.error(`[simClock] step ${this.steps} at ${(at / 1000).toFixed(1)} s, wall ${Math.round(performance.now())} ms, heap ${this.heap.length}`)
      while (this.next() === at) {
        const entry = this.pop()
        entry.fire()
      }
    }
  }
}

/** Runs `effect` on `clock` and the simulation scheduler (its forks inherit both). */
export const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, clock: SimClock): Effect.Effect<A, E, R> =>
  effect.pipe(Effect.withClock(clock), Effect.withScheduler(scheduler))
