/**
 * Pacing: wait for a used-up rate-limit window to reset instead of sending a call the server will
 * refuse.
 *
 * Servers tell clients how much of each rate-limit window is left and when it resets (Anthropic:
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`). A
 * {@link Pacer} keeps the latest such state per window, fed by {@link Pacer.observe}; before each
 * call {@link Pacer.wait} sleeps until every window with nothing remaining has reset, and returns at
 * once otherwise. It is provider-neutral: parsing the headers is the provider layer's job.
 *
 * Times are epoch milliseconds of effect's `Clock`, so pacing is exact under `TestClock`.
 *
 * @example
 * ```ts
 * import { Clock, Effect } from "effect"
 * import { Pacing } from "@ballast/core"
 *
 * const program = Effect.gen(function*() {
 *   const pacer = yield* Pacing.make
 *   const now = yield* Clock.currentTimeMillis
 *   yield* pacer.observe([{ name: "requests", remaining: 0, resetAt: now + 2_000 }])
 *   yield* pacer.wait // sleeps 2 seconds
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import * as internal from "./internal/pacing.js"

/**
 * The state of one rate-limit window, as a response reported it.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Window {
  /** Identifies the window (for Anthropic: `requests`, `tokens`, `input-tokens`, `output-tokens`). */
  readonly name: string
  /** What is left in the window. `0` or less means used up: calls wait for `resetAt`. */
  readonly remaining: number
  /** When the window resets, in epoch milliseconds of effect's `Clock`. */
  readonly resetAt: number
}

/**
 * A rate-limit pacer. Share one between every call that spends the same limits.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Pacer {
  /**
   * Records the latest state of some windows; each replaces what was known of the window with the
   * same name (the latest observation wins); one whose `resetAt` is `NaN` (an unparsable header) is
   * ignored. Windows whose reset has passed are forgotten. If the observation means callers wait
   * less (a window was replenished), they are woken to look again.
   */
  readonly observe: (windows: ReadonlyArray<Window>) => Effect.Effect<void>
  /**
   * Sleeps until every known window with `remaining <= 0` has reset (looking again after each
   * reset, in case an observation made meanwhile extended the wait); returns at once when no window
   * is used up. Interruptible.
   */
  readonly wait: Effect.Effect<void>
  /** The windows known now (those whose reset has not passed), in the order first observed. */
  readonly state: Effect.Effect<ReadonlyArray<Window>>
  /** How long {@link Pacer.wait} would sleep now, given what is known (zero when nothing is used up). */
  readonly delay: Effect.Effect<Duration.Duration>
}

/**
 * Starts a pacer that knows no window yet.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: Effect.Effect<Pacer> = internal.make
