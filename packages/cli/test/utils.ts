/**
 * Running `ballast` in process against the in-process simulator under TestClock: real files in a
 * temporary directory, the simulator's `fetch`, captured console and progress.
 */
import { InProcess, type Simulator } from "@ballast/testing"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type { Console } from "effect"
import { Chunk, ConfigProvider, Effect, type Exit, Fiber, Layer, Option, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BatchCommand from "../src/BatchCommand.js"
import * as Cli from "../src/Cli.js"
import * as Progress from "../src/Progress.js"

/** A distinctive key: any output that contains it leaks it. */
export const API_KEY = "sk-ant-api03-BALLASTcliSECRET-9d2e4f"

export const MODEL = "claude-opus-4-6"

export const request = (customId: string, content = customId) => ({
  custom_id: customId,
  params: { model: MODEL, max_tokens: 64, messages: [{ role: "user" as const, content }] }
})

export const requestsJsonl = (n: number, prefix = "r"): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify(request(`${prefix}-${i}`))).join("\n") + "\n"

/** A fresh temporary directory; `file(name)` is a path in it. */
export const tempDir = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ballast-cli-"))
  return {
    dir,
    file: (name: string) => Path.join(dir, name),
    write: (name: string, text: string) => {
      Fs.writeFileSync(Path.join(dir, name), text)
      return Path.join(dir, name)
    },
    remove: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The JSON lines of a file. */
export const jsonLines = (path: string): Array<Record<string, any>> =>
  Fs.readFileSync(path, "utf8").split("\n").filter((l) => l !== "").flatMap((l) => {
    try {
      return [JSON.parse(l)]
    } catch {
      return [] // a line being written
    }
  })

/**
 * Real I/O in flight (file operations, `fetch` calls): the driver below moves the TestClock only
 * when there is none, so simulated time does not run ahead of a journal write or an API call.
 */
const io = { pending: 0 }

const counted = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    io.pending++
    return Effect.ensuring(effect, Effect.sync(() => void io.pending--))
  })

/** Wraps every Effect (property or method result) of a file system, and of the files it opens, to count it in `io`. */
const countingProxy = <T extends object>(target: T): T =>
  new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver)
      if (Effect.isEffect(value)) return counted(value) // e.g. a file's `sync` (the fsync)
      if (typeof value !== "function") return value
      return (...args: Array<unknown>) => {
        const result = value.apply(t, args)
        if (!Effect.isEffect(result)) return result
        return Effect.map(
          counted(result),
          (a) => (a !== null && typeof a === "object" && "fd" in a ? countingProxy(a) : a)
        )
      }
    }
  })

const countingFileSystem = Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, countingProxy)).pipe(
  Layer.provide(NodeFileSystem.layer)
)

const countingFetch = (fetch: typeof globalThis.fetch): typeof globalThis.fetch => (input, init) => {
  io.pending++
  return fetch(input, init).finally(() => void io.pending--)
}

/**
 * One turn of the event loop, timers included: Effect's scheduler yields with `setTimeout(0)` after
 * long synchronous runs, and a timer set now fires after those.
 */
const turn = Effect.promise(() => new Promise<void>((resolve) => setTimeout(() => setImmediate(resolve), 1)))

export interface Run {
  readonly exit: Exit.Exit<void, unknown>
  readonly stdout: Array<string>
  readonly stderr: Array<string>
  readonly progress: ReadonlyArray<{ readonly line: string; readonly significant: boolean; readonly end: boolean }>
}

/**
 * Runs `ballast <args>` to its end (or, with `until`, until that holds, then interrupts it, as
 * Ctrl-C does): whenever it waits on the clock, moves the TestClock to the next wake-up; while it
 * waits on anything else (files, the SDK's promises), lets real time pass a little.
 */
export const ballast = (
  args: ReadonlyArray<string>,
  options?: {
    readonly key?: boolean | undefined
    readonly until?: Effect.Effect<boolean, never, Simulator.Simulator> | undefined
  }
): Effect.Effect<Run, string, Simulator.Simulator> =>
  Effect.gen(function*() {
    const fetch = yield* InProcess.fetch
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const console = yield* Effect.console
    const capture: Console.Console = {
      ...console,
      log: (...a) => Effect.sync(() => void stdout.push(a.join(" "))),
      error: (...a) => Effect.sync(() => void stderr.push(a.join(" ")))
    }
    const progress = Progress.memoryOutput()
    const env = new Map<string, string>(options?.key === false ? [] : [["ANTHROPIC_API_KEY", API_KEY]])
    const fiber = yield* Cli.run(["node", "ballast", ...args]).pipe(
      Effect.withConsole(capture),
      Effect.provideService(Progress.ProgressOutput, progress),
      Effect.provideService(BatchCommand.Fetch, countingFetch(fetch)),
      Effect.withConfigProvider(ConfigProvider.fromMap(env)),
      Effect.provide(countingFileSystem),
      Effect.provide(NodeContext.layer),
      Effect.fork
    )
    for (let step = 0; step < 200_000; step++) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return { exit: exit.value, stdout, stderr, progress: progress.lines }
      if (options?.until !== undefined && (yield* options.until)) {
        const exit = yield* Fiber.interrupt(fiber)
        return { exit, stdout, stderr, progress: progress.lines }
      }
      // Move the clock only once nothing else can happen: no I/O in flight across a few loop turns.
      let quiet = 0
      let stop = false
      while (quiet < 3 && !stop) {
        yield* turn
        quiet = io.pending === 0 ? quiet + 1 : 0
        stop = options?.until !== undefined && (yield* options.until)
      }
      if (stop || Option.isSome(yield* Fiber.poll(fiber))) continue
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.length > 0) yield* TestClock.setTime(Math.min(...sleeps))
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.fail(`ballast ${args.join(" ")}: not done`)
  })

/** Everything a run printed, for leak checks. */
export const printed = (run: Run): string =>
  [...run.stdout, ...run.stderr, ...run.progress.map((p) => p.line)].join("\n")
