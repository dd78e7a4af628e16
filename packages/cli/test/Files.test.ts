/**
 * The requests file and the outcome lines; the progress line and its outputs. Pure.
 */
import { AnthropicError, BatchOutcome, RateLimit } from "@ballast/anthropic"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as BatchFiles from "../src/BatchFiles.js"
import * as Progress from "../src/Progress.js"
import { request } from "./utils.js"

const message = { id: "msg_1", type: "message", role: "assistant", content: [{ type: "text", text: "hi" }] } as never

describe("BatchFiles", () => {
  it("parses requests as the API takes them, keeping every field of params; skips blank lines", () => {
    const withExtras = { custom_id: "x", params: { ...request("x").params, system: "be brief", temperature: 0 } }
    const parsed = BatchFiles.parse(`${JSON.stringify(request("a"))}\n\n${JSON.stringify(withExtras)}\n`)
    assert.deepStrictEqual(parsed, Either.right([request("a"), withExtras]))
  })

  it("names the first bad line and what is wrong with it", () => {
    const bad = (line: unknown) =>
      Either.match(BatchFiles.parse(`${JSON.stringify(request("a"))}\n${typeof line === "string" ? line : JSON.stringify(line)}`), {
        onLeft: (e) => e.message,
        onRight: () => "parsed"
      })
    assert.strictEqual(bad("{"), "line 2: not JSON")
    assert.strictEqual(bad([1]), "line 2: expected an object {\"custom_id\", \"params\"}")
    assert.strictEqual(bad({ custom_id: 1, params: {} }), "line 2: \"custom_id\" must be a string")
    assert.strictEqual(bad({ custom_id: "b", params: { max_tokens: 1, messages: [] } }), "line 2: \"params.model\" must be a string")
    assert.strictEqual(bad({ custom_id: "b", params: { model: "m", messages: [] } }), "line 2: \"params.max_tokens\" must be a number")
    assert.strictEqual(bad({ custom_id: "b", params: { model: "m", max_tokens: 1 } }), "line 2: \"params.messages\" must be an array")
    assert.strictEqual(
      bad({ custom_id: "b", params: { ...request("b").params, stream: true } }),
      "line 2: \"params.stream\" cannot be true in a batch"
    )
  })

  it("writes one line per outcome in the shape of the API's results, with batch_id and attempt", () => {
    const lines = [
      new BatchOutcome.Succeeded({ customId: "a", batchId: "b1", attempt: 1, message }),
      new BatchOutcome.Failed({
        customId: "b",
        attempt: 3,
        error: new BatchOutcome.RequestErrored({ customId: "b", batchId: "b3", attempt: 3, errorType: "overloaded_error", errorMessage: "Overloaded" })
      }),
      new BatchOutcome.Failed({ customId: "c", attempt: 1, error: new BatchOutcome.RequestExpired({ customId: "c", batchId: "b1", attempt: 1 }) }),
      new BatchOutcome.Failed({ customId: "d", attempt: 1, error: new BatchOutcome.RequestCanceled({ customId: "d", batchId: "b1", attempt: 1 }) }),
      new BatchOutcome.Failed({
        customId: "e",
        attempt: 1,
        error: new BatchOutcome.RequestRejected({
          customId: "e",
          attempt: 1,
          error: new AnthropicError.InvalidRequest({
            status: Option.some(400),
            errorType: "invalid_request_error",
            errorCode: Option.none(),
            message: "bad batch",
            requestId: Option.none(),
            retryAfter: Option.none(),
            shouldRetry: Option.none(),
            rateLimit: RateLimit.empty,
            inStream: false,
            contentEmitted: false,
            raw: Option.none()
          })
        })
      })
    ].map((o) => JSON.parse(BatchFiles.outcomeLine(o)))
    assert.deepStrictEqual(lines, [
      { custom_id: "a", result: { type: "succeeded", message }, batch_id: "b1", attempt: 1 },
      {
        custom_id: "b",
        result: { type: "errored", error: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } },
        batch_id: "b3",
        attempt: 3
      },
      { custom_id: "c", result: { type: "expired" }, batch_id: "b1", attempt: 1 },
      { custom_id: "d", result: { type: "canceled" }, batch_id: "b1", attempt: 1 },
      {
        custom_id: "e",
        result: { type: "errored", error: { type: "error", error: { type: "invalid_request_error", message: "bad batch" } } },
        batch_id: null,
        attempt: 1,
        rejected: true
      }
    ])
  })
})

describe("Progress", () => {
  it("bar: floor of the share done, full when there is nothing to do", () => {
    assert.strictEqual(Progress.bar(0, 10, 5), "[░░░░░]")
    assert.strictEqual(Progress.bar(3, 10, 5), "[█░░░░]")
    assert.strictEqual(Progress.bar(10, 10, 5), "[█████]")
    assert.strictEqual(Progress.bar(0, 0, 3), "[███]")
  })

  it("the line sums the latest request_counts of every batch; outcomes fill the bar", () => {
    const tracker = new Progress.Tracker(4)
    const batch = (id: string, status: "in_progress" | "ended", counts: Progress.Counts) =>
      ({ id, processing_status: status, request_counts: counts }) as never
    const counts = (processing: number, succeeded: number, errored = 0) => ({ processing, succeeded, errored, canceled: 0, expired: 0 })
    assert.isTrue(tracker.add({ _tag: "BatchCreated", plan: 1, batchId: "b1", attempt: 1, requests: 3, adopted: false } as never))
    assert.isTrue(tracker.add({ _tag: "BatchCreated", plan: 2, batchId: "b2", attempt: 1, requests: 1, adopted: false } as never))
    assert.strictEqual(tracker.line(10), "[░░░░░░░░░░] 0/4 resolved · 2 batches, 2 in progress · processing 4 · succeeded 0 · errored 0 · expired 0 · canceled 0")
    tracker.add({ _tag: "BatchPolled", plan: 1, batch: batch("b1", "ended", counts(0, 2, 1)) } as never)
    assert.isFalse(tracker.add(new BatchOutcome.Succeeded({ customId: "a", batchId: "b1", attempt: 1, message })))
    tracker.add(new BatchOutcome.Failed({ customId: "b", attempt: 1, error: new BatchOutcome.RequestCanceled({ customId: "b", batchId: "b1", attempt: 1 }) }))
    assert.strictEqual(tracker.line(10), "[█████░░░░░] 2/4 resolved · 2 batches, 1 in progress · processing 1 · succeeded 2 · errored 1 · expired 0 · canceled 0")
    assert.strictEqual(tracker.summary(), "2/4 resolved: 1 succeeded, 1 failed (0 errored, 0 expired, 1 canceled, 0 rejected) in 2 batches")
  })

  it.effect("on a terminal the line is redrawn in place; elsewhere one line per batch change", () =>
    Effect.gen(function*() {
      const written = (isTTY: boolean) => {
        const out: Array<string> = []
        const stream = { isTTY, write: (s: string) => void out.push(s) } as unknown as NodeJS.WriteStream
        return { out, output: Progress.streamOutput(stream) }
      }
      const tty = written(true)
      yield* tty.output.update("a", true)
      yield* tty.output.update("a", false)
      yield* tty.output.update("b", false)
      yield* tty.output.end("done")
      assert.deepStrictEqual(tty.out, ["\r\x1b[2Ka", "\r\x1b[2Kb", "\r\x1b[2Kdone\n"])
      const log = written(false)
      yield* log.output.update("a", true)
      yield* log.output.update("b", false)
      yield* log.output.update("a", true)
      yield* log.output.update("c", true)
      yield* log.output.end("done")
      assert.deepStrictEqual(log.out, ["a\n", "c\n", "done\n"])
    }))
})
