/**
 * Quick start: one `messages.create` through a ballast retry policy, against the embedded
 * loopback simulator, whose script overloads the first calls and then rate-limits one.
 *
 * The real official SDK (with its own retries off) talks HTTP to the simulator on 127.0.0.1;
 * ballast's `Retry` schedule decides every retry. No API key and no network are needed.
 *
 *   pnpm demo
 */
import { AnthropicClient, AnthropicError } from "@ballast/anthropic"
import { Retry } from "@ballast/core"
import { Fault, Server, Simulator } from "@ballast/testing"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Duration, Effect, Option, Redacted } from "effect"

/** The simulator's script: calls 1–2 answer 529, call 3 answers 429 with `retry-after: 1`, then success. */
const script = [
  Fault.overloaded({ times: 2 }),
  Fault.rateLimited({ retryAfter: "1 second" })
]

const describeFailure = (error: AnthropicError.AnthropicError): string =>
  [
    `status ${Option.getOrElse(error.status, () => "-")}`,
    `${error._tag} (${error.errorType})`,
    `request ${Option.getOrElse(error.requestId, () => "-")}`
  ].join(", ")

const program = Effect.gen(function*() {
  const server = yield* Server.start()
  yield* Console.log(`ballast quickstart: simulator listening on ${server.url}`)
  yield* Console.log(`script: 529, 529, 429 (retry-after 1 s), then 200\n`)

  const client = yield* AnthropicClient.make({
    apiKey: Redacted.make("sk-ant-demo-not-a-real-key"),
    baseURL: server.url
  })

  let attempt = 0
  const call = Effect.suspend(() => {
    attempt += 1
    return client.messages.createWithResponse({
      model: "claude-sonnet-5-5",
      max_tokens: 256,
      messages: [{ role: "user", content: "Say hello from behind a retry policy." }]
    })
  })

  const response = yield* call.pipe(
    Retry.retry({
      base: "200 millis",
      cap: "2 seconds",
      jitter: "full",
      maxRetries: 5,
      deadline: "30 seconds",
      onRetry: (step) =>
        Console.log(
          `attempt ${step.attempt}: ${describeFailure(step.error)} -> ` +
            `retry in ${Math.round(Duration.toMillis(step.delay))} ms (${step.reason})`
        ),
      onGiveUp: (giveUp) =>
        Console.log(`attempt ${giveUp.attempt}: ${describeFailure(giveUp.error)} -> giving up (${giveUp.reason})`)
    })
  )

  const text = response.value.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("")
  yield* Console.log(
    `attempt ${attempt}: status 200, request ${Option.getOrElse(response.requestId, () => "-")}\n\n` +
      `answer (${response.value.model}, ${response.value.usage.output_tokens} output tokens):\n  ${text}`
  )

  const calls = yield* Simulator.calls
  yield* Console.log(`\nthe simulator saw ${calls.length} calls: ${calls.map((c) => Option.getOrElse(c.status, () => 0)).join(", ")}`)
})

program.pipe(
  Effect.scoped,
  Effect.provide(Simulator.layer({ script, latency: "20 millis" })),
  NodeRuntime.runMain
)
