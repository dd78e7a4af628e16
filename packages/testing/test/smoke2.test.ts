import Anthropic from "@anthropic-ai/sdk"
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fault from "../src/Fault.js"
import * as Server from "../src/Server.js"
import * as Simulator from "../src/Simulator.js"

describe("smoke server", () => {
  it.scoped("json+stream", () =>
    Effect.gen(function*() {
      const { url } = yield* Server.start()
      console.log(url)
      const client = new Anthropic({ apiKey: "test", baseURL: url, maxRetries: 0 })
      const msg = yield* Effect.promise(() =>
        client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, messages: [{ role: "user", content: "hello" }] })
      )
      console.log(msg.content)
      const r = yield* Effect.promise(async () => {
        const out: string[] = []
        try {
        const s = await client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hello there" }] })
        for await (const e of s) out.push(e.type)
        } catch (e) { out.push(String(e)) }
        return out
      })
      console.log(r)
      for (let i = 0; i < 3; i++) {
      const r2 = yield* Effect.promise(async () => {
        const out: string[] = []
        try {
        const s = await client.messages.create({ model: "claude-opus-4-6", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hello there" }] })
        for await (const e of s) out.push(e.type)
        } catch (e) { out.push(String(e) + " " + (e as any).cause) }
        return out
      })
      console.log(r2)
      }
      console.log((yield* Simulator.calls).map((c) => [c.call, c.outcome, c.aborted, c.status]))
    }).pipe(Effect.provide(Simulator.layer({ script: [Fault.ok(), Fault.ok(), Fault.reset(), Fault.streamDrop({ afterDeltas: 2 }), Fault.streamError({ afterDeltas: 1 })] }))))
})
