/**
 * `ResilientClient.layer(policy)` over the real SDK and the in-process simulator, under TestClock:
 * fallback order and routes, open circuits skipped without a request, invalid requests sent once,
 * rate-limit pacing instead of 429s, and the presets printed as they are.
 */
import { AnthropicClient, Presets, ResilientClient, StreamRecovery } from "@ballast/anthropic"
import { AdaptiveConcurrency, CircuitBreaker, Policy, Resilience, RetryBudget } from "@ballast/core"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Effect, Fiber, Layer as L, Option, Stream, TestClock } from "effect"
import { inProcessClient, messageText, realSleep } from "../utils.js"

const OPUS = "claude-opus-5-5"
const SONNET = "claude-sonnet-5-5"
const HAIKU = "claude-haiku-5-5"

const request = (model = OPUS, content = "hello") => ({
  model,
  max_tokens: 64,
  messages: [{ role: "user" as const, content }]
})

const fast = { base: "100 millis", factor: 2, cap: "1 second", jitter: "none" } as const

/** The resilient client over the in-process transport of the simulator in context. */
const resilient = (
  policy: Policy.Policy
): Layer.Layer<
  AnthropicClient.AnthropicClient | Resilience.Resilience | ResilientClient.ResilientStreams,
  never,
  Simulator.Simulator
> =>
  ResilientClient.layer(policy).pipe(L.provide(L.effect(AnthropicClient.AnthropicClient, inProcessClient)))

/** Runs `self` in a fiber and moves the TestClock in `stepMs` steps until it ends. */
const drive = <A, E, R>(self: Effect.Effect<A, E, R>, stepMs = 50) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < 10_000; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust(stepMs)
    }
    return yield* Fiber.join(fiber)
  })

/** Like {@link drive}, letting in-process stream bodies settle (real time) between clock steps. */
const driveStream = <A, E, R>(self: Effect.Effect<A, E, R>, stepMs = 200) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < 2_000; i++) {
      for (let j = 0; j < 3; j++) {
        if (Option.isSome(yield* Fiber.poll(fiber))) return yield* Fiber.join(fiber)
        yield* realSleep(0)
      }
      yield* TestClock.adjust(stepMs)
    }
    return yield* Fiber.join(fiber)
  })

const callsByModel = Effect.map(Simulator.calls, (calls) =>
  calls.map((c) => `${Option.getOrElse(c.model, () => "?")}:${Option.getOrNull(c.status)}`))

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("ResilientClient", () => {
    it.effect("falls back Opus → Sonnet on overload; the response says who served it and why", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        const response = yield* drive(client.messages.createWithResponse(request()))
        assert.strictEqual(response.value.model, SONNET)
        assert.strictEqual(messageText(response.value), "Simulated reply to: hello")
        assert.deepStrictEqual(
          (response.route ?? []).map((s) => [s.key, s.attempts, s.outcome]),
          [[OPUS, 2, "max-retries"], [SONNET, 1, "served"]]
        )
        const error = Option.getOrThrow((response.route ?? [])[0]!.error) as { readonly _tag: string }
        assert.strictEqual(error._tag, "Overloaded")
        assert.deepStrictEqual(yield* callsByModel, [`${OPUS}:529`, `${OPUS}:529`, `${SONNET}:200`])
      }).pipe(
        Effect.provide(resilient(Policy.make({ retry: { ...fast, maxRetries: 1 }, fallback: [OPUS, SONNET, HAIKU] }))),
        Effect.provide(Simulator.layer({ script: [Fault.overloaded({ model: OPUS, times: "forever" })] }))
      ))

    it.effect("an invalid request is sent once: no retry, no fallback", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        const error = yield* drive(Effect.flip(client.messages.create(request())))
        assert.strictEqual(error._tag, "InvalidRequest")
        assert.deepStrictEqual(yield* callsByModel, [`${OPUS}:400`])
      }).pipe(
        Effect.provide(resilient(Presets.interactive)),
        Effect.provide(Simulator.layer({ script: [Fault.status(400), Fault.ok()] }))
      ))

    it.effect("an open circuit is skipped without sending a request; the transition is observable", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        const resilience = yield* Resilience.Resilience
        const breakers = Option.getOrThrow(resilience.breakers)
        const transitions = yield* breakers.changes.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
        yield* Effect.yieldNow()
        const first = yield* drive(client.messages.create(request()))
        const second = yield* drive(client.messages.createWithResponse(request()))
        assert.strictEqual(first.model, SONNET)
        assert.strictEqual(second.value.model, SONNET)
        assert.deepStrictEqual((second.route ?? []).map((s) => [s.key, s.attempts, s.outcome]), [
          [OPUS, 0, "circuit-open"],
          [SONNET, 1, "served"]
        ])
        assert.deepStrictEqual(yield* callsByModel, [`${OPUS}:529`, `${OPUS}:529`, `${SONNET}:200`, `${SONNET}:200`])
        const [t] = Chunk.toReadonlyArray(yield* Fiber.join(transitions))
        assert.deepStrictEqual([t!.key, t!.from._tag, t!.to._tag], [OPUS, "Closed", "Open"])
        const states = yield* breakers.states
        assert.strictEqual(states.get(OPUS)?._tag, "Open")
      }).pipe(
        Effect.provide(resilient(Policy.make({
          retry: { ...fast, maxRetries: 1 },
          breaker: CircuitBreaker.config({ trips: CircuitBreaker.consecutive(2), openDuration: "30 seconds" }),
          fallback: [OPUS, SONNET]
        }))),
        Effect.provide(Simulator.layer({ script: [Fault.overloaded({ model: OPUS, times: "forever" })] }))
      ))

    it.effect("pacing waits for the request window to reset instead of taking a 429", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        for (let i = 0; i < 3; i++) yield* drive(client.messages.create(request(SONNET)), 1000)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => Option.getOrNull(c.status)), [200, 200, 200])
        // the third call waited for the minute window to refill
        assert.isAtLeast(calls[2]!.startedAt, 60_000)
      }).pipe(
        Effect.provide(resilient(Policy.make({ retry: fast, pacing: true }))),
        Effect.provide(Simulator.layer({ capacity: { requestsPerMinute: 2 } }))
      ))

    it.effect("without pacing the same load meets a 429 and retries after Retry-After", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        for (let i = 0; i < 3; i++) yield* drive(client.messages.create(request(SONNET)), 1000)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => Option.getOrNull(c.status)), [200, 200, 429, 200])
      }).pipe(
        Effect.provide(resilient(Policy.make({ retry: fast }))),
        Effect.provide(Simulator.layer({ capacity: { requestsPerMinute: 2 } }))
      ))

    it.effect("an exhausted budget fails fast with RetryBudgetExhausted", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        const error = yield* drive(Effect.flip(client.messages.create(request(SONNET))))
        assert.strictEqual(error._tag, "RetryBudgetExhausted")
        assert.strictEqual((yield* Simulator.calls).length, 2)
      }).pipe(
        Effect.provide(resilient(Policy.make({
          retry: { ...fast, maxRetries: 5 },
          budget: RetryBudget.tokenBucket({ capacity: 5, retryCost: 5 })
        }))),
        Effect.provide(Simulator.layer({ script: [Fault.overloaded({ times: "forever" })] }))
      ))

    it.effect("the limiter never lets more calls through than its limit", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        yield* drive(
          Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => client.messages.create(request(SONNET, `n${i}`)), {
            concurrency: "unbounded"
          }),
          100
        )
        const calls = yield* Simulator.calls
        let maxOverlap = 0
        for (const c of calls) {
          const overlap = calls.filter((d) =>
            d.startedAt <= c.startedAt && Option.getOrElse(d.endedAt, () => Infinity) > c.startedAt
          ).length
          maxOverlap = Math.max(maxOverlap, overlap)
        }
        assert.strictEqual(calls.length, 20)
        assert.strictEqual(maxOverlap, 4)
      }).pipe(
        Effect.provide(resilient(Policy.make({
          retry: fast,
          concurrency: AdaptiveConcurrency.config({ initial: 4, min: 1, max: 4 })
        }))),
        Effect.provide(Simulator.layer({ latency: "1 second" }))
      ))

    it.effect("ResilientClient.stream: falls back before content, continues after it, holds its permit while open", () =>
      Effect.gen(function*() {
        const resilience = yield* Resilience.Resilience
        const limiter = yield* Option.getOrThrow(resilience.concurrency).get(SONNET)
        const inFlightSeen: Array<number> = []
        const text = yield* driveStream(
          ResilientClient.stream(request(OPUS, "please write about ballast tanks on old ships"), {
            strategy: "continue",
            idleTimeout: "5 seconds"
          }).pipe(
            // while text arrives, the leg's stream holds the permit (markers and the summary come between legs)
            Stream.tap((event) =>
              event.type === "content_block_delta"
                ? Effect.flatMap(limiter.inFlight, (n) => Effect.sync(() => inFlightSeen.push(n)))
                : Effect.void
            ),
            Stream.runFold("", StreamRecovery.appendText)
          )
        )
        assert.strictEqual(text, "Simulated reply to: please write about ballast tanks on old ships")
        assert.isTrue(inFlightSeen.length > 0 && inFlightSeen.every((n) => n === 1), JSON.stringify(inFlightSeen))
        assert.strictEqual(yield* limiter.inFlight, 0)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(
          calls.map((c) => `${Option.getOrElse(c.model, () => "?")}:${c.outcome}`),
          [`${OPUS}:error`, `${OPUS}:error`, `${SONNET}:stream_error`, `${SONNET}:ok`]
        )
      }).pipe(
        Effect.provide(resilient(Policy.make({
          retry: { ...fast, maxRetries: 1 },
          concurrency: AdaptiveConcurrency.config({ initial: 2, min: 1, max: 2 }),
          fallback: [OPUS, SONNET]
        }))),
        Effect.provide(Simulator.layer({
          script: [
            Fault.overloaded({ model: OPUS, times: "forever" }),
            Fault.streamError({ model: SONNET, afterDeltas: 3 })
          ]
        }))
      ))

    it("presets print as documented (a change to a preset must change this test)", () => {
      assert.strictEqual(
        String(Presets.sdkCompatible),
        [
          `Policy "sdkCompatible"`,
          `  retry           2 retries, sdk jitter from 500ms ×2 up to 8s, Retry-After honoured up to 24d 20h 31m 23s 647ms`,
          `  budget          none`,
          `  breaker         none`,
          `  concurrency     none`,
          `  pacing          off`,
          `  attempt timeout none`,
          `  deadline        none`,
          `  fallback        none`
        ].join("\n")
      )
      assert.strictEqual(
        String(Presets.interactive),
        [
          `Policy "interactive"`,
          `  retry           2 retries, full jitter from 250ms ×2 up to 2s, Retry-After honoured up to 1m`,
          `  budget          TokenBucket(capacity: 500, retryCost: 5, transientCost: 10, successRefund: 1)`,
          `  breaker         Config(trips: [Consecutive(failures: 5)], openDuration: 5s, openFactor: 2, maxOpenDuration: 1m, halfOpenProbes: 1, counts: ["Overloaded", "Transient"])`,
          `  concurrency     Config(initial: 32, min: 1, max: 512, increase: 1, decrease: 0.7, queue: 256, queueTimeout: 500ms)`,
          `  pacing          on`,
          `  attempt timeout none`,
          `  deadline        30s`,
          `  fallback        claude-opus-5-5 → claude-sonnet-5-5 (1 retry, full jitter from 250ms ×2 up to 1s, Retry-After honoured up to 1m) → claude-haiku-5-5 (1 retry, full jitter from 250ms ×2 up to 1s, Retry-After honoured up to 1m)`
        ].join("\n")
      )
      assert.strictEqual(
        String(Presets.background),
        [
          `Policy "background"`,
          `  retry           10 retries, full jitter from 1s ×2 up to 1m, Retry-After honoured up to 5m`,
          `  budget          TokenBucket(capacity: 500, retryCost: 5, transientCost: 10, successRefund: 1)`,
          `  breaker         Config(trips: [FailureRate(threshold: 0.5, window: 30s, minimumCalls: 20)], openDuration: 5s, openFactor: 2, maxOpenDuration: 1m, halfOpenProbes: 1, counts: ["Overloaded", "Transient"])`,
          `  concurrency     Config(initial: 32, min: 1, max: 512, increase: 1, decrease: 0.9, queue: 1000000, queueTimeout: none)`,
          `  pacing          on`,
          `  attempt timeout none`,
          `  deadline        none`,
          `  fallback        none`
        ].join("\n")
      )
    })
  })
}
