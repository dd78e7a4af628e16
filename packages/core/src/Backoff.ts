/**
 * Capped exponential backoff with jitter, as a plain Effect `Schedule`.
 *
 * The formulas are Brooker's ("Exponential Backoff And Jitter", AWS Architecture Blog), with
 * `n` the index of the retry (from 0) and `U(a, b)` a uniform draw from effect's `Random`:
 *
 * | jitter           | delay                                                   |
 * |------------------|---------------------------------------------------------|
 * | `"none"`         | `expo = min(cap, base · factor^n)`                      |
 * | `"full"`         | `U(0, expo)`                                            |
 * | `"equal"`        | `expo / 2 + U(0, expo / 2)`                             |
 * | `"decorrelated"` | `min(cap, U(base, prev · 3))`, `prev` starting at `base` |
 * | `"sdk"`          | `expo · (1 − U(0, 0.25))` (the official Anthropic SDK's) |
 *
 * Because the randomness comes from `Random`, `Effect.withRandom(Random.fixed([...]))` makes every
 * delay exact in tests.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule, ScheduleDecision, ScheduleInterval } from "effect"
import * as internal from "./internal/backoff.js"

/**
 * How randomness spreads the delays of many clients apart.
 *
 * - `"none"`: the capped exponential itself. Clients that failed together retry together.
 * - `"full"`: uniform in `[0, expo]`. The least total work in Brooker's simulation; the default.
 * - `"equal"`: uniform in `[expo / 2, expo]`. Never waits less than half the exponential.
 * - `"decorrelated"`: uniform in `[base, 3 · previous delay]`, capped. Ignores `factor`.
 * - `"sdk"`: up to 25% below the exponential, as `@anthropic-ai/sdk` does. Keeps clients that failed
 *   together close together; offered to reproduce the SDK's behaviour, not as a good choice.
 *
 * @since 0.1.0
 * @category Models
 */
export type Jitter = internal.Jitter

/**
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** The delay before the first retry, before jitter. Default: `500 millis`. */
  readonly base?: Duration.DurationInput | undefined
  /** Growth per retry (`base · factor^n`); expected `>= 1`. Not used by decorrelated jitter. Default: `2`. */
  readonly factor?: number | undefined
  /** The longest delay backoff ever chooses. Default: `8 seconds`. */
  readonly cap?: Duration.DurationInput | undefined
  /** How randomness spreads the delays. Default: `"full"`. */
  readonly jitter?: Jitter | undefined
}

/**
 * The defaults used for every field of {@link Options} left out.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaults: {
  readonly base: Duration.Duration
  readonly factor: number
  readonly cap: Duration.Duration
  readonly jitter: Jitter
} = internal.defaults

/**
 * A schedule that recurs forever, waiting a capped, jittered exponential delay before each
 * recurrence. Its output is the delay it chose. Bound it with Effect's own combinators, for example
 * `Schedule.intersect(Schedule.recurs(3))`, or use `Retry.schedule`, which adds classification,
 * Retry-After and deadlines.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Backoff } from "@ballast/core"
 *
 * const policy = Backoff.make({ base: "200 millis", cap: "5 seconds", jitter: "full" }).pipe(
 *   Schedule.intersect(Schedule.recurs(4))
 * )
 * const program = Effect.fail("boom").pipe(Effect.retry(policy))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (options?: Options): Schedule.Schedule<Duration.Duration, unknown> => {
  const resolved = internal.resolve(options)
  return Schedule.makeWithState(internal.initial(resolved), (now, _input: unknown, state) =>
    Effect.map(internal.draw(resolved), (r) => {
      const [next, raw] = internal.step(resolved, state, r)
      const [delay, millis] = internal.normalize(raw)
      return [
        next,
        delay,
        ScheduleDecision.continueWith(ScheduleInterval.after(now + millis))
      ] as const
    }))
}

/**
 * The delays {@link make} would choose for the given random draws (each in `[0, 1]`, one per retry;
 * `"none"` ignores their values but still returns one delay per draw). Pure: for tests, tables and
 * documentation.
 *
 * @example
 * ```ts
 * import { Backoff } from "@ballast/core"
 *
 * Backoff.delays({ base: "100 millis", cap: "1 second", jitter: "full" }, [0.5, 0.5, 0.5])
 * // [50 millis, 100 millis, 200 millis]
 * ```
 *
 * @since 0.1.0
 * @category Utils
 */
export const delays = (options: Options, draws: Iterable<number>): Array<Duration.Duration> => {
  const resolved = internal.resolve(options)
  let state = internal.initial(resolved)
  const out: Array<Duration.Duration> = []
  for (const r of draws) {
    const [next, raw] = internal.step(resolved, state, r)
    state = next
    out.push(internal.normalize(raw)[0])
  }
  return out
}
