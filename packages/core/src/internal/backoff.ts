/**
 * Pure backoff arithmetic shared by `Backoff` and `Retry`. All times are in milliseconds.
 *
 * @internal
 */
import { Duration, Effect, Random } from "effect"

/** @internal */
export type Jitter = "none" | "full" | "equal" | "decorrelated" | "sdk"

/** @internal */
export interface Input {
  readonly base?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly cap?: Duration.DurationInput | undefined
  readonly jitter?: Jitter | undefined
}

/** @internal */
export interface Resolved {
  readonly base: number
  readonly factor: number
  readonly cap: number
  readonly jitter: Jitter
}

/** @internal */
export const defaults = {
  base: Duration.millis(500),
  factor: 2,
  cap: Duration.seconds(8),
  jitter: "full"
} as const

/** @internal */
export const resolve = (options: Input | undefined): Resolved => ({
  base: Duration.toMillis(options?.base ?? defaults.base),
  factor: options?.factor ?? defaults.factor,
  cap: Duration.toMillis(options?.cap ?? defaults.cap),
  jitter: options?.jitter ?? defaults.jitter
})

/**
 * `n`: index of the next retry (from 0). `prev`: the previous delay chosen by decorrelated jitter
 * (starts at `base`).
 *
 * @internal
 */
export interface State {
  readonly n: number
  readonly prev: number
}

/** @internal */
export const initial = (resolved: Resolved): State => ({ n: 0, prev: resolved.base })

/** `min(cap, base · factor^n)`, without `0 · ∞ = NaN` when the power overflows. @internal */
export const exponential = (resolved: Resolved, n: number): number =>
  resolved.base === 0 ? 0 : Math.min(resolved.cap, resolved.base * resolved.factor ** n)

/** `x · r`, where an infinite `x` times a zero draw is zero rather than `NaN`. */
const scale = (x: number, r: number): number => (r === 0 ? 0 : x * r)

/** A draw clamped to `[0, 1]`, as `Random.fixed` does. */
const clamp = (r: number): number => (Number.isNaN(r) ? 0 : Math.max(0, Math.min(1, r)))

/**
 * One backoff step: the delay for retry `state.n` given the random draw `r ∈ [0, 1]`.
 *
 * @internal
 */
export const step = (resolved: Resolved, state: State, draw: number): readonly [State, number] => {
  const r = clamp(draw)
  const n = state.n
  switch (resolved.jitter) {
    case "none": {
      return [{ n: n + 1, prev: state.prev }, exponential(resolved, n)]
    }
    case "full": {
      return [{ n: n + 1, prev: state.prev }, scale(exponential(resolved, n), r)]
    }
    case "equal": {
      const half = exponential(resolved, n) / 2
      return [{ n: n + 1, prev: state.prev }, half + scale(half, r)]
    }
    case "sdk": {
      const expo = exponential(resolved, n)
      return [{ n: n + 1, prev: state.prev }, expo - scale(expo, r) / 4]
    }
    case "decorrelated": {
      const delay = Math.min(resolved.cap, resolved.base + scale(state.prev * 3 - resolved.base, r))
      return [{ n: n + 1, prev: delay }, delay]
    }
  }
}

/**
 * A delay in milliseconds as a `Duration` and back: `Duration` keeps whole nanoseconds, so the delay a
 * schedule reports and the delay it sleeps are the same number.
 *
 * @internal
 */
export const normalize = (millis: number): readonly [Duration.Duration, number] => {
  const duration = Duration.millis(millis)
  return [duration, Duration.toMillis(duration)]
}

/** The random draw for one step; `"none"` draws nothing. @internal */
export const draw = (resolved: Resolved): Effect.Effect<number> =>
  resolved.jitter === "none" ? Effect.succeed(0) : Random.next
