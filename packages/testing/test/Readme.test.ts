// The README's first example, kept compiling and passing.
import Anthropic, { type APIError } from "@anthropic-ai/sdk"
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { Fault, InProcess, Simulator } from "../src/index.js"

it.effect("529, 529, 429 (retry-after 3 s), then a 2-second success", () =>
  Effect.gen(function*() {
    const client = new Anthropic({ apiKey: "test", fetch: yield* InProcess.fetch, maxRetries: 0 })
    const call = () =>
      Effect.tryPromise({
        try: () =>
          client.messages.create({
            model: "claude-opus-4-6",
            max_tokens: 100,
            messages: [{ role: "user", content: "hi" }]
          }),
        catch: (error) => error as APIError
      })
    for (const status of [529, 529, 429]) {
      assert.strictEqual((yield* Effect.flip(call())).status, status)
    }
    const fiber = yield* Effect.fork(call())
    yield* Simulator.awaitCalls(4) // the SDK has sent it
    yield* TestClock.adjust("2 seconds") // ...and the simulated latency passes
    yield* Fiber.join(fiber)
    const calls = yield* Simulator.calls // the call log, as data
    assert.deepStrictEqual(calls.map((c) => c.outcome), ["error", "error", "error", "ok"])
  }).pipe(Effect.provide(Simulator.layer({
    latency: "2 seconds",
    script: [Fault.overloaded({ times: 2 }), Fault.rateLimited({ retryAfter: "3 seconds" })]
  }))))
