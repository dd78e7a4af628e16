/**
 * The child process of the crash suite (run with tsx): submits `count` requests through
 * `BatchSubmitter` to the loopback simulator at `url`, with its journal in the file `journal`, and
 * appends every outcome to `out` as one JSON line `{ customId, tag, attempt }`.
 *
 *   tsx batchCrashChild.ts <url> <journal> <out> <count> <perBatch>
 */
// Single modules rather than the packages' barrels: this process starts twice per test run.
import * as AnthropicClient from "@ballast/anthropic/AnthropicClient"
import * as BatchJournal from "@ballast/anthropic/BatchJournal"
import * as BatchSubmitter from "@ballast/anthropic/BatchSubmitter"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"

const [url, journal, out, count, perBatch] = process.argv.slice(2)

const requests = Array.from({ length: Number(count) }, (_, i): BatchSubmitter.Request => ({
  custom_id: `job-${i}`,
  params: { model: "claude-opus-4-6", max_tokens: 32, messages: [{ role: "user", content: `question ${i}` }] }
}))

const program = BatchSubmitter.submit(requests).pipe(
  Stream.runForEach((outcome) =>
    Effect.sync(() =>
      Fs.appendFileSync(out!, JSON.stringify({ customId: outcome.customId, tag: outcome._tag, attempt: outcome.attempt }) + "\n")
    )
  ),
  Effect.provide(
    BatchSubmitter.layer({
      maxRequestsPerBatch: Number(perBatch),
      pollInitial: "30 millis",
      pollFactor: 1.5,
      pollMax: "150 millis"
    }).pipe(
      Layer.provide(BatchJournal.layerFile(journal!)),
      Layer.provide(NodeFileSystem.layer),
      Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("sk-crash-test"), baseURL: url! }))
    )
  )
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`batch child failed: ${String(error)}\n`)
    process.exit(1)
  }
)
