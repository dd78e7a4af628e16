/**
 * `Retry.retry` around `AnthropicClient` against the in-process simulator, under `TestClock` with
 * `Random.fixed` jitter: every attempt arrives at an exact Clock time.
 */
import type { AnthropicError } from "@ballast/anthropic"
import { Retry } from "@ballast/core"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import type { Exit } from "effect"
import { Chunk, Clock, Duration, Effect, Fiber, Option, Random, TestClock } from "effect"
import { eventually, inProcessClient, messageText, params, pendingSleeps, realSleep, REPLY } from "../utils.js"

interface Trace {
  readonly steps: Array<{ attempt: number; delay: number; reason: string; tag: string }>
  readonly giveUps: Array<{ attempt: number; reason: string; tag: string; elapsed: number }>
}

const trace = (): Trace => ({ steps: [], giveUps: [] })

/**
 * `messages.create` under `Retry.retry` (base 100 ms, factor 2, full jitter) with the draws
 * 0.5, 0.25, 0.9, ...; returns the reply text and the Clock time it arrived.
 */
const program = (t: Trace, options?: Retry.RetryOptions<AnthropicError.AnthropicError>) =>
  Effect.gen(function*() {
    const client = yield* inProcessClient
    return yield* client.messages.create(params()).pipe(
      Retry.retry({
        base: "100 millis",
        factor: 2,
        jitter: "full",
        maxRetries: 5,
        ...options,
        onRetry: (step) =>
          Effect.sync(() => {
            t.steps.push({
              attempt: step.attempt,
              delay: Duration.toMillis(step.delay),
              reason: step.reason,
              tag: step.error._tag
            })
          }),
        onGiveUp: (giveUp) =>
          Effect.sync(() => {
            t.giveUps.push({
              attempt: giveUp.attempt,
              reason: giveUp.reason,
              tag: giveUp.error._tag,
              elapsed: Duration.toMillis(giveUp.elapsed)
            })
          })
      }),
      Effect.map(messageText),
      Effect.zip(Clock.currentTimeMillis),
      Effect.withRandom(Random.fixed([0.5, 0.25, 0.9]))
    )
  })

const callCount = Effect.map(Simulator.calls, (calls) => calls.length)

/** The fiber's exit once it has ended by itself (polled in real time; the TestClock is not moved). */
const settled = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.map(eventually(Fiber.poll(fiber), Option.isSome), (o) => {
    assert.isTrue(Option.isSome(o), "the fiber ended without the clock moving")
    return (o as Option.Some<Exit.Exit<A, E>>).value
  })

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("retry timing under TestClock", () => {
    it.effect("529, 529, 429 (retry-after 3 s), success: calls at 0, 50, 100 and 3100 ms; reply at 4100 ms", () =>
      Effect.gen(function*() {
        const t = trace()
        const fiber = yield* Effect.fork(program(t))

        // Backoff delays with full jitter: 100·0.5 = 50, 200·0.25 = 50, 400·0.9 = 360 raised to 3000.
        const expected = [0, 50, 100, 3100]
        yield* Simulator.awaitCalls(1)
        for (let k = 1; k < expected.length; k++) {
          const at = expected[k]!
          assert.deepStrictEqual(yield* pendingSleeps, [at], `the retry after call ${k} is due at ${at} ms`)
          yield* TestClock.setTime(at - 1)
          yield* realSleep(5)
          assert.strictEqual(yield* callCount, k, `no call ${k + 1} at ${at - 1} ms`)
          yield* TestClock.setTime(at)
          yield* Simulator.awaitCalls(k + 1)
        }
        // The fourth call is answered after the simulator's 1 s latency.
        assert.deepStrictEqual(yield* pendingSleeps, [4100])
        yield* TestClock.setTime(4100)
        const [text, doneAt] = yield* Fiber.join(fiber)

        assert.strictEqual(text, REPLY)
        assert.strictEqual(doneAt, 4100)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => c.startedAt), expected)
        assert.deepStrictEqual(calls.map((c) => Option.getOrNull(c.status)), [529, 529, 429, 200])
        assert.deepStrictEqual(calls.map((c) => Option.getOrNull(c.endedAt)), [0, 50, 100, 4100])
        assert.deepStrictEqual(t.steps, [
          { attempt: 1, delay: 50, reason: "backoff", tag: "Overloaded" },
          { attempt: 2, delay: 50, reason: "backoff", tag: "Overloaded" },
          { attempt: 3, delay: 3000, reason: "retry-after", tag: "RateLimited" }
        ])
        assert.deepStrictEqual(t.giveUps, [])
      }).pipe(Effect.provide(Simulator.layer({
        latency: "1 second",
        script: [Fault.overloaded({ times: 2 }), Fault.rateLimited({ retryAfter: "3 seconds" })]
      }))))

    it.effect("a 400 is attempted exactly once, without sleeping", () =>
      Effect.gen(function*() {
        const t = trace()
        const fiber = yield* Effect.fork(program(t))
        // No clock adjustment: the failure must arrive on its own.
        const error = yield* Effect.flip(yield* settled(fiber))
        assert.strictEqual(error._tag, "InvalidRequest")
        assert.deepStrictEqual(error.status, Option.some(400))
        // The script's next answer would be a success: a retry would have turned the failure into it.
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => [c.startedAt, Option.getOrNull(c.status)]), [[0, 400]])
        assert.deepStrictEqual(t.steps, [])
        assert.deepStrictEqual(t.giveUps, [{ attempt: 1, reason: "not-retryable", tag: "InvalidRequest", elapsed: 0 }])
        assert.strictEqual(yield* Clock.currentTimeMillis, 0)
        assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 0)
      }).pipe(Effect.provide(Simulator.layer({ script: [Fault.status(400), Fault.ok()] }))))

    it.effect("a deadline that the Retry-After would pass: gives up at once, at 50 ms, with RateLimited", () =>
      Effect.gen(function*() {
        const t = trace()
        const fiber = yield* Effect.fork(program(t, { deadline: "3 seconds" }))
        yield* Simulator.awaitCalls(1)
        assert.deepStrictEqual(yield* pendingSleeps, [50])
        yield* TestClock.setTime(50)
        // Call 2 answers 429 with retry-after 5 s: 50 + 5000 >= 3000, so no sleep, no third call.
        const error = yield* Effect.flip(yield* settled(fiber))
        assert.strictEqual(error._tag, "RateLimited")
        assert.deepStrictEqual(error.requestId, Option.some("req_sim_000002"))
        assert.deepStrictEqual(error.retryAfter, Option.some(Duration.seconds(5)))
        assert.strictEqual(yield* Clock.currentTimeMillis, 50)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => [c.startedAt, Option.getOrNull(c.status)]), [[0, 529], [50, 429]])
        assert.deepStrictEqual(t.steps, [{ attempt: 1, delay: 50, reason: "backoff", tag: "Overloaded" }])
        assert.deepStrictEqual(t.giveUps, [{ attempt: 2, reason: "deadline", tag: "RateLimited", elapsed: 50 }])
        assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 0)
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.overloaded(), Fault.rateLimited({ retryAfter: "5 seconds" }), Fault.ok()]
      }))))

    it.effect("the same script with a deadline the Retry-After fits in: the third call at 5050 ms succeeds", () =>
      Effect.gen(function*() {
        const t = trace()
        const fiber = yield* Effect.fork(program(t, { deadline: "6 seconds" }))
        yield* Simulator.awaitCalls(1)
        assert.deepStrictEqual(yield* pendingSleeps, [50])
        yield* TestClock.setTime(50)
        yield* Simulator.awaitCalls(2)
        assert.deepStrictEqual(yield* pendingSleeps, [5050])
        yield* TestClock.setTime(5050)
        const [text, doneAt] = yield* Fiber.join(fiber)
        assert.deepStrictEqual([text, doneAt], [REPLY, 5050])
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => [c.startedAt, Option.getOrNull(c.status)]), [[0, 529], [50, 429], [5050, 200]])
        assert.deepStrictEqual(t.giveUps, [])
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.overloaded(), Fault.rateLimited({ retryAfter: "5 seconds" }), Fault.ok()]
      }))))
  })
}
