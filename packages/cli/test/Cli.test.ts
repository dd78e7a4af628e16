/**
 * The `ballast` command tree: the simulator subcommand serves the API over loopback (real HTTP, real
 * time, port 0); help and argument errors come from @effect/cli.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect, Exit, Fiber } from "effect"
import * as Cli from "../src/Cli.js"

const capture = Effect.map(Effect.console, (console) => {
  const lines: Array<string> = []
  const push = (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(args.join(" ")))
  const captured: Console.Console = { ...console, log: push, error: push }
  return { lines, captured }
})

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

describe("ballast", () => {
  it.live("ballast simulator --port 0 --rpm 2 serves the simulator on 127.0.0.1 until interrupted", () =>
    Effect.gen(function*() {
      const { lines, captured } = yield* capture
      const fiber = yield* Cli.run(["node", "ballast", "simulator", "--port", "0", "--rpm", "2"]).pipe(
        Effect.withConsole(captured),
        Effect.provide(NodeContext.layer),
        Effect.fork
      )
      let url: string | undefined
      for (let i = 0; i < 500 && url === undefined; i++) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(lines.join("\n"))?.[1]
        if (url === undefined) yield* realSleep(10)
      }
      assert.isDefined(url, lines.join("\n"))
      const body = JSON.stringify({ model: "claude-opus-4-6", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) {
        const response = yield* Effect.promise(() =>
          fetch(`${url}/v1/messages`, { method: "POST", headers: { "x-api-key": "k" }, body })
        )
        statuses.push(response.status)
      }
      assert.deepStrictEqual(statuses, [200, 200, 429])
      yield* Fiber.interrupt(fiber)
    }), { timeout: 60_000 })

  it.effect("--help lists the commands; a missing --out is refused before anything runs", () =>
    Effect.gen(function*() {
      const { lines, captured } = yield* capture
      yield* Cli.run(["node", "ballast", "batch", "--help"]).pipe(Effect.withConsole(captured), Effect.provide(NodeContext.layer))
      const help = lines.join("\n")
      for (const command of ["submit", "status", "results"]) assert.include(help, command)
      lines.length = 0
      const exit = yield* Cli.run(["node", "ballast", "batch", "results", "msgbatch_1"]).pipe(
        Effect.withConsole(captured),
        Effect.provide(NodeContext.layer),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(lines.join("\n"), "--out")
    }))
})
