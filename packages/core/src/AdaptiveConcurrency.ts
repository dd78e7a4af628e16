/**
 * A client-side concurrency limiter whose limit follows the server's signals (AIMD).
 *
 * The limit starts at `initial`. A call that succeeds while the limiter is busy (at least half the
 * limit in flight) grows it by `increase / limit`, so a full limit's worth of successes adds
 * `increase`. A call that fails with `Overloaded`, `RateLimited` or `Transient` (per
 * `Classification.classify`) cuts it to `limit × decrease`, at most once per generation: the
 * failure of a call admitted before the last cut does not cut again, so one burst of failures cuts
 * once instead of collapsing the limit to `min`. Permanent failures, defects and interruptions only
 * return the permit. The limit stays within `[min, max]`; the number of calls that may run at once
 * is its whole part.
 *
 * A call that finds every permit taken waits in a bounded FIFO queue. It fails at once with
 * {@link LoadShed} `QueueFull` when the queue is full, and with `QueueTimeout` when it waited
 * `queueTimeout`. When the limit grows waiters are admitted; when it shrinks, calls in flight finish
 * normally and no new call starts until fewer than the limit are in flight.
 *
 * The loss-based AIMD shape is Netflix concurrency-limits' advice for clients (servers use delay-based
 * limits): here the losses are the server's 529, 429 and timeouts.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { AdaptiveConcurrency } from "@ballast/core"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * declare const call: Effect.Effect<string, Unavailable>
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* AdaptiveConcurrency.make(
 *     AdaptiveConcurrency.config({ initial: 16, max: 64, queueTimeout: "5 seconds" })
 *   )
 *   // fails with LoadShed when the queue is full or the wait is longer than 5 seconds
 *   return yield* Effect.all(Array.from({ length: 100 }, () => limiter.run(call)), { concurrency: "unbounded" })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Data, Duration, Effect, Exit, Option, PubSub, Stream } from "effect"
import type { Scope } from "effect"
import { dual } from "effect/Function"
import * as Classification from "./Classification.js"
import * as internal from "./internal/adaptiveConcurrency.js"

/**
 * The configuration of a limiter. Build it with {@link config}.
 *
 * @since 0.1.0
 * @category Models
 */
export class Config extends Data.Class<{
  /** The limit to start from. Default: `32`. */
  readonly initial: number
  /** The limit is never cut below this (at least `1`). Default: `1`. */
  readonly min: number
  /** The limit never grows above this. Default: `512`. */
  readonly max: number
  /**
   * What a limit's worth of successes adds: each success while at least half the limit is in flight
   * adds `increase / limit`. Default: `1`.
   */
  readonly increase: number
  /** The factor of a cut (`limit × decrease`), in `[0, 1]`. Default: `0.7`. */
  readonly decrease: number
  /** The most calls that may wait for a permit; `0` sheds every call that finds no permit. Default: `1000`. */
  readonly queue: number
  /** The longest a call waits for a permit before it is shed. Default: none (waits as long as it takes). */
  readonly queueTimeout: Option.Option<Duration.Duration>
}> {}

/**
 * The defaults of {@link config}.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly initial: number
  readonly min: number
  readonly max: number
  readonly increase: number
  readonly decrease: number
  readonly queue: number
} = { initial: 32, min: 1, max: 512, increase: 1, decrease: 0.7, queue: 1000 }

/**
 * Options of {@link config}; every field optional.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Default: `32` (brought within `[min, max]`). */
  readonly initial?: number | undefined
  /** Default: `1`. */
  readonly min?: number | undefined
  /** Default: `512` (raised to `min` if lower). */
  readonly max?: number | undefined
  /** Default: `1`. */
  readonly increase?: number | undefined
  /** Default: `0.7`. */
  readonly decrease?: number | undefined
  /** Default: `1000`. */
  readonly queue?: number | undefined
  /** Default: none. */
  readonly queueTimeout?: Duration.DurationInput | undefined
}

const orDefault = (n: number | undefined, fallback: number): number =>
  n === undefined || Number.isNaN(n) ? fallback : n

const clamp = (n: number, low: number, high: number): number => Math.min(high, Math.max(low, n))

/**
 * Builds a limiter configuration. Numbers out of range are brought into it rather than refused:
 * `min` is at least `1`, `max` at least `min`, `initial` within `[min, max]`, `decrease` within
 * `[0, 1]`, `increase` and `queue` at least `0`.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@ballast/core"
 *
 * const standard = AdaptiveConcurrency.config() // 32, within [1, 512], ×0.7 on overload, queue of 1000
 * const batch = AdaptiveConcurrency.config({ initial: 4, max: 16, queue: 0 }) // never waits: sheds at once
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const config = (options?: Options): Config => {
  const min = Math.max(1, orDefault(options?.min, defaults.min))
  const max = Math.max(min, orDefault(options?.max, defaults.max))
  return new Config({
    initial: clamp(orDefault(options?.initial, defaults.initial), min, max),
    min,
    max,
    increase: Math.max(0, orDefault(options?.increase, defaults.increase)),
    decrease: clamp(orDefault(options?.decrease, defaults.decrease), 0, 1),
    queue: Math.max(0, orDefault(options?.queue, defaults.queue)),
    queueTimeout: Option.map(Option.fromNullable(options?.queueTimeout), Duration.decode)
  })
}

const shedClassification: Classification.Classification = Classification.make("Permanent", { retryable: false })

/**
 * The limiter refused a call without running it: the queue was full (`QueueFull`), or the call waited
 * `queueTimeout` for a permit (`QueueTimeout`). `limit`, `inFlight` and `queued` are the limiter's
 * state at that moment.
 *
 * Classified `Permanent` and not retryable: shedding is the caller's own decision, so a policy does
 * not retry it and circuit breakers do not count it.
 *
 * @since 0.1.0
 * @category Errors
 */
export class LoadShed extends Data.TaggedError("LoadShed")<{
  readonly reason: "QueueFull" | "QueueTimeout"
  readonly limit: number
  readonly inFlight: number
  readonly queued: number
}> implements Classification.Classifiable {
  /** @since 0.1.0 */
  get [Classification.TypeId](): Classification.Classification {
    return shedClassification
  }
}

/**
 * @since 0.1.0
 * @category Guards
 */
export const isLoadShed = (u: unknown): u is LoadShed => u instanceof LoadShed

/**
 * A running limiter. Share one between every call that goes to the same server.
 *
 * @since 0.1.0
 * @category Models
 */
export interface AdaptiveConcurrency {
  readonly config: Config
  /**
   * Runs `self` with a permit: at once when fewer than the limit are in flight and nobody waits,
   * otherwise after the calls queued before it (FIFO). The permit is returned when `self` ends, however
   * it ends, and its outcome moves the limit. An interrupted waiter leaves the queue holding nothing.
   */
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LoadShed, R>
  /**
   * Like `run`, but when `self` succeeds the permit is kept until the caller's `Scope` closes (for a
   * result that still uses the connection, such as a stream). The outcome recorded is then the
   * scope's exit. A failure or interruption of `self` returns the permit at once.
   */
  readonly runScoped: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LoadShed, R | Scope.Scope>
  /** How many calls may run at once now: the whole part of the limit. */
  readonly limit: Effect.Effect<number>
  /** Calls holding a permit. May exceed `limit` for a while after a cut. */
  readonly inFlight: Effect.Effect<number>
  /** Calls waiting for a permit. */
  readonly queued: Effect.Effect<number>
  /** The current `limit`, then every change of it as it happens. */
  readonly changes: Stream.Stream<number>
}

const failureOutcome = (cause: Cause.Cause<unknown>): internal.Outcome => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return internal.Outcome.Neutral
  return Classification.classify(failure.value).kind === "Permanent"
    ? internal.Outcome.Neutral
    : internal.Outcome.Overload
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): internal.Outcome =>
  Exit.isSuccess(exit) ? internal.Outcome.Success : failureOutcome(exit.cause)

/** Runs `self` with the permit taken in `generation` and returns the permit with the outcome. */
const completing = <A, E, R>(
  limiter: internal.Limiter<LoadShed>,
  generation: number,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.matchCauseEffect(self, {
    onSuccess: (a) => {
      limiter.complete(generation, internal.Outcome.Success)
      return Effect.succeed(a)
    },
    onFailure: (cause) => {
      limiter.complete(generation, failureOutcome(cause))
      return Effect.failCause(cause)
    }
  })

type Restore = <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>

const waitFor = (
  limiter: internal.Limiter<LoadShed>,
  waiter: internal.Waiter
): Effect.Effect<void, LoadShed> =>
  limiter.settings.queueTimeout === undefined
    ? Effect.async<void, LoadShed>((resume) => limiter.enqueue(waiter, resume, 0, undefined))
    : Effect.clockWith((clock) =>
      Effect.flatMap(Effect.runtime<never>(), (runtime) =>
        Effect.async<void, LoadShed>((resume) =>
          limiter.enqueue(waiter, resume, clock.unsafeCurrentTimeMillis(), runtime)
        ))
    )

/**
 * Takes a permit (waiting if need be) and continues with `use(generation)`. Runs inside an
 * `uninterruptibleMask`: only the wait is interruptible, through `restore`.
 */
const withPermit = <A, E, R>(
  limiter: internal.Limiter<LoadShed>,
  restore: Restore,
  use: (generation: number) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | LoadShed, R> => {
  if (limiter.tryAcquire()) return use(limiter.generation)
  const waiter = new internal.Waiter()
  return Effect.flatMap(
    Effect.exit(restore(waitFor(limiter, waiter))),
    (exit): Effect.Effect<A, E | LoadShed, R> => {
      if (Exit.isSuccess(exit)) return use(waiter.generation)
      limiter.abandon(waiter)
      return Effect.failCause(exit.cause)
    }
  )
}

/**
 * Starts a limiter.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (config: Config): Effect.Effect<AdaptiveConcurrency> =>
  Effect.map(PubSub.unbounded<number>(), (pubsub) => {
    const limiter = new internal.Limiter<LoadShed>(
      {
        initial: config.initial,
        min: config.min,
        max: config.max,
        increase: config.increase,
        decrease: config.decrease,
        queue: config.queue,
        queueTimeout: Option.getOrUndefined(Option.map(config.queueTimeout, Duration.toMillis))
      },
      (reason, limit, inFlight, queued) => new LoadShed({ reason, limit, inFlight, queued }),
      (permits) => {
        pubsub.unsafeOffer(permits)
      }
    )

    const run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | LoadShed, R> =>
      Effect.uninterruptibleMask((restore) =>
        withPermit(limiter, restore, (generation) => completing(limiter, generation, restore(self)))
      )

    const runScoped = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | LoadShed, R | Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        withPermit(limiter, restore, (generation) =>
          Effect.matchCauseEffect(restore(self), {
            onFailure: (cause) => {
              limiter.complete(generation, failureOutcome(cause))
              return Effect.failCause(cause)
            },
            onSuccess: (a) =>
              Effect.as(
                Effect.addFinalizer((exit) => Effect.sync(() => limiter.complete(generation, outcomeOf(exit)))),
                a
              )
          }))
      )

    return {
      config,
      run,
      runScoped,
      limit: Effect.sync(() => limiter.permits),
      inFlight: Effect.sync(() => limiter.inFlight),
      queued: Effect.sync(() => limiter.queued),
      // subscribe first, then read the current value: a move in between shows up in both, and
      // `Stream.changes` drops the repeat (consecutive moves always differ)
      changes: Stream.unwrapScoped(
        Effect.map(PubSub.subscribe(pubsub), (moves) =>
          Stream.concat(Stream.sync(() => limiter.permits), Stream.fromQueue(moves)).pipe(Stream.changes))
      )
    }
  })

/**
 * Runs an effect through a limiter (see {@link AdaptiveConcurrency.run}); data-last for `pipe`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AdaptiveConcurrency } from "@ballast/core"
 *
 * declare const limiter: AdaptiveConcurrency.AdaptiveConcurrency
 * declare const call: Effect.Effect<string, Error>
 *
 * const limited = call.pipe(AdaptiveConcurrency.run(limiter))
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const run: {
  (limiter: AdaptiveConcurrency): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LoadShed, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, limiter: AdaptiveConcurrency): Effect.Effect<A, E | LoadShed, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, limiter: AdaptiveConcurrency): Effect.Effect<A, E | LoadShed, R> =>
    limiter.run(self)
)
