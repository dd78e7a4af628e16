/**
 * Checking and chunking batch requests (pure), the journal's encoding, and the submitter's
 * configuration. The submitter against the simulator is in test/suites/BatchSubmitter.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Equal, FastCheck, Schedule } from "effect"
import * as BatchJournal from "../src/BatchJournal.js"
import * as BatchOutcome from "../src/BatchOutcome.js"
import * as BatchSubmitter from "../src/BatchSubmitter.js"
import * as Plan from "../src/internal/batchPlan.js"

const request = (customId: string, content = "hi"): Plan.Request => ({
  custom_id: customId,
  params: { model: "claude-test", max_tokens: 16, messages: [{ role: "user", content }] }
})

const body = (requests: ReadonlyArray<Plan.Request>) => new TextEncoder().encode(JSON.stringify({ requests })).length

const items = (requests: ReadonlyArray<Plan.Request>, limits: Plan.Limits) => {
  const checked = Plan.check(requests, limits)
  if (checked._tag !== "Ok") throw new Error(checked.problem.message)
  return checked.items
}

const unlimited: Plan.Limits = { maxRequests: 100_000, maxBytes: 256_000_000 }

describe("batch requests: checks", () => {
  it("custom_id: 1 to 64 of [a-zA-Z0-9_-], unique; the first problem names the id", () => {
    const problem = (requests: ReadonlyArray<Plan.Request>) => {
      const checked = Plan.check(requests, unlimited)
      return checked._tag === "Problem" ? [checked.problem.reason, checked.problem.customId] : "ok"
    }
    assert.strictEqual(problem([request("a"), request("A-z_09"), request("x".repeat(64))]), "ok")
    assert.deepStrictEqual(problem([request("a"), request("")]), ["InvalidCustomId", ""])
    assert.deepStrictEqual(problem([request("x".repeat(65))]), ["InvalidCustomId", "x".repeat(65)])
    assert.deepStrictEqual(problem([request("dot.ted")]), ["InvalidCustomId", "dot.ted"])
    assert.deepStrictEqual(problem([request("é")]), ["InvalidCustomId", "é"])
    assert.deepStrictEqual(problem([request("a"), request("b"), request("a"), request("b")]), ["DuplicateCustomId", "a"])
  })

  it("a request that cannot fit in a batch alone is refused; one that exactly fits is kept", () => {
    const big = request("big", "x".repeat(500))
    const alone = body([big])
    assert.strictEqual(Plan.check([big], { maxRequests: 10, maxBytes: alone })._tag, "Ok")
    const checked = Plan.check([request("small"), big], { maxRequests: 10, maxBytes: alone - 1 })
    assert.isTrue(checked._tag === "Problem" && checked.problem.reason === "RequestTooLarge")
    if (checked._tag === "Problem") assert.include(checked.problem.message, "big")
  })

  it("item sizes are the UTF-8 bytes of what the SDK sends (multi-byte text and surrogate pairs)", () => {
    const requests = [request("a", "héllo wörld — ✓ 𝄞 日本語"), request("b", "\u0000\"\\")]
    const checked = items(requests, unlimited)
    assert.strictEqual(Plan.batchBytes(checked), body(requests))
  })
})

describe("batch requests: chunking", () => {
  it("at the count limit: n × limit exactly, then the rest", () => {
    const requests = Array.from({ length: 7 }, (_, i) => request(`r${i}`))
    const chunks = Plan.chunk(items(requests, unlimited), { maxRequests: 3, maxBytes: 256_000_000 })
    assert.deepStrictEqual(chunks.map((c) => c.map((i) => i.request.custom_id)), [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]])
  })

  it("at the byte limit: a batch of exactly maxBytes holds, one byte less splits", () => {
    const requests = [request("a", "x".repeat(100)), request("b"), request("c")]
    const exact = body(requests.slice(0, 2))
    const cut = (maxBytes: number) =>
      Plan.chunk(items(requests, { maxRequests: 10, maxBytes }), { maxRequests: 10, maxBytes }).map((c) => c.length)
    assert.deepStrictEqual(cut(exact), [2, 1])
    assert.deepStrictEqual(cut(exact - 1), [1, 2])
    assert.deepStrictEqual(cut(body(requests)), [3])
  })

  it.prop(
    "law: chunks keep every request once and in order, each within both limits, as few as greedy allows",
    [
      FastCheck.array(FastCheck.string({ unit: "binary", maxLength: 80 }), { minLength: 1, maxLength: 40 }),
      FastCheck.integer({ min: 1, max: 6 }),
      FastCheck.integer({ min: 0, max: 400 })
    ],
    ([texts, maxRequests, extra]) => {
      const requests = texts.map((text, i) => request(`r${i}`, text))
      const largest = Math.max(...requests.map((r) => body([r])))
      const limits = { maxRequests, maxBytes: largest + extra }
      const chunks = Plan.chunk(items(requests, limits), limits)
      assert.deepStrictEqual(chunks.flat().map((i) => i.request.custom_id), requests.map((r) => r.custom_id))
      for (let k = 0; k < chunks.length; k++) {
        const chunk = chunks[k]!
        const bytes = body(chunk.map((i) => i.request))
        assert.strictEqual(Plan.batchBytes(chunk), bytes)
        assert.isAtMost(chunk.length, maxRequests)
        assert.isAtMost(bytes, limits.maxBytes)
        // Greedy: the next chunk's first request did not fit in this one.
        const next = chunks[k + 1]?.[0]
        if (next !== undefined) {
          assert.isTrue(
            chunk.length === maxRequests || body([...chunk.map((i) => i.request), next.request]) > limits.maxBytes
          )
        }
      }
    }
  )
})

describe("BatchJournal encoding", () => {
  it.effect("entries round-trip through JSONL, outcomes and errors included; a torn line is skipped", () =>
    Effect.gen(function*() {
      const failed = new BatchOutcome.Failed({
        customId: "b",
        attempt: 3,
        error: new BatchOutcome.RequestErrored({
          customId: "b",
          batchId: "msgbatch_1",
          attempt: 3,
          errorType: "overloaded_error",
          errorMessage: "Overloaded"
        })
      })
      const entries: ReadonlyArray<BatchJournal.Entry> = [
        { _tag: "Planned", plan: 1, attempt: 1, customIds: ["a", "b"], at: 5 },
        { _tag: "Created", plan: 1, batchId: "msgbatch_1", at: 6, adopted: true },
        { _tag: "Resolved", plan: 1, outcome: failed },
        { _tag: "Done", plan: 1, batchId: "msgbatch_1" }
      ]
      const text = entries.map(BatchJournal.encode).join("\n") + "\n{\"_tag\":\"Reso"
      const decoded = yield* BatchJournal.decode(text)
      assert.deepStrictEqual(decoded.map((e) => e._tag), ["Planned", "Created", "Resolved", "Done"])
      const resolved = decoded[2]!
      assert.isTrue(resolved._tag === "Resolved" && resolved.outcome._tag === "Failed")
      if (resolved._tag === "Resolved" && resolved.outcome._tag === "Failed") {
        assert.instanceOf(resolved.outcome.error, BatchOutcome.RequestErrored)
        assert.strictEqual(resolved.outcome.error.message, failed.error.message)
      }
      const memory = yield* BatchJournal.makeMemory()
      yield* memory.append(entries)
      assert.deepStrictEqual(yield* memory.lines, entries.map(BatchJournal.encode))
    }))
})

describe("BatchSubmitter.config", () => {
  it("documented defaults; equal options give equal configs", () => {
    const config = BatchSubmitter.config()
    assert.deepStrictEqual(
      [config.maxRequestsPerBatch, config.maxBytesPerBatch, config.maxAttempts, [...config.retryErrorTypes]],
      [100_000, 256_000_000, 3, ["overloaded_error", "api_error"]]
    )
    assert.isTrue(Equal.equals(BatchSubmitter.config({ pollMax: "2 minutes" }), BatchSubmitter.config({ pollMax: "120 seconds" })))
    assert.isFalse(Equal.equals(BatchSubmitter.config(), BatchSubmitter.config({ maxAttempts: 4 })))
  })

  it.effect("the poll schedule grows by pollFactor from pollInitial and is capped at pollMax", () =>
    Effect.gen(function*() {
      const schedule = BatchSubmitter.pollSchedule(
        BatchSubmitter.config({ pollInitial: "5 seconds", pollFactor: 2, pollMax: "1 minute" })
      )
      const delays = yield* Schedule.run(Schedule.delays(schedule), 0, [1, 2, 3, 4, 5, 6, 7])
      assert.deepStrictEqual(Chunk.toReadonlyArray(delays).map(Duration.toSeconds), [5, 10, 20, 40, 60, 60, 60])
    }))
})
