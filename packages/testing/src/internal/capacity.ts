/**
 * The capacity model: a concurrency ceiling and per-minute token buckets, in one shared pool
 * and optionally one pool per model.
 *
 * Buckets use integer arithmetic (levels scaled by 60 000, refilled by `limit` per
 * millisecond) so every decision is exact under TestClock.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { CapacityOptions } from "../Simulator.js"

const MINUTE = 60_000

/** @internal */
export class Bucket {
  private level: number
  private last: number
  private readonly max: number
  constructor(readonly limit: number, now: number) {
    this.max = limit * MINUTE
    this.level = this.max
    this.last = now
  }
  refill(now: number): void {
    if (now > this.last) {
      this.level = Math.min(this.max, this.level + (now - this.last) * this.limit)
      this.last = now
    }
  }
  /** Whether `units` fit now (after refilling). A cost above the limit fits only a full bucket. */
  fits(units: number): boolean {
    return this.level >= Math.min(units, this.limit) * MINUTE
  }
  take(units: number): void {
    this.level = Math.max(0, this.level - units * MINUTE)
  }
  /** Whole seconds until `units` fit. */
  retryAfterSeconds(units: number): number {
    const missing = Math.min(units, this.limit) * MINUTE - this.level
    return Math.max(1, Math.ceil(missing / this.limit / 1000))
  }
  remaining(): number {
    return Math.floor(this.level / MINUTE)
  }
  /** Time (ms, Clock) when the bucket is full again. */
  resetAt(now: number): number {
    return now + Math.ceil((this.max - this.level) / this.limit)
  }
}

/** @internal */
export interface CapacityConfig {
  readonly concurrency: number | undefined
  readonly requestsPerMinute: number | undefined
  readonly tokensPerMinute: number | undefined
  readonly rejectionShare: number
  readonly rejectionMillis: number
  /** Models admitted against a pool of their own instead of this one. */
  readonly models?: ReadonlyMap<string, CapacityConfig> | undefined
}

/** The config of the options (`models` of a per-model entry are ignored: pools do not nest). @internal */
export const configOf = (options: CapacityOptions | undefined, nested = false): CapacityConfig => ({
  concurrency: options?.concurrency,
  requestsPerMinute: options?.requestsPerMinute,
  tokensPerMinute: options?.tokensPerMinute,
  rejectionShare: options?.rejectionCost?.share ?? 0,
  rejectionMillis: options?.rejectionCost === undefined ? 0 : Duration.toMillis(options.rejectionCost.duration),
  models: nested || options?.models === undefined
    ? undefined
    : new Map(Object.entries(options.models).map(([id, o]) => [id, configOf(o, true)]))
})

/** @internal */
export type Admission =
  | { readonly _tag: "Admitted" }
  | { readonly _tag: "Overloaded" }
  | { readonly _tag: "RateLimited"; readonly retryAfterSeconds: number; readonly limit: "requests" | "tokens" }

const admitted: Admission = { _tag: "Admitted" }
const overloaded: Admission = { _tag: "Overloaded" }

/** RFC 3339 without fractional seconds, rounded up to the next whole second. */
export const rfc3339 = (millis: number): string =>
  new Date(Math.ceil(millis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** @internal */
export class Capacity {
  active = 0
  private readonly requests: Bucket | undefined
  private readonly tokens: Bucket | undefined
  /** Expiry times of rejections still occupying a share of capacity (in arrival order). */
  private readonly rejections: Array<number> = []
  private readonly pools = new Map<string, Capacity>()
  constructor(readonly config: CapacityConfig, now: number) {
    this.requests = config.requestsPerMinute === undefined ? undefined : new Bucket(config.requestsPerMinute, now)
    this.tokens = config.tokensPerMinute === undefined ? undefined : new Bucket(config.tokensPerMinute, now)
    if (config.models !== undefined) {
      for (const [model, c] of config.models) this.pools.set(model, new Capacity(c, now))
    }
  }

  /** The pool a request for `model` is admitted against: the model's own if it has one, else this one. */
  pool(model: string | undefined): Capacity {
    return model === undefined ? this : this.pools.get(model) ?? this
  }

  /** Requests in service in this pool and in every per-model pool. */
  get inFlight(): number {
    let n = this.active
    for (const p of this.pools.values()) n += p.active
    return n
  }

  get hasRateLimits(): boolean {
    return this.requests !== undefined || this.tokens !== undefined
  }

  /** Current load: requests in service plus shares held by recent rejections. */
  load(now: number): number {
    const r = this.rejections
    let expired = 0
    while (expired < r.length && r[expired]! <= now) expired++
    if (expired > 0) r.splice(0, expired)
    return this.active + r.length * this.config.rejectionShare
  }

  /** Decide on one request costing `tokens`; on admission it is counted as active. */
  admit(now: number, tokens: number): Admission {
    const requests = this.requests
    const bucket = this.tokens
    if (requests !== undefined) {
      requests.refill(now)
      if (!requests.fits(1)) {
        return this.reject(now, {
          _tag: "RateLimited",
          retryAfterSeconds: requests.retryAfterSeconds(1),
          limit: "requests"
        })
      }
    }
    if (bucket !== undefined) {
      bucket.refill(now)
      if (!bucket.fits(tokens)) {
        return this.reject(now, {
          _tag: "RateLimited",
          retryAfterSeconds: bucket.retryAfterSeconds(tokens),
          limit: "tokens"
        })
      }
    }
    const concurrency = this.config.concurrency
    if (concurrency !== undefined && this.load(now) + 1 > concurrency) return this.reject(now, overloaded)
    requests?.take(1)
    bucket?.take(tokens)
    this.active++
    return admitted
  }

  release(): void {
    this.active--
  }

  private reject(now: number, admission: Admission): Admission {
    if (this.config.rejectionShare > 0 && this.config.rejectionMillis > 0) {
      this.rejections.push(now + this.config.rejectionMillis)
    }
    return admission
  }

  /** `anthropic-ratelimit-*` headers describing the buckets now. */
  writeHeaders(now: number, headers: Record<string, string>): void {
    const requests = this.requests
    if (requests !== undefined) {
      requests.refill(now)
      headers["anthropic-ratelimit-requests-limit"] = String(requests.limit)
      headers["anthropic-ratelimit-requests-remaining"] = String(requests.remaining())
      headers["anthropic-ratelimit-requests-reset"] = rfc3339(requests.resetAt(now))
    }
    const tokens = this.tokens
    if (tokens !== undefined) {
      tokens.refill(now)
      headers["anthropic-ratelimit-tokens-limit"] = String(tokens.limit)
      headers["anthropic-ratelimit-tokens-remaining"] = String(tokens.remaining())
      headers["anthropic-ratelimit-tokens-reset"] = rfc3339(tokens.resetAt(now))
    }
  }
}
