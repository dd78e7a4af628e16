/**
 * Policies: `Presets.interactive` through `ResilientClient.layer`, against the loopback simulator,
 * where every call to Opus is overloaded.
 *
 * The first call retries Opus twice, then falls back to Sonnet; after five overloads Opus's circuit
 * opens, so the next calls go straight to Sonnet without sending Opus anything. The policy's typed
 * events are printed as they happen, and each answer says which model served it and why.
 *
 *   pnpm --filter @ballast/examples fallback
 */
import { AnthropicClient, Presets, ResilientClient } from "@ballast/anthropic"
import { Resilience } from "@ballast/core"
import { Fault, Server, Simulator } from "@ballast/testing"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"

const describe = (event: Resilience.Event): string =>
  Resilience.Event.$match(event, {
    AttemptFailed: (e) => `  ${e.key} attempt ${e.attempt} failed: ${(e.error as { _tag?: string })._tag ?? "error"}`,
    RetryScheduled: (e) => `  retry ${e.key} in ${Math.round(Duration.toMillis(e.delay))} ms (${e.reason})`,
    FellBack: (e) => `  fall back ${e.from} -> ${e.to} (${e.reason})`,
    Succeeded: (e) => `  served by ${e.key} after ${e.attempts} attempt(s)`,
    GaveUp: (e) => `  gave up on ${e.key} (${e.reason})`
  })

const program = Effect.gen(function*() {
  const server = yield* Server.start()
  yield* Console.log(`ballast policies: simulator on ${server.url}; every call to claude-opus-5-5 answers 529\n`)
  yield* Console.log(String(Presets.interactive) + "\n")

  const ClientLive = ResilientClient.layer(Presets.interactive).pipe(
    Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("sk-ant-demo-not-a-real-key"), baseURL: server.url }))
  )

  yield* Effect.gen(function*() {
    const client = yield* AnthropicClient.AnthropicClient
    const resilience = yield* Resilience.Resilience
    yield* resilience.events.pipe(Stream.runForEach((event) => Console.log(describe(event))), Effect.forkScoped)
    yield* Effect.yieldNow()

    for (let i = 1; i <= 3; i++) {
      yield* Console.log(`call ${i}: claude-opus-5-5`)
      const response = yield* client.messages.createWithResponse({
        model: "claude-opus-5-5",
        max_tokens: 128,
        messages: [{ role: "user", content: `Question ${i}` }]
      })
      const route = (response.route ?? []).map((step) => `${step.key} (${step.outcome}, ${step.attempts} sent)`)
      yield* Console.log(`  answer from ${response.value.model}; route: ${route.join(" -> ")}\n`)
    }
    const states = Option.isSome(resilience.breakers) ? yield* resilience.breakers.value.states : new Map()
    yield* Console.log(
      `circuits: ${[...states].map(([key, state]) => `${key} ${state._tag}`).join(", ")}`
    )
  }).pipe(Effect.provide(ClientLive))

  const calls = yield* Simulator.calls
  yield* Console.log(
    `the simulator saw ${calls.length} calls: ` +
      calls.map((c) => `${Option.getOrElse(c.model, () => "?").replace("claude-", "")}:${Option.getOrElse(c.status, () => 0)}`)
        .join(", ")
  )
})

program.pipe(
  Effect.scoped,
  Effect.provide(
    Simulator.layer({ script: [Fault.overloaded({ model: "claude-opus-5-5", times: "forever" })], latency: "20 millis" })
  ),
  NodeRuntime.runMain
)
