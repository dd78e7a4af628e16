/**
 * The file journal, and a real crash: a child process submitting to the loopback simulator is
 * killed with SIGKILL once its journal shows a created batch, then started again; every custom_id
 * must be resolved exactly once and the simulator must have been sent each request exactly once.
 */
import { BatchJournal, BatchOutcome } from "@ballast/anthropic"
import { Server, Simulator } from "@ballast/testing"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { MODEL } from "./BatchHelpers.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const root = Path.resolve(here, "../..")
const child = Path.join(here, "batchCrashChild.ts")
const tsx = Path.join(root, "node_modules/.bin/tsx")

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "ballast-batch-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const lines = (file: string): Array<string> =>
  Fs.existsSync(file) ? Fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []

const start = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const process = spawn(tsx, [child, ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      process.stderr!.on("data", (chunk) => (stderr += String(chunk)))
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        process.on("exit", (code, signal) => resolve({ code, signal }))
      )
      return { process, exited, stderr: () => stderr }
    }),
    ({ process }) => Effect.sync(() => void (process.exitCode === null && process.kill("SIGKILL")))
  )

/** Polls (real time) until `predicate` holds or `ms` pass. */
const waitFor = (predicate: () => boolean, ms: number) =>
  Effect.promise(async () => {
    const until = Date.now() + ms
    while (!predicate() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
    return predicate()
  })

const outcome = (customId: string) =>
  new BatchOutcome.Succeeded({
    customId,
    batchId: "msgbatch_1",
    attempt: 1,
    message: { id: "msg_1", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: "end_turn" } as never
  })

export const suite = () =>
  describe("Batch journal on the file system, and a crash", () => {
    it.scoped("entries survive a new journal on the same file; a line torn by a crash is skipped", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const file = Path.join(dir, "journal.jsonl")
        const first = yield* BatchJournal.makeFile(file)
        const entries: ReadonlyArray<BatchJournal.Entry> = [
          { _tag: "Planned", plan: 1, attempt: 1, customIds: ["a", "b"], at: 1000 },
          { _tag: "Created", plan: 1, batchId: "msgbatch_1", at: 1001 },
          { _tag: "Resolved", plan: 1, outcome: outcome("a") }
        ]
        yield* first.append(entries)
        // A crash in the middle of the next write leaves half a line.
        Fs.appendFileSync(file, "{\"_tag\":\"Resolved\",\"plan\":1,\"outc")
        const second = yield* BatchJournal.makeFile(file)
        const read = yield* second.read
        assert.deepStrictEqual(read.map((e) => e._tag), ["Planned", "Created", "Resolved"])
        const resolved = read[2]
        assert.isTrue(resolved?._tag === "Resolved" && resolved.outcome._tag === "Succeeded")
        assert.deepStrictEqual(read.slice(0, 2), entries.slice(0, 2))
        yield* second.append([{ _tag: "Done", plan: 1, batchId: "msgbatch_1" }])
        const third = yield* BatchJournal.makeFile(file)
        assert.deepStrictEqual((yield* third.read).map((e) => e._tag), ["Planned", "Created", "Resolved", "Done"])
        assert.strictEqual(lines(file).length, 5, "the torn line stays, on a line of its own")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.scoped("a line that is JSON but no entry fails the read; a missing file is an empty journal", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        assert.deepStrictEqual(yield* (yield* BatchJournal.makeFile(Path.join(dir, "none.jsonl"))).read, [])
        const file = Path.join(dir, "bad.jsonl")
        Fs.writeFileSync(file, "{\"_tag\":\"Planned\",\"plan\":\"one\"}\n")
        const error = yield* Effect.flip((yield* BatchJournal.makeFile(file)).read)
        assert.strictEqual(error._tag, "BatchJournalError")
        assert.include(error.message, "line 1")
      }).pipe(Effect.provide(NodeFileSystem.layer)))

    it.scopedLive("SIGKILL after the first batch is created, then a restart: every custom_id once, each request sent once", () =>
      Effect.gen(function*() {
        const { url } = yield* Server.start()
        const dir = yield* tempDir
        const journal = Path.join(dir, "journal.jsonl")
        const out1 = Path.join(dir, "out1.jsonl")
        const out2 = Path.join(dir, "out2.jsonl")
        const count = 60
        const args = (out: string) => [url, journal, out, String(count), "20"]

        const first = yield* start(args(out1))
        const created = yield* waitFor(() => lines(journal).some((l) => l.includes("\"_tag\":\"Created\"")), 90_000)
        assert.isTrue(created, `the first run created a batch (stderr: ${first.stderr()})`)
        first.process.kill("SIGKILL")
        const killed = yield* Effect.promise(() => first.exited)
        assert.strictEqual(killed.signal, "SIGKILL")
        const beforeRestart = lines(out1).length
        assert.isBelow(beforeRestart, count, "killed mid-run")
        const journalAtKill = lines(journal).length

        const second = yield* start(args(out2))
        const exit = yield* Effect.promise(() => second.exited)
        assert.deepStrictEqual(exit, { code: 0, signal: null }, second.stderr())

        const outcomes = lines(out2).map((l) => JSON.parse(l) as { customId: string; tag: string; attempt: number })
        const ids = outcomes.map((o) => o.customId)
        assert.strictEqual(new Set(ids).size, ids.length, "no custom_id twice")
        assert.deepStrictEqual(new Set(ids), new Set(Array.from({ length: count }, (_, i) => `job-${i}`)))
        assert.isTrue(outcomes.every((o) => o.tag === "Succeeded" && o.attempt === 1))

        const batches = yield* Simulator.batches
        const sent = batches.flatMap((b) => b.customIds)
        assert.strictEqual(sent.length, count, "each request sent once")
        assert.strictEqual(new Set(sent).size, count)
        assert.deepStrictEqual(batches.map((b) => b.customIds.length), [20, 20, 20])
        assert.isAbove(lines(journal).length, journalAtKill, "the restart went on from the journal")
        // Three batches created in all (a create cut off mid-body by the kill would show as a refused call).
        const creates = (yield* Simulator.calls).filter((c) => c.method === "POST" && c.path === "/v1/messages/batches")
        assert.strictEqual(creates.filter((c) => Option.getOrNull(c.status) === 200).length, 3)
      }).pipe(Effect.provide(Simulator.layer({ batches: { processingTime: "600 millis" } }))), 180_000)
  })
