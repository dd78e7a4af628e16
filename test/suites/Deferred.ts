/**
 * Deferrable calls: `DeferredClient.layer(Presets.batch)` over the in-process simulator, under
 * TestClock. Calls gathered in a window become one batch; windows close on size and on time; each
 * caller gets its own message or typed error; immediate calls go to /v1/messages; interrupted
 * callers leave the others alone.
 */
import type { Message } from "@anthropic-ai/sdk/resources/messages"
import { AnthropicClient, DeferredClient, Presets } from "@ballast/anthropic"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Clock, type Duration, Effect, Fiber, Layer } from "effect"
import { clientLayer, drive, MODEL } from "./BatchHelpers.js"

const params = (content: string) => ({
  model: MODEL,
  max_tokens: 64,
  messages: [{ role: "user" as const, content }]
})

const text = (message: Message): string =>
  message.content.map((block) => (block.type === "text" ? block.text : "")).join("")

const harness = (preset: DeferredClient.Config, simulator: Simulator.Options = {}) =>
  DeferredClient.layer(preset).pipe(Layer.provide(clientLayer), Layer.provideMerge(Simulator.layer(simulator)))

const call = (content: string) =>
  Effect.flatMap(AnthropicClient.AnthropicClient, (client) => client.messages.create(params(content)))

/** The calls that reached `POST /v1/messages` (not the batch endpoints). */
const directCalls = Effect.map(Simulator.calls, (calls) => calls.filter((c) => c.endpoint === "messages"))

export const suite = () =>
  describe("DeferredClient", () => {
    it.effect("50 concurrent calls within a window become one batch; each caller gets its own message", () =>
      Effect.gen(function*() {
        const replies = yield* drive(
          Effect.forEach(Arr.range(0, 49), (i) => Effect.map(call(`q${i}`), text), { concurrency: "unbounded" })
        )
        assert.deepStrictEqual(replies, Arr.range(0, 49).map((i) => `Simulated reply to: q${i}`))
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => [b.customIds.length, b.createdAt]), [[50, 30_000]])
        assert.deepStrictEqual(batches[0]!.customIds.slice(0, 3), ["w1-0", "w1-1", "w1-2"])
        assert.deepStrictEqual(yield* directCalls, [])
        // window closes at 30 s; the batch ends 60 s later; polls at 35, 45, 65, 105 s
        assert.strictEqual(yield* Clock.currentTimeMillis, 105_000)
        const { windows } = yield* DeferredClient.DeferredClient
        assert.deepStrictEqual(yield* windows, [{ window: 1, calls: 50, closedBy: "time", openedAt: 0, closedAt: 30_000 }])
      }).pipe(Effect.provide(harness(Presets.batch))))

    it.effect("a window closes on size: 50 calls with maxSize 20 make batches of 20, 20 (at once) and 10 (on time)", () =>
      Effect.gen(function*() {
        const replies = yield* drive(
          Effect.forEach(Arr.range(0, 49), (i) => Effect.map(call(`q${i}`), text), { concurrency: "unbounded" })
        )
        assert.deepStrictEqual(replies, Arr.range(0, 49).map((i) => `Simulated reply to: q${i}`))
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => [b.customIds.length, b.createdAt]), [[20, 0], [20, 0], [10, 30_000]])
        assert.deepStrictEqual(batches.map((b) => b.customIds[0]), ["w1-0", "w2-0", "w3-0"])
        const { windows } = yield* DeferredClient.DeferredClient
        assert.deepStrictEqual((yield* windows).map((w) => [w.calls, w.closedBy]), [[20, "size"], [20, "size"], [10, "time"]])
      }).pipe(Effect.provide(harness(Presets.batch.pipe(DeferredClient.withWindow({ maxSize: 20 }))))))

    it.effect("a window closes maxWait after its first call; a later call opens the next window", () =>
      Effect.gen(function*() {
        const at = (delay: Duration.DurationInput, content: string) => Effect.zipRight(Effect.sleep(delay), Effect.map(call(content), text))
        const replies = yield* drive(
          Effect.all([at("0 seconds", "a"), at("10 seconds", "b"), at("45 seconds", "c")], { concurrency: "unbounded" })
        )
        assert.deepStrictEqual(replies, ["a", "b", "c"].map((c) => `Simulated reply to: ${c}`))
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => [b.customIds, b.createdAt]), [
          [["w1-0", "w1-1"], 30_000],
          [["w2-0"], 75_000]
        ])
      }).pipe(Effect.provide(harness(Presets.batch))))

    it.effect("errored, expired and canceled entries give each caller its typed error; the others their message", () =>
      Effect.gen(function*() {
        const outcomes = yield* drive(
          Effect.forEach(
            Arr.range(0, 4),
            (i) =>
              call(`q${i}`).pipe(
                Effect.map(text),
                Effect.catchAll((e) => Effect.succeed(`${e._tag}:${"errorType" in e ? e.errorType : ""}`))
              ),
            { concurrency: "unbounded" }
          )
        )
        assert.deepStrictEqual(outcomes, [
          "Simulated reply to: q0",
          "InvalidRequest:invalid_request_error",
          "Overloaded:overloaded_error",
          "Timeout:batch_expired",
          "UnknownApiError:batch_canceled"
        ])
        // overloaded and expired entries were resubmitted (3 attempts), the rest were not
        assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds), [
          ["w1-0", "w1-1", "w1-2", "w1-3", "w1-4"],
          ["w1-2", "w1-3"],
          ["w1-2", "w1-3"]
        ])
      }).pipe(Effect.provide(harness(
        // expired batches end 24 h after creation: poll less often than every minute
        Presets.batch.pipe(DeferredClient.withSubmitter({ pollMax: "6 hours" })),
        {
        script: [
          Fault.batchResult("errored", { customId: "w1-1", type: "invalid_request_error" }),
          Fault.batchResult("errored", { customId: "w1-2", type: "overloaded_error", times: "forever" }),
          Fault.batchResult("expired", { customId: "w1-3", times: "forever" }),
          Fault.batchResult("canceled", { customId: "w1-4" })
        ]
      }
      ))))

    it.effect("a call marked immediate goes straight to /v1/messages; so does an unmarked one with defer: \"marked\"", () =>
      Effect.gen(function*() {
        const now = yield* drive(Effect.zipRight(DeferredClient.immediate(call("now")), Clock.currentTimeMillis))
        assert.strictEqual(now, 0, "answered at once, no window")
        assert.deepStrictEqual((yield* directCalls).map((c) => c.path), ["/v1/messages"])
        assert.deepStrictEqual(yield* Simulator.batches, [])
      }).pipe(Effect.provide(harness(Presets.batch))))

    it.effect("with defer: \"marked\", only calls marked deferrable become batch entries", () =>
      Effect.gen(function*() {
        const [direct, deferred] = yield* drive(
          Effect.all([Effect.map(call("direct"), text), Effect.map(DeferredClient.deferrable(call("later")), text)], {
            concurrency: "unbounded"
          })
        )
        assert.deepStrictEqual([direct, deferred], ["Simulated reply to: direct", "Simulated reply to: later"])
        assert.deepStrictEqual((yield* directCalls).map((c) => [c.path, c.startedAt]), [["/v1/messages", 0]])
        assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds), [["w1-0"]])
      }).pipe(Effect.provide(harness(Presets.batch.pipe(DeferredClient.withDefer("marked"))))))

    it.effect("an interrupted caller leaves the open window; one interrupted after the send has its result discarded", () =>
      Effect.gen(function*() {
        const result = yield* drive(Effect.gen(function*() {
          const a = yield* Effect.fork(call("a"))
          const b = yield* Effect.fork(call("b"))
          const c = yield* Effect.fork(call("c"))
          yield* Effect.sleep("10 seconds")
          yield* Fiber.interrupt(b) // window still open: b is taken out
          yield* Effect.sleep("30 seconds")
          yield* Fiber.interrupt(c) // window sent at 30 s: c's result will be discarded
          return yield* Effect.map(Fiber.join(a), text)
        }))
        assert.strictEqual(result, "Simulated reply to: a")
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => [b.customIds, b.canceled]), [[["w1-0", "w1-2"], false]])
      }).pipe(Effect.provide(harness(Presets.batch))))

    it.effect("when every caller of a sent window has gone, its submission stops and its batch is canceled", () =>
      Effect.gen(function*() {
        yield* drive(Effect.gen(function*() {
          const callers = yield* Effect.forEach(["a", "b"], (c) => Effect.fork(call(c)))
          yield* Effect.sleep("40 seconds")
          yield* Fiber.interruptAll(callers)
          yield* Effect.sleep("10 minutes")
        }))
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => [b.customIds, b.canceled]), [[["w1-0", "w1-1"], true]])
        const polls = (yield* Simulator.calls).filter((c) => c.method === "GET" && c.startedAt > 40_000)
        assert.deepStrictEqual(polls, [], "no poll after the callers left")
      }).pipe(Effect.provide(harness(Presets.batch))))

    it.effect("flush sends the open window at once", () =>
      Effect.gen(function*() {
        const deferred = yield* DeferredClient.DeferredClient
        const reply = yield* drive(Effect.gen(function*() {
          const fiber = yield* Effect.fork(call("x"))
          yield* Effect.sleep("1 second")
          assert.strictEqual(yield* deferred.pending, 1)
          yield* deferred.flush
          assert.strictEqual(yield* deferred.pending, 0)
          return yield* Effect.map(Fiber.join(fiber), text)
        }))
        assert.strictEqual(reply, "Simulated reply to: x")
        assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.createdAt), [1_000])
        assert.deepStrictEqual((yield* deferred.windows).map((w) => w.closedBy), ["flush"])
      }).pipe(Effect.provide(harness(Presets.batch))))
  })
