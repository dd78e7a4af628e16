/**
 * BatchSubmitter against the simulator's Message Batches, in process under TestClock: chunking at
 * the limits, resubmission of errored and expired requests, the poll schedule, refusals, resuming
 * from the journal (including a crash between a create and its journal entry), 10,000 requests.
 */
import {
  AnthropicClient,
  AnthropicError,
  BatchJournal,
  BatchOutcome,
  BatchSubmitter,
  Presets,
  ResilientClient
} from "@ballast/anthropic"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Random, Stream } from "effect"
import {
  byId,
  clientLayer,
  drive,
  label,
  memoryJournal,
  request,
  requests,
  sizes,
  submissions
} from "./BatchHelpers.js"

const submitAll = (input: ReadonlyArray<BatchSubmitter.Request>) =>
  drive(Stream.runCollect(BatchSubmitter.submit(input))).pipe(Effect.map(Chunk.toReadonlyArray))

const harness = (
  options: BatchSubmitter.Options,
  simulator: Simulator.Options,
  client: Layer.Layer<AnthropicClient.AnthropicClient, never, Simulator.Simulator> = clientLayer
) =>
  BatchSubmitter.layer(options).pipe(
    Layer.provide(BatchJournal.layerMemory),
    Layer.provide(client),
    Layer.provideMerge(Simulator.layer(simulator))
  )

const text = (outcome: BatchOutcome.Outcome | undefined): string =>
  outcome?._tag === "Succeeded"
    ? outcome.message.content.map((block) => (block.type === "text" ? block.text : "")).join("")
    : `no message: ${outcome === undefined ? "missing" : label(outcome)}`

export const suite = () =>
  describe("BatchSubmitter", () => {
    it.effect("splits by request count; every custom_id gets its own message once; each is submitted once", () =>
      Effect.gen(function*() {
        const input = requests(250)
        const outcomes = byId(yield* submitAll(input))
        assert.strictEqual(outcomes.size, 250)
        for (const r of input) assert.strictEqual(text(outcomes.get(r.custom_id)), `Simulated reply to: ${r.custom_id}`)
        assert.deepStrictEqual(yield* sizes, [100, 100, 50])
        assert.deepStrictEqual([...(yield* submissions).values()].every((n) => n === 1), true)
      }).pipe(Effect.provide(harness({ maxRequestsPerBatch: 100 }, {}))))

    it.effect("splits by bytes: a pair of exactly the byte limit goes in one batch, with one byte less in two", () =>
      Effect.gen(function*() {
        const input = [request("a", "x".repeat(300)), request("b"), request("c", "y".repeat(300)), request("d")]
        // The exact size of the first two requests as one create body; the simulator enforces the same limit.
        const pair = JSON.stringify({ requests: input.slice(0, 2) }).length
        const run = (limit: number) =>
          Effect.gen(function*() {
            const outcomes = byId(yield* submitAll(input))
            return { labels: [...outcomes.values()].map(label), sizes: yield* sizes }
          }).pipe(Effect.provide(harness({ maxBytesPerBatch: limit }, { batches: { maxBytes: limit } })))
        assert.deepStrictEqual(yield* run(pair), { labels: Array(4).fill("succeeded@1"), sizes: [2, 2] })
        assert.deepStrictEqual(yield* run(pair - 1), { labels: Array(4).fill("succeeded@1"), sizes: [1, 1, 1, 1] })
      }))

    it.effect("resubmits overloaded/api_error and expired results in later batches, up to maxAttempts; reports the rest", () =>
      Effect.gen(function*() {
        const input = ["a", "b", "c", "d", "e", "f"].map((id) => request(id))
        const outcomes = byId(yield* submitAll(input))
        assert.deepStrictEqual(Object.fromEntries([...outcomes].map(([id, o]) => [id, label(o)])), {
          a: "succeeded@3",
          b: "succeeded@2",
          c: "RequestErrored:invalid_request_error@1",
          d: "RequestCanceled@1",
          e: "RequestErrored:api_error@3",
          f: "succeeded@1"
        })
        const batches = yield* Simulator.batches
        assert.deepStrictEqual(batches.map((b) => b.customIds), [["a", "b", "c", "d", "e", "f"], ["a", "b", "e"], ["a", "e"]])
        const failed = outcomes.get("e")
        assert.isTrue(failed?._tag === "Failed" && failed.error._tag === "RequestErrored")
        if (failed?._tag === "Failed") assert.include(failed.error.message, "e errored (api_error) on attempt 3")
      }).pipe(Effect.provide(harness({ maxAttempts: 3, pollMax: "1 hour" }, {
        script: [
          Fault.batchResult("errored", { customId: "a", type: "overloaded_error", times: 2 }),
          Fault.batchResult("expired", { customId: "b" }),
          Fault.batchResult("errored", { customId: "c", type: "invalid_request_error" }),
          Fault.batchResult("canceled", { customId: "d" }),
          Fault.batchResult("errored", { customId: "e", type: "api_error", times: "forever" })
        ]
      }))))

    it.effect("polls on the schedule: 5, 10, 20 s… capped; run() reports each poll's request_counts", () =>
      Effect.gen(function*() {
        const events = Chunk.toReadonlyArray(
          yield* drive(Stream.runCollect(Stream.unwrap(Effect.map(BatchSubmitter.BatchSubmitter, (s) => s.run(requests(3))))))
        )
        const calls = yield* Simulator.calls
        // Polls at 5, 15, 35, 55 and 75 s (waits 5, 10, 20, 20, 20); the SDK's results() retrieves once more.
        assert.deepStrictEqual(
          calls.filter((c) => c.method === "GET" && !c.path.endsWith("/results")).map((c) => c.startedAt / 1000),
          [5, 15, 35, 55, 75, 75]
        )
        const polled = events.filter((e): e is BatchSubmitter.BatchPolled => e._tag === "BatchPolled")
        assert.deepStrictEqual(
          polled.map((e) => [e.batch.processing_status, e.batch.request_counts.processing, e.batch.request_counts.succeeded]),
          [["in_progress", 3, 0], ["in_progress", 3, 0], ["in_progress", 3, 0], ["in_progress", 3, 0], ["ended", 0, 3]]
        )
        assert.deepStrictEqual(events.map((e) => e._tag).filter((t) => t !== "BatchPolled"), [
          "BatchCreated",
          "Succeeded",
          "Succeeded",
          "Succeeded"
        ])
      }).pipe(Effect.provide(harness(
        { pollInitial: "5 seconds", pollFactor: 2, pollMax: "20 seconds" },
        { batches: { processingTime: "70 seconds" } }
      ))))

    it.effect("bad input is refused before anything is sent, naming the custom_id", () =>
      Effect.gen(function*() {
        const refuse = (input: ReadonlyArray<BatchSubmitter.Request>) =>
          Effect.flip(Stream.runDrain(BatchSubmitter.submit(input)))
        const duplicate = yield* refuse([request("a"), request("b"), request("a")])
        const invalid = yield* refuse([request("ok"), request("not ok")])
        const long = yield* refuse([request("x".repeat(65))])
        const large = yield* refuse([request("small"), request("big", "z".repeat(2_000))])
        assert.deepStrictEqual(
          [duplicate, invalid, long, large].map((e) =>
            e._tag === "BatchInputError" ? [e.reason, e.customId] : [e._tag, ""]
          ),
          [
            ["DuplicateCustomId", "a"],
            ["InvalidCustomId", "not ok"],
            ["InvalidCustomId", "x".repeat(65)],
            ["RequestTooLarge", "big"]
          ]
        )
        assert.include(large.message, "big")
        assert.deepStrictEqual(yield* Simulator.calls, [])
      }).pipe(Effect.provide(harness({ maxBytesPerBatch: 1_000 }, {}))))

    it.effect("a refused create (400) fails its requests with RequestRejected; the other batches go on", () =>
      Effect.gen(function*() {
        const outcomes = byId(yield* submitAll(requests(4)))
        assert.deepStrictEqual([...outcomes.values()].map(label), [
          "RequestRejected@1",
          "RequestRejected@1",
          "succeeded@1",
          "succeeded@1"
        ])
        const rejected = outcomes.get("r-0")
        assert.isTrue(
          rejected?._tag === "Failed" && rejected.error._tag === "RequestRejected" &&
            rejected.error.error._tag === "InvalidRequest"
        )
      }).pipe(Effect.provide(harness({ maxRequestsPerBatch: 2 }, {
        script: [Fault.status(400, { endpoint: "batches", message: "bad batch" })]
      }))))

    it.effect("under ResilientClient.layer(Presets.background), 529s on the create and on a poll are retried by the policy", () =>
      Effect.gen(function*() {
        const outcomes = byId(yield* submitAll(requests(3)))
        assert.deepStrictEqual([...outcomes.values()].map(label), ["succeeded@1", "succeeded@1", "succeeded@1"])
        const calls = (yield* Simulator.calls).filter((c) => c.endpoint === "batches" && !c.path.endsWith("/results"))
        assert.deepStrictEqual(calls.slice(0, 4).map((c) => [c.method, Option.getOrNull(c.status)]), [
          ["POST", 529],
          ["POST", 529],
          ["POST", 200],
          ["GET", 529]
        ])
        assert.deepStrictEqual(yield* sizes, [3], "one batch: the retried create made it once")
      }).pipe(
        Effect.withRandom(Random.fixed([0.5])),
        Effect.provide(harness({}, {
          script: [
            Fault.overloaded({ endpoint: "batches", times: 2 }),
            Fault.ok({ endpoint: "batches" }),
            Fault.overloaded({ endpoint: "batches" })
          ]
        }, resilient))
      ))

    it.effect("a 529 that outlasts the client's retries stops the run; running again resumes without resubmitting", () =>
      Effect.gen(function*() {
        const { journal, layer } = yield* memoryJournal()
        const run = (input: ReadonlyArray<BatchSubmitter.Request>) =>
          drive(Stream.runCollect(BatchSubmitter.submit(input))).pipe(
            Effect.provide(BatchSubmitter.layer({ maxRequestsPerBatch: 2 }).pipe(Layer.provide(layer), Layer.provide(clientLayer)))
          )
        const first = yield* Effect.either(run(requests(4)))
        assert.isTrue(first._tag === "Left" && AnthropicError.isAnthropicError(first.left) && first.left._tag === "Overloaded")
        const second = byId(Chunk.toReadonlyArray(yield* run(requests(4))))
        assert.deepStrictEqual([...second.keys()].sort(), ["r-0", "r-1", "r-2", "r-3"])
        assert.deepStrictEqual(yield* sizes, [2, 2])
        const entries = yield* journal.read
        assert.deepStrictEqual(entries.map((e) => e._tag).filter((t) => t !== "Resolved"), [
          "Planned",
          "Created",
          "Planned",
          "Created",
          "Done",
          "Done"
        ])
      }).pipe(Effect.provide(Simulator.layer({
        // The first batch is created, the second meets a 529; the retrieve calls get through.
        script: [Fault.ok({ endpoint: "batches" }), Fault.overloaded({ endpoint: "batches" })]
      }))))

    it.effect("a run stopped mid-way resumes from the journal: every custom_id once, nothing submitted twice", () =>
      Effect.gen(function*() {
        const { journal, layer } = yield* memoryJournal()
        const submitter = BatchSubmitter.layer({ maxRequestsPerBatch: 2 }).pipe(Layer.provide(layer), Layer.provide(clientLayer))
        const input = requests(6)
        // The first run stops as soon as its first batch is created.
        const first = yield* drive(
          Stream.unwrap(Effect.map(BatchSubmitter.BatchSubmitter, (s) => s.run(input))).pipe(
            Stream.takeUntil((event) => event._tag === "BatchCreated"),
            Stream.runCollect
          )
        ).pipe(Effect.provide(submitter))
        assert.deepStrictEqual(Chunk.toReadonlyArray(first).map((e) => e._tag), ["BatchCreated"])
        assert.isTrue((yield* journal.read).some((e) => e._tag === "Created"))
        const second = byId(Chunk.toReadonlyArray(yield* drive(Stream.runCollect(BatchSubmitter.submit(input))).pipe(
          Effect.provide(submitter)
        )))
        assert.deepStrictEqual([...second.keys()].sort(), input.map((r) => r.custom_id).sort())
        assert.deepStrictEqual([...(yield* submissions).values()], [1, 1, 1, 1, 1, 1])
        // A third run finds everything in the journal: the same outcomes, no call at all.
        const calls = (yield* Simulator.calls).length
        const third = byId(Chunk.toReadonlyArray(yield* drive(Stream.runCollect(BatchSubmitter.submit(input))).pipe(
          Effect.provide(submitter)
        )))
        assert.deepStrictEqual([...third.entries()].map(([id, o]) => [id, label(o)]), [...second.entries()].map(([id, o]) => [id, label(o)]))
        assert.strictEqual((yield* Simulator.calls).length, calls)
      }).pipe(Effect.provide(Simulator.layer())))

    it.effect("a crash between a create and its journal entry: the batch is found again (adopted), not created twice", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        // What the crashed run did: planned [a, b], created the batch, died before writing Created.
        yield* client.messages.batches.create({ requests: [request("a"), request("b")] })
        // Another batch of the same size that the journal already owns is not a candidate.
        const planned = BatchJournal.encode({ _tag: "Planned", plan: 1, attempt: 1, customIds: ["x", "y"], at: 0 })
        const owned = yield* client.messages.batches.create({ requests: [request("x"), request("y")] })
        const { journal, layer } = yield* memoryJournal([
          planned,
          BatchJournal.encode({ _tag: "Created", plan: 1, batchId: owned.id, at: 0 }),
          BatchJournal.encode({ _tag: "Planned", plan: 2, attempt: 1, customIds: ["a", "b"], at: 0 })
        ])
        const events = Chunk.toReadonlyArray(
          yield* drive(Stream.runCollect(Stream.unwrap(Effect.map(BatchSubmitter.BatchSubmitter, (s) =>
            s.run(["a", "b", "x", "y"].map((id) => request(id))))))).pipe(
              Effect.provide(BatchSubmitter.layer().pipe(Layer.provide(layer), Layer.provide(clientLayer)))
            )
        )
        const adopted = events.filter((e): e is BatchSubmitter.BatchCreated => e._tag === "BatchCreated")
        assert.deepStrictEqual(adopted.map((e) => [e.plan, e.batchId, e.adopted]), [[2, "msgbatch_sim_000001", true]])
        assert.deepStrictEqual([...byId(events.filter(BatchOutcome.isOutcome)).keys()].sort(), ["a", "b", "x", "y"])
        assert.deepStrictEqual((yield* Simulator.batches).length, 2)
        const created = (yield* journal.read).filter((e) => e._tag === "Created")
        assert.deepStrictEqual(created.map((e) => [e.plan, e.batchId, e.adopted ?? false]), [
          [1, owned.id, false],
          [2, "msgbatch_sim_000001", true]
        ])
      }).pipe(Effect.provide(clientLayer), Effect.provide(Simulator.layer())))

    it.effect("results recorded before a crash are not emitted twice; a finished batch's unresolved ids are resubmitted", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        const open = yield* client.messages.batches.create({ requests: [request("a"), request("b")] })
        const succeeded = (customId: string, batchId: string) =>
          new BatchOutcome.Succeeded({ customId, batchId, attempt: 1, message: { role: "assistant", content: [] } as never })
        const { journal, layer } = yield* memoryJournal([
          // Plan 1: created, "a" recorded, then the crash (no Done).
          BatchJournal.encode({ _tag: "Planned", plan: 1, attempt: 1, customIds: ["a", "b"], at: 0 }),
          BatchJournal.encode({ _tag: "Created", plan: 1, batchId: open.id, at: 0 }),
          BatchJournal.encode({ _tag: "Resolved", plan: 1, outcome: succeeded("a", open.id) }),
          // Plan 2 (a batch long gone): done, "c" recorded, "d" was to be resubmitted.
          BatchJournal.encode({ _tag: "Planned", plan: 2, attempt: 1, customIds: ["c", "d"], at: 0 }),
          BatchJournal.encode({ _tag: "Created", plan: 2, batchId: "msgbatch_gone", at: 0 }),
          BatchJournal.encode({ _tag: "Resolved", plan: 2, outcome: succeeded("c", "msgbatch_gone") }),
          BatchJournal.encode({ _tag: "Done", plan: 2, batchId: "msgbatch_gone" })
        ])
        const outcomes = Chunk.toReadonlyArray(
          yield* drive(Stream.runCollect(BatchSubmitter.submit(["a", "b", "c", "d"].map((id) => request(id))))).pipe(
            Effect.provide(BatchSubmitter.layer().pipe(Layer.provide(layer), Layer.provide(clientLayer)))
          )
        )
        const seen = byId(outcomes)
        assert.deepStrictEqual(outcomes.slice(0, 2).map((o) => o.customId), ["a", "c"], "recorded outcomes come first")
        assert.deepStrictEqual(Object.fromEntries([...seen].map(([id, o]) => [id, label(o)])), {
          a: "succeeded@1",
          b: "succeeded@1",
          c: "succeeded@1",
          d: "succeeded@2"
        })
        assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds), [["a", "b"], ["d"]])
        const tail = (yield* journal.read).slice(7).map((e) => e._tag === "Planned" ? `Planned:${e.customIds}` : e._tag)
        assert.deepStrictEqual(tail.sort(), ["Created", "Done", "Done", "Planned:d", "Resolved", "Resolved"])
      }).pipe(Effect.provide(clientLayer), Effect.provide(Simulator.layer())))

    it.effect("a plan whose create never happened is created on resume", () =>
      Effect.gen(function*() {
        const { layer } = yield* memoryJournal([
          BatchJournal.encode({ _tag: "Planned", plan: 1, attempt: 1, customIds: ["a", "b"], at: 0 })
        ])
        const outcomes = yield* drive(Stream.runCollect(BatchSubmitter.submit([request("a"), request("b")]))).pipe(
          Effect.provide(BatchSubmitter.layer().pipe(Layer.provide(layer), Layer.provide(clientLayer)))
        )
        assert.deepStrictEqual(Chunk.toReadonlyArray(outcomes).map(label), ["succeeded@1", "succeeded@1"])
        assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds), [["a", "b"]])
      }).pipe(Effect.provide(Simulator.layer())))

    it.effect("an adopted batch whose results are not the planned ones stops the run with Mismatch", () =>
      Effect.gen(function*() {
        const client = yield* AnthropicClient.AnthropicClient
        yield* client.messages.batches.create({ requests: [request("p"), request("q")] })
        const { layer } = yield* memoryJournal([
          BatchJournal.encode({ _tag: "Planned", plan: 1, attempt: 1, customIds: ["a", "b"], at: 0 })
        ])
        const error = yield* Effect.flip(drive(Stream.runDrain(BatchSubmitter.submit([request("a"), request("b")]))).pipe(
          Effect.provide(BatchSubmitter.layer().pipe(Layer.provide(layer), Layer.provide(clientLayer)))
        ))
        assert.isTrue(typeof error === "object" && error._tag === "BatchSubmitError" && error.reason === "Mismatch")
      }).pipe(Effect.provide(clientLayer), Effect.provide(Simulator.layer())))

    it.effect("10,000 requests with overloaded and expired results: each resolved exactly once, in simulated time", () =>
      Effect.gen(function*() {
        const input = requests(10_000)
        const outcomes = byId(yield* submitAll(input))
        assert.strictEqual(outcomes.size, 10_000)
        const counts = yield* submissions
        const labels = new Map<string, number>()
        for (const r of input) {
          const outcome = outcomes.get(r.custom_id)!
          const l = label(outcome)
          labels.set(l, (labels.get(l) ?? 0) + 1)
          // Submitted once per attempt, never more.
          assert.strictEqual(counts.get(r.custom_id), outcome.attempt, r.custom_id)
        }
        assert.deepStrictEqual(Object.fromEntries(labels), { "succeeded@2": 800, "succeeded@1": 9_200 })
        assert.deepStrictEqual(yield* sizes, [2_500, 2_500, 2_500, 2_500, 800])
      }).pipe(Effect.provide(harness({ maxRequestsPerBatch: 2_500, pollMax: "1 hour" }, {
        script: [
          Fault.batchResult("errored", { type: "overloaded_error", times: 500 }),
          Fault.batchResult("expired", { times: 300 })
        ]
      }))))
  })

/** The policy's client over the plain one (the layer users provide for backoff on 529/429). */
const resilient: Layer.Layer<AnthropicClient.AnthropicClient, never, Simulator.Simulator> = ResilientClient.layer(
  Presets.background
).pipe(Layer.provide(clientLayer))
