/**
 * Circuit breakers: stop calling a server that keeps failing, then probe it before calling it again.
 *
 * A breaker is `Closed` while calls succeed. When failures that say the server is in trouble
 * (`Overloaded` and `Transient` by default) trip it — 5 in a row, or a failure rate over a sliding
 * window — it turns `Open` and refuses every call at once with {@link CircuitOpen}, without running
 * it, for `openDuration`. The first call that arrives after that turns it `HalfOpen` and runs as a
 * probe (`halfOpenProbes` of them): if all succeed the breaker closes; if one fails it opens again for
 * `openFactor` times as long (up to `maxOpenDuration`). Failures the server is not to blame for —
 * invalid requests, rate limits of this client — count neither way.
 *
 * The breaker never waits: a refusal carries `retryAfter`, the time until a probe is allowed, so a
 * retry schedule outside the breaker (or a fallback to another model) knows what to do.
 * {@link makeKeyed} keeps one breaker per key, for example per model.
 *
 * @since 0.1.0
 */
import { type Cause, type Clock, Data, Duration, Effect, Option, Predicate, PubSub, Stream } from "effect"
import * as Classification from "./Classification.js"
import * as internal from "./internal/circuitBreaker.js"

/**
 * Trips after this many counted failures in a row (a success resets the count).
 *
 * @since 0.1.0
 * @category Models
 */
export class Consecutive extends Data.TaggedClass("Consecutive")<{
  readonly failures: number
}> {}

/**
 * Trips when, over the sliding `window`, at least `minimumCalls` calls ended (successes and counted
 * failures) and at least `threshold` of them were counted failures. The window moves in steps of a
 * tenth of its length, so a call stops counting between 0.9 and 1 window after it ended.
 *
 * @since 0.1.0
 * @category Models
 */
export class FailureRate extends Data.TaggedClass("FailureRate")<{
  readonly threshold: number
  readonly window: Duration.Duration
  readonly minimumCalls: number
}> {}

/**
 * A condition that opens a closed breaker.
 *
 * @since 0.1.0
 * @category Models
 */
export type Trip = Consecutive | FailureRate

/**
 * A breaker's configuration. Build it with {@link config}.
 *
 * @since 0.1.0
 * @category Models
 */
export class Config extends Data.Class<{
  /** The breaker opens when any of these trips. */
  readonly trips: ReadonlyArray<Trip>
  /** How long the breaker stays open the first time. */
  readonly openDuration: Duration.Duration
  /** Each reopening after a failed probe stays open this many times longer than the one before. */
  readonly openFactor: number
  /** The longest the breaker stays open. */
  readonly maxOpenDuration: Duration.Duration
  /** Calls let through while half-open; all must succeed to close the breaker. */
  readonly halfOpenProbes: number
  /** The kinds of failure that count against the server; other failures count neither way. */
  readonly counts: ReadonlyArray<Classification.Kind>
}> {}

/**
 * The defaults of {@link consecutive}, {@link failureRate} and {@link config}.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly consecutive: { readonly failures: number }
  readonly failureRate: { readonly threshold: number; readonly window: Duration.Duration; readonly minimumCalls: number }
  readonly openDuration: Duration.Duration
  readonly openFactor: number
  readonly maxOpenDuration: Duration.Duration
  readonly halfOpenProbes: number
  readonly counts: ReadonlyArray<Classification.Kind>
} = {
  consecutive: { failures: 5 },
  failureRate: { threshold: 0.5, window: Duration.seconds(30), minimumCalls: 20 },
  openDuration: Duration.seconds(5),
  openFactor: 2,
  maxOpenDuration: Duration.seconds(60),
  halfOpenProbes: 1,
  counts: ["Overloaded", "Transient"]
}

const atLeast = (min: number, n: number | undefined, fallback: number): number =>
  n === undefined || Number.isNaN(n) ? fallback : Math.max(min, n)

/**
 * A {@link Consecutive} trip. Default: `5` failures (at least 1).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const consecutive = (failures?: number): Consecutive =>
  new Consecutive({ failures: atLeast(1, failures, defaults.consecutive.failures) })

/**
 * A {@link FailureRate} trip.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const failureRate = (options?: {
  /** The share of counted failures (0 to 1) that trips. Default: `0.5`. */
  readonly threshold?: number | undefined
  /** Default: `30 seconds`. */
  readonly window?: Duration.DurationInput | undefined
  /** Calls that must have ended in the window before the rate can trip. Default: `20`. */
  readonly minimumCalls?: number | undefined
}): FailureRate =>
  new FailureRate({
    threshold: Math.min(1, atLeast(0, options?.threshold, defaults.failureRate.threshold)),
    window: options?.window === undefined ? defaults.failureRate.window : Duration.decode(options.window),
    minimumCalls: atLeast(1, options?.minimumCalls, defaults.failureRate.minimumCalls)
  })

const isTrip = (u: Trip | ReadonlyArray<Trip>): u is Trip =>
  Predicate.isTagged(u, "Consecutive") || Predicate.isTagged(u, "FailureRate")

/**
 * A breaker configuration, with the defaults for every option left out. Two configurations built from
 * the same options are `Equal.equals`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@ballast/core"
 *
 * const config = CircuitBreaker.config({
 *   trips: [CircuitBreaker.consecutive(5), CircuitBreaker.failureRate({ threshold: 0.5, window: "30 seconds" })],
 *   openDuration: "10 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const config = (options?: {
  /** One trip or several (the breaker opens when any trips). Default: `consecutive(5)`. */
  readonly trips?: Trip | ReadonlyArray<Trip> | undefined
  /** Default: `5 seconds`. */
  readonly openDuration?: Duration.DurationInput | undefined
  /** Default: `2` (at least 1). */
  readonly openFactor?: number | undefined
  /** Default: `60 seconds`. */
  readonly maxOpenDuration?: Duration.DurationInput | undefined
  /** Default: `1` (at least 1). */
  readonly halfOpenProbes?: number | undefined
  /** Default: `["Overloaded", "Transient"]`. */
  readonly counts?: ReadonlyArray<Classification.Kind> | undefined
}): Config => {
  const trips = options?.trips
  return new Config({
    trips: Data.array(trips === undefined ? [consecutive()] : isTrip(trips) ? [trips] : [...trips]),
    openDuration: options?.openDuration === undefined ? defaults.openDuration : Duration.decode(options.openDuration),
    openFactor: atLeast(1, options?.openFactor, defaults.openFactor),
    maxOpenDuration: options?.maxOpenDuration === undefined
      ? defaults.maxOpenDuration
      : Duration.decode(options.maxOpenDuration),
    halfOpenProbes: Math.floor(atLeast(1, options?.halfOpenProbes, defaults.halfOpenProbes)),
    counts: Data.array([...(options?.counts ?? defaults.counts)])
  })
}

/**
 * A breaker's state. Times are epoch milliseconds of effect's `Clock`.
 *
 * - `Closed`: calls run.
 * - `Open`: calls are refused until `until`; `openings` counts the openings since the breaker last
 *   closed (1 for the first). The state stays `Open` until a call arrives at or after `until`.
 * - `HalfOpen`: `probes` calls are running as probes and `succeeded` have succeeded.
 *
 * @since 0.1.0
 * @category Models
 */
export type State = Data.TaggedEnum<{
  Closed: {}
  Open: { readonly openedAt: number; readonly until: number; readonly openings: number }
  HalfOpen: { readonly openings: number; readonly probes: number; readonly succeeded: number }
}>

/**
 * Constructors, guards (`$is`) and matching (`$match`) for {@link State}.
 *
 * @since 0.1.0
 * @category Models
 */
export const State: Data.TaggedEnum.Constructor<State> = internal.States

/**
 * A change of state (`Closed` → `Open` → `HalfOpen` → `Closed` or `Open`), at epoch milliseconds `at`
 * of effect's `Clock`. Equal by value.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Transition {
  readonly key: string
  readonly from: State
  readonly to: State
  readonly at: number
}

/**
 * A call refused by an open breaker, without running. `retryAfter` is the time until a probe is
 * allowed (while half-open with every probe taken: `openDuration`). Classified `Overloaded`,
 * retryable after `retryAfter`.
 *
 * @since 0.1.0
 * @category Errors
 */
export class CircuitOpen extends Data.TaggedError("CircuitOpen")<{
  readonly key: string
  readonly retryAfter: Duration.Duration
  readonly state: "Open" | "HalfOpen"
}> implements Classification.Classifiable {
  get [Classification.TypeId](): Classification.Classification {
    return Classification.make("Overloaded", { retryable: true, retryAfter: Option.some(this.retryAfter) })
  }

  override get message(): string {
    return this.state === "Open"
      ? `The circuit breaker "${this.key}" is open; a probe is allowed in ${Duration.format(this.retryAfter)}`
      : `The circuit breaker "${this.key}" is half-open and every probe is taken; retry in ${
        Duration.format(this.retryAfter)
      }`
  }
}

/**
 * @since 0.1.0
 * @category Guards
 */
export const isCircuitOpen = (u: unknown): u is CircuitOpen => Predicate.isTagged(u, "CircuitOpen")

/**
 * A running breaker.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CircuitBreaker {
  readonly key: string
  readonly config: Config
  /**
   * Runs `self` if the breaker lets it through and records how it ended: success, a counted failure
   * (its classification's kind is in `counts`; a defect is classified like a failure), or neither.
   * Refuses with {@link CircuitOpen}, without running `self`, while open or while every half-open probe
   * is taken. An interrupted call records nothing and frees its probe slot. A call that ends after the
   * breaker changed state (it started before) records nothing.
   */
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  readonly state: Effect.Effect<State>
  /** The transitions from the moment the stream is run. A slow consumer never slows calls. */
  readonly changes: Stream.Stream<Transition>
}

/**
 * One breaker per key (for example per model), each created on first use with the same config.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Keyed {
  readonly config: Config
  readonly get: (key: string) => Effect.Effect<CircuitBreaker>
  /** The state of every breaker created so far. */
  readonly states: Effect.Effect<ReadonlyMap<string, State>>
  /** The transitions of every key. */
  readonly changes: Stream.Stream<Transition>
}

const unsafeMake = (
  config: Config,
  key: string,
  pubsub: PubSub.PubSub<Transition>,
  changes: Stream.Stream<Transition>
): { readonly breaker: CircuitBreaker; readonly core: internal.Core } => {
  const core = new internal.Core(key, config, (transition) => {
    pubsub.unsafeOffer(transition)
  })
  const refused = (): CircuitOpen =>
    new CircuitOpen({ key, retryAfter: Duration.millis(core.refusedFor), state: core.refusedBy })
  // Admission and recording each happen in one synchronous step of the calling fiber (the bodies of
  // `suspend`/`clockWith` and the callbacks of `matchCauseEffect` are run by the fiber as it reaches
  // them), so no other fiber interleaves with them.
  const finish = <A, E>(clock: Clock.Clock, ticket: number) => ({
    onFailure: (cause: Cause.Cause<E>): Effect.Effect<A, E> => {
      core.record(clock.unsafeCurrentTimeMillis(), ticket, core.outcome(cause))
      return Effect.failCause(cause)
    },
    onSuccess: (a: A): Effect.Effect<A, E> => {
      core.record(clock.unsafeCurrentTimeMillis(), ticket, internal.success)
      return Effect.succeed(a)
    }
  })
  // Closed: the time is needed only when a failure is recorded, or a success with a failure-rate trip
  // (successes enter its window). A success in the generation it started in cannot change the state.
  const closedFinish = <A, E>(ticket: number) => ({
    onFailure: (cause: Cause.Cause<E>): Effect.Effect<A, E> =>
      Effect.clockWith((clock) => {
        core.record(clock.unsafeCurrentTimeMillis(), ticket, core.outcome(cause))
        return Effect.failCause(cause)
      }),
    onSuccess: core.timedSuccess
      ? (a: A): Effect.Effect<A, E> =>
        Effect.clockWith((clock) => {
          core.record(clock.unsafeCurrentTimeMillis(), ticket, internal.success)
          return Effect.succeed(a)
        })
      : (a: A): Effect.Effect<A, E> => {
        core.record(NaN, ticket, internal.success)
        return Effect.succeed(a)
      }
  })
  const run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    Effect.suspend((): Effect.Effect<A, E | CircuitOpen, R> => {
      if (core.state._tag === "Closed") {
        // Admitting a call to a closed breaker changes nothing, so an interruption before its outcome
        // is recorded leaves nothing to undo: no mask on the hot path.
        return Effect.matchCauseEffect(self, closedFinish<A, E>(core.generation))
      }
      // Open or half-open: a probe takes a slot that must be given back however the call ends.
      return Effect.clockWith((clock) =>
        Effect.uninterruptibleMask((restore): Effect.Effect<A, E | CircuitOpen, R> => {
          const ticket = core.admit(clock.unsafeCurrentTimeMillis())
          if (ticket < 0) return Effect.fail(refused())
          return Effect.matchCauseEffect(restore(self), finish<A, E>(clock, ticket))
        })
      )
    })
  return { breaker: { key, config, run, state: Effect.sync(() => core.state), changes }, core }
}

/**
 * Starts a breaker, `Closed`. Time comes from `Clock`, so transitions are exact under `TestClock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@ballast/core"
 *
 * declare const call: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make(CircuitBreaker.config(), "claude-sonnet")
 *   return yield* breaker.run(call) // fails with CircuitOpen while the breaker is open
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (config: Config, key: string = "default"): Effect.Effect<CircuitBreaker> =>
  Effect.map(
    PubSub.unbounded<Transition>(),
    (pubsub) => unsafeMake(config, key, pubsub, Stream.fromPubSub(pubsub)).breaker
  )

/**
 * Starts a set of breakers that share one config, one per key, created on first use.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeKeyed = (config: Config): Effect.Effect<Keyed> =>
  Effect.map(PubSub.unbounded<Transition>(), (pubsub) => {
    const breakers = new Map<string, ReturnType<typeof unsafeMake>>()
    const changes = Stream.fromPubSub(pubsub)
    const get = (key: string): CircuitBreaker => {
      let entry = breakers.get(key)
      if (entry === undefined) {
        entry = unsafeMake(config, key, pubsub, Stream.filter(changes, (t) => t.key === key))
        breakers.set(key, entry)
      }
      return entry.breaker
    }
    return {
      config,
      get: (key) => Effect.sync(() => get(key)),
      states: Effect.sync(() => new Map(Array.from(breakers, ([key, { core }]) => [key, core.state]))),
      changes
    }
  })
