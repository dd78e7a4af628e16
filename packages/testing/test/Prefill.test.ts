/**
 * What stream recovery needs from the simulator: an assistant prefill that starts the reply is
 * answered with the rest of it (so prefill + answer is the reply exactly), the API's whitespace rule
 * for prefills, the usage each call reported, and a body that stops halfway through a frame.
 */
import type { Message } from "@anthropic-ai/sdk/resources/messages"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fault from "../src/Fault.js"
import * as InProcess from "../src/InProcess.js"
import * as Simulator from "../src/Simulator.js"
import { MODEL, sdkInProcess, stream } from "./utils.js"

const REPLY = "Simulated reply to: tell me about ballast"

const prefilled = (prefill: string) => ({
  model: MODEL,
  max_tokens: 100,
  messages: [
    { role: "user" as const, content: "tell me about ballast" },
    { role: "assistant" as const, content: prefill }
  ]
})

const text = (message: Message) => message.content.map((b) => (b.type === "text" ? b.text : "")).join("")

describe("Prefill", () => {
  it.effect("a prefill that starts the reply is answered with the rest of it; any other with the whole reply", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      for (const prefill of ["Simulated", "Simulated reply to:", "Simulated reply to: tell me about"]) {
        const message = yield* Effect.promise(() => client.messages.create(prefilled(prefill)))
        assert.strictEqual(prefill + text(message), REPLY)
      }
      const other = yield* Effect.promise(() => client.messages.create(prefilled("Something else")))
      assert.strictEqual(text(other), REPLY)
      // Streamed the same way, one delta per word of the rest.
      const streamed = yield* Effect.promise(async () => {
        let out = ""
        for await (const e of await client.messages.create({ ...prefilled("Simulated reply"), stream: true })) {
          if (e.type === "content_block_delta" && e.delta.type === "text_delta") out += e.delta.text
        }
        return out
      })
      assert.strictEqual("Simulated reply" + streamed, REPLY)
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("a prefill that ends with whitespace is refused with 400, as the API does", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const error = yield* Effect.flip(Effect.tryPromise(() => client.messages.create(prefilled("Simulated "))))
      assert.strictEqual((error.error as { status?: number }).status, 400)
      const [call] = yield* Simulator.calls
      assert.deepStrictEqual([call?.status, call?.errorType, call?.source], [
        Option.some(400),
        Option.some("invalid_request_error"),
        "request"
      ])
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("each call records the usage it reported", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const message = yield* Effect.promise(() => client.messages.create(prefilled("Simulated")))
      yield* stream(client, "tell me about ballast") // completes
      yield* stream(client, "tell me about ballast") // overload after 2 deltas
      yield* stream(client, "tell me about ballast") // overload before message_start
      const calls = yield* Simulator.calls
      assert.deepStrictEqual(
        calls.map((c) => Option.map(c.usage, (u) => [u.inputTokens, u.outputTokens])),
        [
          Option.some([message.usage.input_tokens, message.usage.output_tokens]),
          // input: "tell me about ballast" is 21 characters, 4 per token
          Option.some([6, Math.ceil(REPLY.length / 4)]),
          Option.some([6, 1]),
          Option.none()
        ]
      )
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.ok(), Fault.ok(), Fault.streamError({ afterDeltas: 2 }), Fault.overloadedBeforeStart()]
    }))))

  it.effect("a truncated drop ends the body cleanly halfway through a frame: the SDK stops without message_stop", () =>
    Effect.gen(function*() {
      const client = sdkInProcess(yield* InProcess.fetch)
      const seen = yield* stream(client, "tell me about ballast")
      assert.deepStrictEqual(seen.kind === "stream" && seen.events, [
        "message_start",
        "content_block_start",
        "delta:Simulated ",
        "delta:reply "
      ])
      const [call] = yield* Simulator.calls
      assert.deepStrictEqual([call?.outcome, call?.aborted], ["dropped", false])
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamDrop({ afterDeltas: 2, truncate: true })] }))))
})
