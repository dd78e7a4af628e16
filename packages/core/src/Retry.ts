/**
 * Retry as a `Schedule`: backoff with jitter, raised to the server's Retry-After, bounded by retries,
 * elapsed time and a deadline, and only for failures the classification calls retryable.
 *
 * {@link schedule} is one plain `Schedule` whose input is the typed failure, so it works with
 * `Effect.retry`, `Effect.retryOrElse` and every `Schedule` combinator. {@link retry} applies it and
 * measures the deadline from the start of the first attempt.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option, Predicate, Schedule, ScheduleDecision, ScheduleInterval } from "effect"
import { dual } from "effect/Function"
import type * as Backoff from "./Backoff.js"
import * as Classification from "./Classification.js"
import * as backoff from "./internal/backoff.js"

/**
 * @since 0.1.0
 * @category Models
 */
export interface Options<E> extends Backoff.Options {
  /**
   * Retries after the first attempt, so at most `maxRetries + 1` attempts. `Infinity` leaves the
   * bound to `maxElapsed` or `deadline`. Default: `3`.
   */
  readonly maxRetries?: number | undefined
  /**
   * No retry is started once this much time has passed since the origin (see `startedAt`). Checked
   * when a failure arrives, so the delay then chosen may end after it: a soft bound, like
   * `Schedule.upTo`. Use `deadline` for a hard one. Default: none.
   */
  readonly maxElapsed?: Duration.DurationInput | undefined
  /**
   * A hard bound, relative to the origin (see `startedAt`): a retry is scheduled only if it starts
   * strictly before `origin + deadline`. When the chosen delay (backoff or Retry-After) would reach
   * it, the schedule gives up at once, without sleeping. Default: none.
   */
  readonly deadline?: Duration.DurationInput | undefined
  /**
   * The same hard bound as `deadline`, as an absolute time in epoch milliseconds of effect's `Clock`.
   * When both are given the earlier one applies. Default: none.
   */
  readonly deadlineAt?: number | undefined
  /**
   * The origin for `deadline` and `maxElapsed`, in epoch milliseconds of effect's `Clock`.
   * Default: the time of the first failure the schedule sees. {@link retry} sets it to the start of
   * the first attempt.
   */
  readonly startedAt?: number | undefined
  /** Whether a Retry-After hint raises the delay to it. The hint is never jittered down. Default: `true`. */
  readonly honourRetryAfter?: boolean | undefined
  /**
   * The longest Retry-After honoured; a longer hint is cut to this before it raises the delay.
   * Default: `60 seconds`.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** How a failure is classified. Only retryable failures are retried. Default: `Classification.classify`. */
  readonly classify?: ((error: E) => Classification.Classification) | undefined
}

/**
 * The defaults used for the retry-specific fields of {@link Options} left out (see `Backoff.defaults`
 * for the others).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly maxRetries: number
  readonly honourRetryAfter: boolean
  readonly maxRetryAfter: Duration.Duration
} = {
  maxRetries: 3,
  honourRetryAfter: true,
  maxRetryAfter: Duration.seconds(60)
}

/**
 * The schedule's output when it decides to retry.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Step<E> {
  readonly _tag: "Step"
  /** The 1-based number of the attempt that failed. */
  readonly attempt: number
  /** How long the schedule waits before the next attempt. */
  readonly delay: Duration.Duration
  /** `"retry-after"` when the server's hint raised the backoff delay, `"backoff"` otherwise. */
  readonly reason: "backoff" | "retry-after"
  /** Time since the origin when the failure arrived. */
  readonly elapsed: Duration.Duration
  readonly error: E
  readonly classification: Classification.Classification
}

/**
 * The schedule's output when it stops. `Effect.retry` then re-raises `error`; `Effect.retryOrElse`
 * hands this value to its fallback.
 *
 * - `"not-retryable"`: the classification says a retry cannot help.
 * - `"max-retries"`: `maxRetries` retries were made.
 * - `"max-elapsed"`: `maxElapsed` had passed when the failure arrived.
 * - `"deadline"`: waiting the chosen delay would reach the deadline.
 *
 * @since 0.1.0
 * @category Models
 */
export interface GiveUp<E> {
  readonly _tag: "GiveUp"
  /** The 1-based number of the attempt that failed. */
  readonly attempt: number
  readonly reason: "not-retryable" | "max-retries" | "max-elapsed" | "deadline"
  /** Time since the origin when the failure arrived. */
  readonly elapsed: Duration.Duration
  readonly error: E
  readonly classification: Classification.Classification
}

/**
 * Every output of {@link schedule}: a {@link Step} while it retries, a {@link GiveUp} when it stops.
 * (`Schedule.tapOutput` sees both.)
 *
 * @since 0.1.0
 * @category Models
 */
export type Decision<E> = Step<E> | GiveUp<E>

/**
 * @since 0.1.0
 * @category Guards
 */
export const isStep = <E>(decision: Decision<E>): decision is Step<E> => Predicate.isTagged(decision, "Step")

/**
 * @since 0.1.0
 * @category Guards
 */
export const isGiveUp = <E>(decision: Decision<E>): decision is GiveUp<E> => Predicate.isTagged(decision, "GiveUp")

type StepResult<E> = Effect.Effect<readonly [State, Decision<E>, ScheduleDecision.ScheduleDecision]>

interface State {
  readonly backoff: backoff.State
  readonly retries: number
  readonly origin: Option.Option<number>
}

/**
 * A retry schedule whose input is the typed failure `E`.
 *
 * For each failure, in order: not retryable → stop; `maxRetries` made → stop; `maxElapsed` passed →
 * stop. Otherwise the delay is the backoff delay (see `Backoff`), raised to the Retry-After hint when
 * there is one and it is honoured (the hint first cut to `maxRetryAfter`; never jittered). If now +
 * delay reaches the deadline the schedule stops at once, so `Effect.retry` fails with that error
 * without sleeping.
 *
 * The deadline holds for this schedule's own delays. Combinators that only stop earlier or shorten
 * delays keep it (`Schedule.intersect(Schedule.recurs(n))`, `whileInput`, `union` with a shorter
 * schedule); combinators that lengthen delays (`intersect` with a slower schedule, `addDelay`) can
 * break it.
 *
 * @example
 * ```ts
 * import { Data, Effect, Schedule } from "effect"
 * import { Retry } from "@ballast/core"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * declare const call: Effect.Effect<string, Unavailable>
 *
 * const policy = Retry.schedule<Unavailable>({ base: "200 millis", maxRetries: 5, deadline: "30 seconds" }).pipe(
 *   Schedule.tapOutput((d) => Effect.log(d._tag, d.attempt)),
 *   Schedule.intersect(Schedule.recurs(2)) // at most 2 retries, whatever the options say
 * )
 * const program = call.pipe(Effect.retry(policy))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const schedule = <E>(options?: Options<E>): Schedule.Schedule<Decision<E>, E> => {
  const resolved = backoff.resolve(options)
  const maxRetries = Math.max(0, options?.maxRetries ?? defaults.maxRetries)
  const maxElapsed = Option.map(Option.fromNullable(options?.maxElapsed), Duration.toMillis)
  const deadline = Option.map(Option.fromNullable(options?.deadline), Duration.toMillis)
  const deadlineAt = Option.fromNullable(options?.deadlineAt)
  const honour = options?.honourRetryAfter ?? defaults.honourRetryAfter
  const maxRetryAfter = Duration.toMillis(options?.maxRetryAfter ?? defaults.maxRetryAfter)
  const classify: (error: E) => Classification.Classification = options?.classify ?? Classification.classify
  const initial: State = {
    backoff: backoff.initial(resolved),
    retries: 0,
    origin: Option.fromNullable(options?.startedAt)
  }

  return Schedule.makeWithState(initial, (now, error: E, state): StepResult<E> => {
    const origin = Option.getOrElse(state.origin, () => now)
    const attempt = state.retries + 1
    const classification = classify(error)
    const elapsed = Duration.millis(Math.max(0, now - origin))
    const giveUp = (reason: GiveUp<E>["reason"]): StepResult<E> =>
      Effect.succeed(
        [
          { ...state, origin: Option.some(origin) },
          { _tag: "GiveUp", attempt, reason, elapsed, error, classification } satisfies GiveUp<E>,
          ScheduleDecision.done
        ] as const
      )

    if (!classification.retryable) return giveUp("not-retryable")
    if (state.retries >= maxRetries) return giveUp("max-retries")
    if (Option.isSome(maxElapsed) && now - origin >= maxElapsed.value) return giveUp("max-elapsed")

    return Effect.flatMap(backoff.draw(resolved), (r): StepResult<E> => {
      const [nextBackoff, backoffDelay] = backoff.step(resolved, state.backoff, r)
      const hint = honour
        ? Option.map(classification.retryAfter, (d) => Math.min(Duration.toMillis(d), maxRetryAfter))
        : Option.none()
      const raised = Option.isSome(hint) && hint.value > backoffDelay
      const [delay, millis] = backoff.normalize(raised ? hint.value : backoffDelay)
      const limit = Option.reduceCompact(
        [deadlineAt, Option.map(deadline, (d) => origin + d)],
        Infinity,
        (a, b) => Math.min(a, b)
      )
      if (now + millis >= limit) return giveUp("deadline")
      return Effect.succeed(
        [
          { backoff: nextBackoff, retries: state.retries + 1, origin: Option.some(origin) },
          {
            _tag: "Step",
            attempt,
            delay,
            reason: raised ? "retry-after" : "backoff",
            elapsed,
            error,
            classification
          } satisfies Step<E>,
          ScheduleDecision.continueWith(ScheduleInterval.after(now + millis))
        ] as const
      )
    })
  })
}

/**
 * Options of {@link retry}: those of {@link schedule}, plus hooks run as the schedule decides.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RetryOptions<E, R = never> extends Options<E> {
  /** Runs after each failure that will be retried, before the wait. Default: nothing. */
  readonly onRetry?: ((step: Step<E>) => Effect.Effect<void, never, R>) | undefined
  /** Runs once when the schedule gives up, before the error is re-raised. Default: nothing. */
  readonly onGiveUp?: ((giveUp: GiveUp<E>) => Effect.Effect<void, never, R>) | undefined
}

/**
 * Retries an effect with {@link schedule}. The origin of `deadline` and `maxElapsed` is the start of
 * the first attempt (read from `Clock` before it runs), unless `startedAt` is given. The error type is
 * unchanged: when the schedule gives up, the last error is re-raised.
 *
 * @example
 * ```ts
 * import { Console, Data, Duration, Effect } from "effect"
 * import { Retry } from "@ballast/core"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * declare const call: Effect.Effect<string, Unavailable>
 *
 * const program = call.pipe(
 *   Retry.retry({
 *     maxRetries: 5,
 *     deadline: "20 seconds",
 *     onRetry: (step) => Console.log(`attempt ${step.attempt} failed; waiting ${Duration.format(step.delay)}`)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const retry: {
  <E, R2 = never>(
    options?: RetryOptions<NoInfer<E>, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2>
  <A, E, R, R2 = never>(
    self: Effect.Effect<A, E, R>,
    options?: RetryOptions<NoInfer<E>, R2>
  ): Effect.Effect<A, E, R | R2>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R, R2>(self: Effect.Effect<A, E, R>, options?: RetryOptions<E, R2>): Effect.Effect<A, E, R | R2> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const onRetry = options?.onRetry
      const onGiveUp = options?.onGiveUp
      const policy = schedule<E>({ ...options, startedAt: options?.startedAt ?? now }).pipe(
        Schedule.tapOutput((decision): Effect.Effect<void, never, R2> =>
          isStep(decision)
            ? onRetry === undefined ? Effect.void : onRetry(decision)
            : onGiveUp === undefined ? Effect.void : onGiveUp(decision)
        )
      )
      return Effect.retry(self, policy)
    })
)
