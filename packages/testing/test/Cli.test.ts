import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect, Fiber, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cli from "../src/Cli.js"
import { settle } from "./utils.js"

const body = JSON.stringify({ model: "claude-opus-4-6", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })

describe("Cli", () => {
  it.live("ballast-simulator --port 0 --script faults.json --rpm 3 prints its URL and serves the script", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ballast-cli-"))
      const file = Path.join(dir, "faults.json")
      Fs.writeFileSync(file, JSON.stringify({ steps: [{ _tag: "Status", status: 529, times: 2 }] }))
      const lines: Array<string> = []
      const console = yield* Effect.console
      const capture: Console.Console = { ...console, log: (...args) => Effect.sync(() => void lines.push(args.join(" "))) }
      const fiber = yield* Cli.run(["node", "ballast-simulator", "--port", "0", "--script", file, "--rpm", "3", "--latency", "1 millis"]).pipe(
        Effect.withConsole(capture),
        Effect.provide(NodeContext.layer),
        Effect.fork
      )
      let url: string | undefined
      for (let i = 0; i < 200 && url === undefined; i++) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join("\n"))?.[1]
        if (url === undefined) yield* settle(10)
      }
      assert.isDefined(url)
      const statuses: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const response = yield* Effect.promise(() =>
          fetch(`${url}/v1/messages`, { method: "POST", headers: { "x-api-key": "k" }, body })
        )
        statuses.push(response.status)
      }
      assert.deepStrictEqual(statuses, [529, 529, 200, 200, 200])
      const limited = yield* Effect.promise(() => fetch(`${url}/v1/messages`, { method: "POST", headers: { "x-api-key": "k" }, body }))
      assert.strictEqual(limited.status, 429)
      assert.isNotNull(limited.headers.get("retry-after"))
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("bad options fail with a CliError", () =>
    Effect.gen(function*() {
      const config: Cli.Config = {
        port: 0,
        host: "127.0.0.1",
        script: Option.some("/nonexistent/faults.json"),
        concurrency: Option.none(),
        rpm: Option.none(),
        tpm: Option.none(),
        latency: Option.none(),
        streamInterval: Option.none()
      }
      const missing = yield* Effect.flip(Cli.simulatorOptions(config))
      assert.match(missing.message, /--script: cannot read/)
      const badLatency = yield* Effect.flip(Cli.simulatorOptions({ ...config, script: Option.none(), latency: Option.some("soon") }))
      assert.strictEqual(badLatency.message, "--latency: not a duration: soon")
      const ok = yield* Cli.simulatorOptions({ ...config, script: Option.none(), latency: Option.some("250"), rpm: Option.some(5) })
      assert.deepStrictEqual([ok.latency, ok.capacity?.requestsPerMinute], [250, 5])
    }).pipe(Effect.provide(NodeContext.layer)))
})
