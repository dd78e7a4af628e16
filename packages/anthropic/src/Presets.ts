/**
 * Ready-made policies for the usual kinds of service. Each is a plain `Policy` value: print it,
 * compare it, or change any part with the `Policy.with*` combinators.
 *
 * | preset          | for                               | in short                                                     |
 * |-----------------|-----------------------------------|--------------------------------------------------------------|
 * | `interactive`   | a user is waiting                 | 30 s deadline, 2 quick retries, then Opus → Sonnet → Haiku    |
 * | `background`    | jobs, pipelines, queues           | patient retries under a budget, adaptive concurrency, pacing |
 * | `sdkCompatible` | the baseline: `@anthropic-ai/sdk` | 2 retries, 0.5·2ⁿ s capped at 8 s minus ≤ 25 %, Retry-After   |
 * | `batch`         | work that can wait for a batch    | calls gathered 30 s (≤ 10,000) into one batch at half price  |
 *
 * `batch` is not a `Policy` but a `DeferredClient.Config` (it holds one for its own API calls):
 * provide it with `DeferredClient.layer(Presets.batch)`.
 *
 * @example
 * ```ts
 * import { Policy } from "@ballast/core"
 * import { Presets } from "@ballast/anthropic"
 *
 * const nightly = Presets.background.pipe(Policy.named("nightly"), Policy.withDeadline("2 hours"))
 * console.log(String(nightly))
 * ```
 *
 * @since 0.1.0
 */
import { AdaptiveConcurrency, CircuitBreaker, Policy, RetryBudget } from "@ballast/core"
import * as DeferredClient from "./DeferredClient.js"

/**
 * Exactly the retry behaviour of `@anthropic-ai/sdk` 1.14 with its defaults: 2 retries; the delay
 * before retry n (from 0) is `min(0.5 s · 2ⁿ, 8 s)` minus up to 25 % (`jitter: "sdk"`); a
 * `retry-after-ms`/`retry-after` hint replaces it when present (up to ~24.8 days, the SDK's bound);
 * the SDK's own 10-minute request timeout (the client's, not re-imposed by the policy). Nothing
 * else: no budget, no breaker, no concurrency control, no fallback. It is the baseline the other
 * presets are measured against.
 *
 * @since 0.1.0
 * @category Presets
 */
export const sdkCompatible: Policy.Policy = Policy.make({
  name: "sdkCompatible",
  retry: {
    maxRetries: 2,
    base: "500 millis",
    factor: 2,
    cap: "8 seconds",
    jitter: "sdk",
    honourRetryAfter: true,
    maxRetryAfter: 2_147_483_647
  }
})

/**
 * Latency first, for calls a person is waiting on:
 *
 * - the whole call has a **30 s deadline**; a retry that would end past it is not started;
 * - **2 quick retries** (full jitter from 250 ms, capped at 2 s), then the call **falls back** down
 *   `claude-opus-5-5 → claude-sonnet-5-5 → claude-haiku-5-5` (from the requested model's place in
 *   that chain; 1 retry on each fallback step); a Retry-After longer than the time left moves to the
 *   next model at once;
 * - a **circuit breaker per model** (5 consecutive overloads open it for 5 s, growing to 60 s), so a
 *   model that is down is skipped without sending it anything;
 * - a **retry budget** (token bucket 500/5/10) so retries stop when most calls fail;
 * - **adaptive concurrency** per model with a short queue (256 waiters, 0.5 s wait at most: a call
 *   that cannot start on its model by then moves to the next model, or is shed with `LoadShed` on
 *   the last), and rate-limit **pacing**.
 *
 * @since 0.1.0
 * @category Presets
 */
export const interactive: Policy.Policy = Policy.make({
  name: "interactive",
  retry: { maxRetries: 2, base: "250 millis", factor: 2, cap: "2 seconds", jitter: "full" },
  budget: RetryBudget.tokenBucket(),
  breaker: CircuitBreaker.config({ trips: CircuitBreaker.consecutive(5), openDuration: "5 seconds" }),
  concurrency: AdaptiveConcurrency.config({ queue: 256, queueTimeout: "500 millis" }),
  pacing: true,
  deadline: "30 seconds",
  fallback: [
    "claude-opus-5-5",
    { key: "claude-sonnet-5-5", retry: { maxRetries: 1, base: "250 millis", cap: "1 second" } },
    { key: "claude-haiku-5-5", retry: { maxRetries: 1, base: "250 millis", cap: "1 second" } }
  ]
})

/**
 * Throughput first, for work nobody is waiting on second by second:
 *
 * - **adaptive concurrency** per model (AIMD: cut ×0.9 on 529/429/timeouts, +1 per window of
 *   successes — the gentle cut Netflix's concurrency-limits uses on clients; in the storm benchmark
 *   ×0.7 left a tenth of the capacity idle) with a queue of a million waiters and no wait limit —
 *   demand above capacity queues on the client instead of turning into rejected requests;
 * - **patient retries**: 10, full jitter from 1 s doubling to 60 s, Retry-After honoured up to 5 min;
 * - a **retry budget** (token bucket 500/5/10: about one retry per five successes in the long run);
 * - a **circuit breaker** that opens only on a failure rate (50 % over 30 s, at least 20 calls);
 * - rate-limit **pacing**; no deadline and no fallback (the model asked for is the model used); no
 *   attempt timeout beyond the client's own request timeout (the SDK's 10 minutes by default).
 *
 * @since 0.1.0
 * @category Presets
 */
export const background: Policy.Policy = Policy.make({
  name: "background",
  retry: { maxRetries: 10, base: "1 second", factor: 2, cap: "60 seconds", jitter: "full", maxRetryAfter: "5 minutes" },
  budget: RetryBudget.tokenBucket(),
  breaker: CircuitBreaker.config({
    trips: CircuitBreaker.failureRate({ threshold: 0.5, window: "30 seconds", minimumCalls: 20 }),
    openDuration: "5 seconds"
  }),
  concurrency: AdaptiveConcurrency.config({ queue: 1_000_000, decrease: 0.9 }),
  pacing: true
})

/**
 * Cost first, for calls whose answer can wait minutes to hours (the Message Batches API bills
 * half the standard price): a `DeferredClient.Config` for `DeferredClient.layer`.
 *
 * - **every `messages.create` is deferred** (mark a call `DeferredClient.immediate` to send it at
 *   once): the caller's code does not change beyond the layer;
 * - calls are gathered in a **window of up to 10,000 calls or 30 s** after its first call, then
 *   sent as one batch; each caller gets its own `Message` or typed error when the batch ends;
 * - batches are **polled** after 5 s, ×2 each time, at most every minute; requests that come back
 *   `overloaded_error`/`api_error` or `expired` are **resubmitted**, up to 3 attempts;
 * - the batch API calls themselves (create, poll, cancel) go through {@link background} (renamed
 *   `"batch-api"`): patient retries on 529/429, a budget, a breaker, pacing.
 *
 * @since 0.1.0
 * @category Presets
 */
export const batch: DeferredClient.Config = DeferredClient.config({
  name: "batch",
  defer: "all",
  maxSize: 10_000,
  maxWait: "30 seconds",
  policy: background.pipe(Policy.named("batch-api")),
  submitter: { pollInitial: "5 seconds", pollFactor: 2, pollMax: "1 minute", maxAttempts: 3 }
})

/**
 * Every policy preset, by name (`batch`, a `DeferredClient.Config`, is not among them).
 *
 * @since 0.1.0
 * @category Presets
 */
export const all: ReadonlyArray<Policy.Policy> = [interactive, background, sdkCompatible]
