import { APIError, RateLimitError } from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { create, sdkInProcess, type Seen } from "./utils.js"

const status = (s: Seen) => s.kind === "api_error" ? s.status : s.kind === "message" ? 200 : s.kind

describe("Capacity", () => {
  it.effect("concurrency C: C+1 concurrent calls → exactly one 529, immediately", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const fibers = yield* Effect.forEach([1, 2, 3, 4], () => Effect.fork(create(client)))
      yield* Simulator.awaitCalls(4)
      const sim = yield* Simulator.Simulator
      assert.strictEqual(yield* sim.inFlight, 3)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => [c.status, c.source]), [
        [Option.none(), "model"],
        [Option.none(), "model"],
        [Option.none(), "model"],
        [Option.some(529), "capacity"]
      ])
      yield* TestClock.adjust("1 second")
      const seen = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(seen.map(status), [200, 200, 200, 529])
      assert.strictEqual(yield* sim.inFlight, 0)
      assert.strictEqual(status(yield* create(client).pipe(Effect.fork, Effect.tap(() => TestClock.adjust("1 second")), Effect.flatMap(Fiber.join))), 200, "capacity is back")
    }).pipe(Effect.provide(Simulator.layer({ latency: "1 second", capacity: { concurrency: 3 } }))))

  it.effect("requests per minute: beyond the bucket → 429 with retry-after and anthropic-ratelimit-* headers", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const ok = yield* Effect.promise(() => client.messages.create({ model: "claude-opus-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).withResponse())
      assert.strictEqual(ok.response.headers.get("anthropic-ratelimit-requests-limit"), "2")
      assert.strictEqual(ok.response.headers.get("anthropic-ratelimit-requests-remaining"), "1")
      assert.strictEqual(ok.response.headers.get("anthropic-ratelimit-requests-reset"), "1970-01-01T00:00:30Z")
      assert.strictEqual(status(yield* create(client)), 200)
      const limited = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create({ model: "claude-opus-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] }), catch: (e) => e as APIError }))
      assert.instanceOf(limited, RateLimitError)
      assert.strictEqual(limited.type, "rate_limit_error")
      assert.strictEqual(limited.headers?.get("retry-after"), "30", "one request refills in 60 s / 2")
      assert.strictEqual(limited.headers?.get("x-should-retry"), "true")
      assert.strictEqual(limited.headers?.get("anthropic-ratelimit-requests-remaining"), "0")
      assert.strictEqual(limited.headers?.get("anthropic-ratelimit-requests-reset"), "1970-01-01T00:01:00Z")
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(status(yield* create(client)), 429)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(status(yield* create(client)), 200)
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(calls.map((c) => c.source), ["model", "model", "capacity", "capacity", "model"])
    }).pipe(Effect.provide(Simulator.layer({ capacity: { requestsPerMinute: 2 } }))))

  it.effect("tokens per minute: input + output tokens are charged; beyond → 429 with token headers", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      // "hello" → 2 input tokens, "Simulated reply to: hello" → 7 output tokens: 9 per call
      const first = yield* Effect.promise(() => client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, messages: [{ role: "user", content: "hello" }] }).withResponse())
      assert.strictEqual(first.response.headers.get("anthropic-ratelimit-tokens-remaining"), "11")
      assert.strictEqual(status(yield* create(client)), 200)
      const limited = yield* Effect.flip(Effect.tryPromise({ try: () => client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, messages: [{ role: "user", content: "hello" }] }), catch: (e) => e as APIError }))
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers?.get("anthropic-ratelimit-tokens-limit"), "20")
      assert.strictEqual(limited.headers?.get("anthropic-ratelimit-tokens-remaining"), "2")
      // 7 more tokens at 20 per minute: 21 s
      assert.strictEqual(limited.headers?.get("retry-after"), "21")
    }).pipe(Effect.provide(Simulator.layer({ capacity: { tokensPerMinute: 20 } }))))

  it.effect("rejectionCost: each rejection holds a share of capacity for a while", () =>
    Effect.gen(function*() {
      const run = (options: Simulator.CapacityOptions) =>
        Effect.gen(function*() {
          const client = sdkInProcess(yield* InProcess.fetch)
          const a = yield* Effect.fork(create(client)) // t=0, in service until 100 ms
          yield* Simulator.awaitCalls(1)
          const b = yield* create(client) // t=0: rejected, holds 1 slot until 1000 ms (with cost)
          yield* TestClock.adjust("500 millis")
          yield* Fiber.join(a)
          const c = yield* Effect.fork(create(client)) // t=500: A is done; only B's share is left
          yield* Simulator.awaitCalls(3)
          yield* TestClock.adjust("1100 millis")
          const d = yield* Effect.fork(create(client)) // t=1600: all shares expired
          yield* Simulator.awaitCalls(4)
          yield* TestClock.adjust("100 millis")
          return [status(b), status(yield* Fiber.join(c)), status(yield* Fiber.join(d))]
        }).pipe(Effect.provide(Simulator.layer({ latency: "100 millis", capacity: options })))
      assert.deepStrictEqual(yield* run({ concurrency: 1 }), [529, 200, 200])
      assert.deepStrictEqual(
        yield* run({ concurrency: 1, rejectionCost: { share: 1, duration: "1 second" } }),
        [529, 529, 200]
      )
    }))

  it.effect("models: a model with its own pool is admitted against it, others share the default pool", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const call = (model: string) =>
        Effect.fork(Effect.promise(() =>
          client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] }).then(
            () => 200,
            (e: APIError) => e.status
          )
        ))
      const sim = yield* Simulator.Simulator
      // shared pool: 1 slot for every model not listed; haiku: 2 slots of its own, each 529 costing a whole slot for 1 s
      const opus1 = yield* call("claude-opus-5-5")
      const sonnet = yield* call("claude-sonnet-5-5") // shares opus's pool: full
      const haiku1 = yield* call("claude-haiku-5-5")
      const haiku2 = yield* call("claude-haiku-5-5")
      const haiku3 = yield* call("claude-haiku-5-5") // haiku's own pool is full: 529, holding a slot of *haiku's* pool
      yield* Simulator.awaitCalls(5)
      assert.strictEqual(yield* sim.inFlight, 3, "in flight counts every pool")
      assert.deepStrictEqual((yield* Simulator.calls).map((c) => c.source), ["model", "capacity", "model", "model", "capacity"])
      yield* TestClock.adjust("100 millis")
      const first = yield* Effect.forEach([opus1, sonnet, haiku1, haiku2, haiku3], Fiber.join)
      assert.deepStrictEqual(first, [200, 529, 200, 200, 529])
      assert.strictEqual(yield* sim.inFlight, 0)
      // t = 100 ms: haiku3's rejection still holds one of haiku's two slots (until 1 s); opus's pool is untouched by it
      const opus2 = yield* call("claude-opus-5-5")
      const haiku4 = yield* call("claude-haiku-5-5")
      const haiku5 = yield* call("claude-haiku-5-5")
      yield* Simulator.awaitCalls(8)
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* Effect.forEach([opus2, haiku4, haiku5], Fiber.join), [200, 200, 529])
    }).pipe(Effect.provide(Simulator.layer({
      latency: "100 millis",
      capacity: {
        concurrency: 1,
        models: { "claude-haiku-5-5": { concurrency: 2, rejectionCost: { share: 1, duration: "1 second" } } }
      }
    }))))

  it.effect("models: rate-limit buckets and headers are per pool", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const call = (model: string) =>
        Effect.promise(() =>
          client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "x" }] }).withResponse()
            .then(({ response }) => [200, response.headers.get("anthropic-ratelimit-requests-limit")] as const, (e: APIError) =>
              [e.status, e.headers?.get("anthropic-ratelimit-requests-limit") ?? null] as const)
        )
      assert.deepStrictEqual(yield* call("claude-opus-5-5"), [200, "1"])
      assert.deepStrictEqual(yield* call("claude-opus-5-5"), [429, "1"])
      assert.deepStrictEqual(yield* call("claude-haiku-5-5"), [200, "3"], "haiku's own bucket")
      assert.deepStrictEqual(yield* call("claude-haiku-5-5"), [200, "3"])
      assert.deepStrictEqual(yield* call("claude-sonnet-5-5"), [429, "1"], "sonnet shares opus's bucket")
    }).pipe(Effect.provide(Simulator.layer({
      capacity: { requestsPerMinute: 1, models: { "claude-haiku-5-5": { requestsPerMinute: 3 } } }
    }))))
})
