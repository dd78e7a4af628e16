/**
 * `ballast batch submit | status | results`, run in process (`Command.run` with arguments) against
 * the in-process simulator under TestClock, with real files in a temporary directory.
 */
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as Fs from "node:fs"
import { API_KEY, ballast, jsonLines, printed, request, requestsJsonl, type Run, tempDir } from "./utils.js"

const failure = (run: Run): string => {
  if (Exit.isSuccess(run.exit)) return "succeeded"
  const error = Cause.failureOption(run.exit.cause)
  return Option.match(error, {
    onNone: () => Cause.pretty((run.exit as Exit.Failure<void, unknown>).cause),
    onSome: (e) => `${(e as { _tag: string })._tag}: ${(e as { message: string }).message}`
  })
}

const text = (line: Record<string, any>): string =>
  line["result"]["type"] === "succeeded"
    ? line["result"]["message"]["content"].map((b: { text?: string }) => b.text ?? "").join("")
    : line["result"]["type"]

describe("ballast batch", () => {
  it.effect("submit: every custom_id gets one outcome line in --out; progress from request_counts; a summary", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const input = tmp.write("requests.jsonl", requestsJsonl(250))
      const out = tmp.file("results.jsonl")
      const journal = tmp.file("journal.jsonl")
      const run = yield* ballast([
        "batch",
        "submit",
        "--out",
        out,
        "--journal",
        journal,
        "--base-url",
        "http://127.0.0.1:4010",
        "--max-requests-per-batch",
        "100",
        input
      ])
      assert.strictEqual(failure(run), "succeeded")
      const lines = jsonLines(out)
      assert.strictEqual(lines.length, 250)
      assert.deepStrictEqual(
        lines.map((l) => l["custom_id"]).sort(),
        Array.from({ length: 250 }, (_, i) => `r-${i}`).sort()
      )
      for (const line of lines) {
        assert.strictEqual(text(line), `Simulated reply to: ${line["custom_id"]}`)
        assert.strictEqual(line["attempt"], 1)
        assert.match(line["batch_id"], /^msgbatch_sim_00000[123]$/)
      }
      assert.deepStrictEqual((yield* Simulator.batches).map((b) => b.customIds.length), [100, 100, 50])
      // progress: the three batches appear with their request_counts, then everything resolved
      const significant = run.progress.filter((p) => p.significant).map((p) => p.line)
      // (how batches interleave in simulated time depends on real I/O; these hold in any order)
      assert.isTrue(significant.some((l) => /^\[░+\] 0\/250 resolved · 1 batch, 1 in progress · processing 100 · succeeded 0 · /.test(l)))
      assert.isTrue(significant.some((l) => / · 3 batches, [123] in progress · processing [1-9]\d* · /.test(l)))
      assert.isTrue(significant.some((l) => l.endsWith(" · 3 batches, 0 in progress · processing 0 · succeeded 250 · errored 0 · expired 0 · canceled 0")))
      const end = run.progress.at(-1)!
      assert.isTrue(end.end)
      assert.strictEqual(end.line, "[████████████████████] 250/250 resolved · 3 batches, 0 in progress · processing 0 · succeeded 250 · errored 0 · expired 0 · canceled 0")
      assert.deepStrictEqual(run.stdout, [
        `250/250 resolved: 250 succeeded, 0 failed (0 errored, 0 expired, 0 canceled, 0 rejected) in 3 batches; results in ${out} (journal: ${journal})`
      ])
      assert.notInclude(printed(run), API_KEY)
      assert.notInclude(Fs.readFileSync(out, "utf8") + Fs.readFileSync(journal, "utf8"), API_KEY)
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("interrupted mid-run (Ctrl-C), the same command resumes from the journal: nothing submitted twice; status shows both", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const input = tmp.write("requests.jsonl", requestsJsonl(250))
      const out = tmp.file("results.jsonl")
      const journal = tmp.file("journal.jsonl")
      const args = ["batch", "submit", "--out", out, "--journal", journal, "--max-requests-per-batch", "100", input]

      // r-0 comes back overloaded: it is resubmitted alone in a 4th batch; interrupt once the journal has
      // every result of the first three and the 4th batch's id (the run is then polling it)
      const journaled = Effect.sync(() => {
        const entries = Fs.existsSync(journal) ? jsonLines(journal) : []
        return entries.filter((e) => e["_tag"] === "Done").length === 3 &&
          entries.some((e) => e["_tag"] === "Created" && e["plan"] === 4)
      })
      const first = yield* ballast(args, { until: journaled })
      assert.isTrue(Exit.isInterrupted(first.exit))
      assert.strictEqual(first.progress.at(-1)?.line, `interrupted: run the same command again to resume from ${journal}`)

      const midway = yield* ballast(["batch", "status", "--journal", journal])
      assert.strictEqual(failure(midway), "succeeded")
      assert.deepStrictEqual(midway.stdout, [
        `journal ${journal}: 250 requests planned in 4 batches; 249 resolved (249 succeeded, 0 failed: 0 errored, 0 expired, 0 canceled, 0 rejected)`,
        "plan  attempt  batch                requests  resolved  state",
        "1     1        msgbatch_sim_000001  100       99        done (results recorded)",
        "2     1        msgbatch_sim_000002  100       100       done (results recorded)",
        "3     1        msgbatch_sim_000003  50        50        done (results recorded)",
        "4     2        msgbatch_sim_000004  1         0         in_progress · processing 1 · succeeded 0 · errored 0 · expired 0 · canceled 0"
      ])

      const second = yield* ballast(args)
      assert.strictEqual(failure(second), "succeeded")
      const lines = jsonLines(out)
      assert.deepStrictEqual(lines.map((l) => l["custom_id"]).sort(), Array.from({ length: 250 }, (_, i) => `r-${i}`).sort())
      const r0 = lines.find((l) => l["custom_id"] === "r-0")!
      assert.deepStrictEqual([text(r0), r0["attempt"], r0["batch_id"]], ["Simulated reply to: r-0", 2, "msgbatch_sim_000004"])
      const batches = yield* Simulator.batches
      assert.deepStrictEqual(batches.map((b) => b.customIds.length), [100, 100, 50, 1], "no batch created again")
      assert.strictEqual(second.progress.at(-1)?.line.startsWith("[████████████████████] 250/250 resolved"), true)

      const done = yield* ballast(["batch", "status", "--journal", journal])
      assert.strictEqual(done.stdout[0], `journal ${journal}: 250 requests planned in 4 batches; 250 resolved (250 succeeded, 0 failed: 0 errored, 0 expired, 0 canceled, 0 rejected)`)
      assert.strictEqual(done.stdout.at(-1), "4     2        msgbatch_sim_000004  1         1         done (results recorded)")

      // once more: everything comes from the journal, no API call at all
      const calls = (yield* Simulator.calls).length
      const third = yield* ballast(args)
      assert.strictEqual(failure(third), "succeeded")
      assert.strictEqual(jsonLines(out).length, 250)
      assert.strictEqual((yield* Simulator.calls).length, calls)
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.batchResult("errored", { customId: "r-0", type: "overloaded_error" })]
    }))))

  it.effect("interrupted while a batch is being created, the resumed run finds that batch instead of creating another", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const input = tmp.write("requests.jsonl", requestsJsonl(30))
      const out = tmp.file("results.jsonl")
      const args = ["batch", "submit", "--out", out, "--journal", tmp.file("journal.jsonl"), "--max-requests-per-batch", "10", input]
      // stop as soon as the second create reaches the API (its journal entry may or may not be written)
      const first = yield* ballast(args, { until: Effect.map(Simulator.batches, (b) => b.length >= 2) })
      assert.isTrue(Exit.isInterrupted(first.exit))
      const second = yield* ballast(args)
      assert.strictEqual(failure(second), "succeeded")
      assert.deepStrictEqual(jsonLines(out).map((l) => l["custom_id"]).sort(), Array.from({ length: 30 }, (_, i) => `r-${i}`).sort())
      const batches = yield* Simulator.batches
      assert.deepStrictEqual(batches.map((b) => b.customIds.length), [10, 10, 10], "each custom_id submitted once")
      assert.strictEqual(new Set(batches.flatMap((b) => b.customIds)).size, 30)
      // the journal owns each batch once (the one whose create was cut off is usually "adopted": found again by listing)
      const created = jsonLines(tmp.file("journal.jsonl")).filter((e) => e["_tag"] === "Created")
      assert.deepStrictEqual(created.map((e) => e["batchId"]).sort(), batches.map((b) => b.id).sort())
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("results BATCH_ID --out: the batch's results as the API gives them; an unknown batch is a clear error", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const input = tmp.write(
        "requests.jsonl",
        [request("a"), request("b"), request("c")].map((r) => JSON.stringify(r)).join("\n")
      )
      const submitted = yield* ballast(["batch", "submit", "--out", tmp.file("out.jsonl"), "--journal", tmp.file("j.jsonl"), input])
      assert.strictEqual(failure(submitted), "succeeded")
      const out = tmp.file("results.jsonl")
      const run = yield* ballast(["batch", "results", "--out", out, "msgbatch_sim_000001"])
      assert.strictEqual(failure(run), "succeeded")
      const lines = jsonLines(out)
      assert.deepStrictEqual(lines.map((l) => [l["custom_id"], l["result"]["type"]]).sort(), [
        ["a", "succeeded"],
        ["b", "succeeded"],
        ["c", "errored"]
      ])
      assert.deepStrictEqual(run.stdout, [`3 results of msgbatch_sim_000001 in ${out}: 2 succeeded, 1 errored, 0 expired, 0 canceled`])
      // the submission's own output has the same outcome for c (not resubmitted: invalid_request_error)
      const own = jsonLines(tmp.file("out.jsonl")).find((l) => l["custom_id"] === "c")!
      assert.deepStrictEqual(own["result"]["error"]["error"]["type"], "invalid_request_error")

      const unknown = yield* ballast(["batch", "results", "--out", out, "msgbatch_nope"])
      assert.match(failure(unknown), /^CliError: NotFound: /)
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer({
      script: [Fault.batchResult("errored", { customId: "c", type: "invalid_request_error" })]
    }))))

  it.effect("bad input is refused before anything is sent: the line, or the custom_id", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const submit = (name: string, content: string) =>
        Effect.map(
          ballast(["batch", "submit", "--out", tmp.file("out.jsonl"), "--journal", tmp.file(`${name}.journal`), tmp.write(name, content)]),
          failure
        )
      const notJson = yield* submit("a.jsonl", `${JSON.stringify(request("a"))}\n{oops\n`)
      assert.strictEqual(notJson, `CliError: ${tmp.file("a.jsonl")}: line 2: not JSON`)
      const noParams = yield* submit("b.jsonl", `\n${JSON.stringify({ custom_id: "x" })}\n`)
      assert.strictEqual(noParams, `CliError: ${tmp.file("b.jsonl")}: line 2: "params" must be an object (a Messages request)`)
      const duplicate = yield* submit("c.jsonl", [request("a"), request("b"), request("a")].map((r) => JSON.stringify(r)).join("\n"))
      assert.match(duplicate, /^CliError: BatchInputError: .*\ba\b/)
      assert.deepStrictEqual(yield* Simulator.calls, [])
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer())))

  it.effect("a journal of another submission is refused; without ANTHROPIC_API_KEY the error says so and status reads the journal", () =>
    Effect.gen(function*() {
      const tmp = tempDir()
      const journal = tmp.file("journal.jsonl")
      const first = yield* ballast(["batch", "submit", "--out", tmp.file("out.jsonl"), "--journal", journal, tmp.write("one.jsonl", requestsJsonl(2, "one"))])
      assert.strictEqual(failure(first), "succeeded")
      const other = yield* ballast(["batch", "submit", "--out", tmp.file("out2.jsonl"), "--journal", journal, tmp.write("two.jsonl", requestsJsonl(2, "two"))])
      assert.strictEqual(
        failure(other),
        `CliError: the journal ${journal} belongs to another submission (it holds custom_id one-0, which is not in the requests file): pass --journal with a new path, or delete it`
      )
      const calls = (yield* Simulator.calls).length
      const noKey = yield* ballast(["batch", "submit", "--out", tmp.file("out3.jsonl"), "--journal", tmp.file("j3"), tmp.file("one.jsonl")], { key: false })
      assert.strictEqual(failure(noKey), "CliError: ANTHROPIC_API_KEY is not set (against the simulator any value works: ANTHROPIC_API_KEY=test)")
      assert.strictEqual((yield* Simulator.calls).length, calls)
      const status = yield* ballast(["batch", "status", "--journal", journal], { key: false })
      assert.strictEqual(failure(status), "succeeded")
      assert.strictEqual(status.stdout[0]!.startsWith(`journal ${journal}: 2 requests planned in 1 batch; 2 resolved`), true)
      const missing = yield* ballast(["batch", "status", "--journal", tmp.file("none")])
      assert.strictEqual(failure(missing), `CliError: no journal at ${tmp.file("none")} (pass --journal)`)
      tmp.remove()
    }).pipe(Effect.provide(Simulator.layer())))
})
