/**
 * The running state of the two retry budgets, as plain synchronous objects. `RetryBudget.make` wraps
 * them in effects; every method runs inside one `Effect.sync`, so no other fiber interleaves with it.
 *
 * @internal
 */
import type * as Classification from "../Classification.js"
import { SlidingWindow } from "./slidingWindow.js"

/** @internal */
export interface State {
  /** A call starts (its first attempt). */
  request(now: number): void
  /** Withdraws for one retry; `false` (and no change) when the budget cannot pay for it. */
  tryRetry(now: number, kind: Classification.Kind): boolean
  /** A call succeeded; `retry` is the kind of the failure its last retry followed, if any. */
  success(retry: Classification.Kind | undefined): void
  /** What is left, from 0 to 1. */
  level(now: number): number
}

const clamp01 = (x: number): number => (x <= 0 ? 0 : x >= 1 ? 1 : x)

/** @internal */
export class TokenBucketState implements State {
  tokens: number

  constructor(
    readonly capacity: number,
    readonly retryCost: number,
    readonly transientCost: number,
    readonly successRefund: number
  ) {
    this.tokens = capacity
  }

  cost(kind: Classification.Kind): number {
    return kind === "Transient" ? this.transientCost : this.retryCost
  }

  request(): void {}

  tryRetry(_now: number, kind: Classification.Kind): boolean {
    const cost = this.cost(kind)
    if (this.tokens < cost) return false
    this.tokens -= cost
    return true
  }

  success(retry: Classification.Kind | undefined): void {
    const refund = retry === undefined ? this.successRefund : this.cost(retry)
    this.tokens = Math.min(this.capacity, this.tokens + refund)
  }

  /** Not clamped: `tokens` stays within `[0, capacity]` by construction (tests check it through this). */
  level(): number {
    return this.capacity > 0 ? this.tokens / this.capacity : 0
  }
}

/**
 * Requests (first counter) and retries (second counter) in a sliding window. A retry is allowed while
 * `retries + 1 <= ratio · requests + minRetriesPerSecond · windowSeconds`.
 *
 * @internal
 */
export class RatioState implements State {
  readonly window: SlidingWindow
  readonly floor: number

  constructor(readonly ratio: number, windowMillis: number, minRetriesPerSecond: number) {
    this.window = new SlidingWindow(windowMillis)
    this.floor = minRetriesPerSecond * (windowMillis / 1000)
  }

  allowance(): number {
    return this.ratio * this.window.sumA + this.floor
  }

  request(now: number): void {
    this.window.advance(now)
    this.window.add(1, 0)
  }

  tryRetry(now: number, _kind?: Classification.Kind): boolean {
    this.window.advance(now)
    // The epsilon keeps float products such as 0.1 · 70 from refusing a retry that the ratio allows.
    if (this.window.sumB + 1 > this.allowance() + 1e-9) return false
    this.window.add(0, 1)
    return true
  }

  success(): void {}

  level(now: number): number {
    this.window.advance(now)
    const allowance = this.allowance()
    return allowance > 0 ? clamp01((allowance - this.window.sumB) / allowance) : 0
  }
}
