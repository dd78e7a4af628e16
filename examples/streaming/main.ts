/**
 * Streaming through failures: `StreamRecovery.stream` prints a long answer as it arrives while the
 * embedded loopback simulator breaks the stream in the middle — an `overloaded_error` event inside
 * the 200 stream, a cut connection, a stall — and shows how each strategy recovers.
 *
 * The real official SDK (with its own retries off) talks HTTP to the simulator on 127.0.0.1. No API
 * key and no network are needed.
 *
 *   pnpm --filter @ballast/examples streaming
 */
import { AnthropicClient, StreamRecovery } from "@ballast/anthropic"
import { Fault, Server, Simulator } from "@ballast/testing"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Duration, Effect, Exit, Option, Redacted, Stream } from "effect"

const ANSWER = "Ballast is weight carried low in a ship to keep it upright. Sailing ships used stone, " +
  "sand or iron; modern ships pump sea water in and out of tanks as cargo is loaded and unloaded, so " +
  "the hull sits at the right depth and the vessel stays stable in heavy weather."

const params = {
  model: "claude-sonnet-5-5",
  max_tokens: 1024,
  messages: [{ role: "user" as const, content: "What is ballast, in three sentences?" }]
}

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

const describe = (error: StreamRecovery.AttemptError): string =>
  error._tag === "StreamStalled"
    ? `stalled (no ${error.reason === "idle" ? "event" : "content"} for ${Duration.format(error.timeout)})`
    : "errorType" in error
    ? `${error._tag} (${error.errorType})`
    : error._tag

/** Prints the events as they arrive: text as it comes, the markers as notes. */
const show = (event: StreamRecovery.Event): Effect.Effect<void> => {
  switch (event.type) {
    case "continued":
      return write(
        `\x1b[33m ⚡ ${describe(event.error)} → continue: ${event.prefill.length} chars sent back as prefill\x1b[0m `
      )
    case "restarted":
      return write(`\x1b[33m ⚡ ${describe(event.error)} → restart: discard the above\x1b[0m\n  `)
    case "summary": {
      const { attempts, recoveries, text, usage } = event
      return Console.log(
        `\n  \x1b[2m${attempts.length} attempts (${attempts.map((a) => a.mode).join(", ")}), ` +
          `${recoveries} recovered; usage over all attempts: ${usage.input_tokens} in, ${usage.output_tokens} out; ` +
          `the answer exactly once: ${text === ANSWER}\x1b[0m\n`
      )
    }
    default:
      return write(StreamRecovery.textOf(event))
  }
}

const scenario = (
  title: string,
  script: ReadonlyArray<Fault.Fault>,
  options: StreamRecovery.Options
) =>
  Effect.gen(function*() {
    yield* Simulator.setScript(script)
    yield* Console.log(`\x1b[1m${title}\x1b[0m`)
    yield* write("  ")
    const exit = yield* StreamRecovery.stream(params, {
      idleTimeout: "1 second",
      runner: StreamRecovery.retryRunner({
        base: "200 millis",
        maxRetries: 5,
        onRetry: (step) =>
          write(`\x1b[33m [before content: ${describe(step.error)}, retry in ${Math.round(Duration.toMillis(step.delay))} ms]\x1b[0m `)
      }),
      ...options
    }).pipe(Stream.runForEach(show), Effect.exit)
    if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && StreamRecovery.isMidStreamFailure(failure.value)) {
        const { error, partial, usage } = failure.value as StreamRecovery.MidStreamFailure
        const chars = Option.match(partial, {
          onNone: () => 0,
          onSome: (m) => m.content.reduce((n, b) => n + (b.type === "text" ? b.text.length : 0), 0)
        })
        yield* Console.log(
          `\x1b[31m ✗ ${describe(error)}\x1b[0m\n  \x1b[2mMidStreamFailure: ${chars} chars kept in .partial, ` +
            `${usage.input_tokens} in / ${usage.output_tokens} out\x1b[0m\n`
        )
      } else {
        yield* Console.log(`\n  failed: ${Cause.pretty(exit.cause)}\n`)
      }
    }
  })

const program = Effect.gen(function*() {
  const server = yield* Server.start()
  yield* Console.log(`ballast streaming: simulator listening on ${server.url}\n`)
  const client = yield* AnthropicClient.make({ apiKey: Redacted.make("sk-ant-demo-not-a-real-key"), baseURL: server.url })

  yield* Effect.provideService(
    Effect.gen(function*() {
      yield* scenario(
        "continue — overloaded_error after 12 words, then a 529 on the continuation",
        [Fault.streamError({ afterDeltas: 12 }), Fault.overloaded()],
        { strategy: "continue" }
      )
      yield* scenario("restart — the connection drops after 9 words", [Fault.streamDrop({ afterDeltas: 9 })], {
        strategy: "restart"
      })
      yield* scenario("fail — the stream stalls after 7 words", [Fault.streamStall({ afterDeltas: 7 })], {
        strategy: "fail"
      })
    }),
    AnthropicClient.AnthropicClient,
    client
  )
})

program.pipe(
  Effect.scoped,
  Effect.provide(Simulator.layer({ reply: () => ANSWER, streamInterval: "25 millis", latency: "50 millis" })),
  NodeRuntime.runMain
)
