import Anthropic from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"

describe("smoke", () => {
  it.effect("json", () =>
    Effect.gen(function*() {
      const fetch = yield* InProcess.fetch
      const client = new Anthropic({ apiKey: "test", fetch, maxRetries: 0 })
      const msg = yield* Effect.promise(() =>
        client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, messages: [{ role: "user", content: "hello" }] })
      )
      console.log(msg)
      const fiber = yield* Effect.fork(Effect.promise(async () => {
        const s = await client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hello there" }] })
        const out = []
        for await (const e of s) out.push(e.type)
        return out
      }))
      yield* TestClock.adjust(100)
      console.log(yield* Fiber.join(fiber))
      console.log(yield* Simulator.calls)
      assert.strictEqual(msg.id, "msg_sim_000001")
    }).pipe(Effect.provide(Simulator.layer({ streamInterval: "1 millis" }))))
})
