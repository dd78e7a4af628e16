// The "Test it deterministically" example of the root README, kept compiling and passing.
import { AnthropicClient } from "@ballast/anthropic"
import { Retry } from "@ballast/core"
import { Fault, InProcess, Simulator } from "@ballast/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Redacted, TestClock } from "effect"

const params = { model: "claude-sonnet-5-5", max_tokens: 64, messages: [{ role: "user" as const, content: "Hi" }] }

it.effect("README: 529, 529, then an answer", () =>
  Effect.gen(function*() {
    const client = yield* AnthropicClient.make({ apiKey: Redacted.make("test"), fetch: yield* InProcess.fetch })
    const fiber = yield* client.messages.create(params).pipe(
      Retry.retry({ base: "1 second", jitter: "none" }),
      Effect.fork
    )
    yield* TestClock.adjust("3 seconds") // 1 s, then 2 s of backoff, in simulated time
    yield* Fiber.join(fiber)
    const calls = yield* Simulator.calls
    assert.deepStrictEqual(calls.map((c) => c.startedAt), [0, 1000, 3000])
  }).pipe(Effect.provide(Simulator.layer({ script: [Fault.overloaded({ times: 2 })] }))))
