/**
 * The circuit breaker's state machine, as one plain synchronous object. `CircuitBreaker.make` wraps it
 * in effects; `admit` and `record` each run inside one synchronous block, so no other fiber interleaves
 * with them, and a transition is published in the same block as the state change (so subscribers see
 * transitions in the order they happened).
 *
 * @internal
 */
import { Cause, Data, Duration, Option } from "effect"
import type { Config, State, Transition } from "../CircuitBreaker.js"
import * as Classification from "../Classification.js"
import { SlidingWindow } from "./slidingWindow.js"

/** @internal */
export const States = Data.taggedEnum<State>()

/** @internal */
export type Outcome = typeof success | typeof failure | typeof ignored
/** @internal */
export const success = 0
/** @internal */
export const failure = 1
/** @internal */
export const ignored = 2

interface Rate {
  readonly threshold: number
  readonly minimumCalls: number
  /** calls (successes + counted failures) and counted failures */
  readonly window: SlidingWindow
}

const closed: State = States.Closed()

/** @internal */
export class Core {
  state: State = closed
  /** Changes at every transition; a call's outcome counts only in the generation that admitted it. */
  generation = 0
  /** Set by `admit` when it refuses: the state that refused and the wait until a probe is allowed. */
  refusedBy: "Open" | "HalfOpen" = "Open"
  refusedFor = 0

  /** Whether recording a success in the closed state needs the time (a failure-rate window takes it). */
  readonly timedSuccess: boolean

  private consecutive = 0
  private readonly consecutiveLimit: number
  private readonly rates: ReadonlyArray<Rate>
  private readonly counts: ReadonlySet<Classification.Kind>
  private readonly openMillis: number
  private readonly maxOpenMillis: number

  constructor(
    readonly key: string,
    readonly config: Config,
    private readonly publish: (transition: Transition) => void
  ) {
    let limit = Infinity
    const rates: Array<Rate> = []
    for (const trip of config.trips) {
      if (trip._tag === "Consecutive") limit = Math.min(limit, trip.failures)
      else {
        rates.push({
          threshold: trip.threshold,
          minimumCalls: trip.minimumCalls,
          window: new SlidingWindow(Duration.toMillis(trip.window))
        })
      }
    }
    this.consecutiveLimit = limit
    this.rates = rates
    this.timedSuccess = rates.length > 0
    this.counts = new Set(config.counts)
    this.openMillis = Duration.toMillis(config.openDuration)
    this.maxOpenMillis = Duration.toMillis(config.maxOpenDuration)
  }

  /** The generation the call runs in, or `-1` when refused (see `refusedBy`, `refusedFor`). */
  admit(now: number): number {
    const s = this.state
    switch (s._tag) {
      case "Closed":
        return this.generation
      case "Open": {
        if (now < s.until) {
          this.refusedBy = "Open"
          this.refusedFor = s.until - now
          return -1
        }
        this.transition(now, States.HalfOpen({ openings: s.openings, probes: 1, succeeded: 0 }))
        return this.generation
      }
      case "HalfOpen": {
        if (s.probes + s.succeeded >= this.config.halfOpenProbes) {
          this.refusedBy = "HalfOpen"
          this.refusedFor = this.openMillis
          return -1
        }
        this.state = States.HalfOpen({ ...s, probes: s.probes + 1 })
        return this.generation
      }
    }
  }

  /** Classifies the cause of a call's failure. */
  outcome(cause: Cause.Cause<unknown>): Outcome {
    const error = Option.orElse(Cause.failureOption(cause), () => Cause.dieOption(cause))
    if (Option.isNone(error)) return ignored // interrupted
    return this.counts.has(Classification.classify(error.value).kind) ? failure : ignored
  }

  /** Records the outcome of a call admitted in generation `ticket`. */
  record(now: number, ticket: number, outcome: Outcome): void {
    if (ticket !== this.generation) return
    const s = this.state
    if (s._tag === "Closed") {
      if (outcome === ignored) return
      const failed = outcome === failure ? 1 : 0
      this.consecutive = failed === 1 ? this.consecutive + 1 : 0
      let trip = this.consecutive >= this.consecutiveLimit
      for (const rate of this.rates) {
        rate.window.advance(now)
        rate.window.add(1, failed)
        if (
          failed === 1 && rate.window.sumA >= rate.minimumCalls &&
          rate.window.sumB >= rate.threshold * rate.window.sumA
        ) trip = true
      }
      if (trip) this.open(now, 1)
    } else if (s._tag === "HalfOpen") {
      if (outcome === failure) this.open(now, s.openings + 1)
      else if (outcome === ignored) this.state = States.HalfOpen({ ...s, probes: s.probes - 1 })
      else if (s.succeeded + 1 >= this.config.halfOpenProbes) this.transition(now, closed)
      else this.state = States.HalfOpen({ ...s, probes: s.probes - 1, succeeded: s.succeeded + 1 })
    }
  }

  private open(now: number, openings: number): void {
    const grown = this.openMillis === 0 ? 0 : this.openMillis * this.config.openFactor ** (openings - 1)
    const duration = Math.min(grown, this.maxOpenMillis)
    this.transition(now, States.Open({ openedAt: now, until: now + duration, openings }))
  }

  private transition(now: number, to: State): void {
    const from = this.state
    this.state = to
    this.generation++
    this.consecutive = 0
    for (const rate of this.rates) rate.window.clear()
    this.publish(Data.struct({ key: this.key, from, to, at: now }))
  }
}
