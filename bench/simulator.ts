/**
 * Throughput of the in-process transport under `TestClock`.
 *
 * Measured: `N` `messages.create` calls through the real official SDK (maxRetries 0) whose
 * `fetch` is the simulator's in-process transport; every call has 100 ms of simulated latency,
 * `CONCURRENCY` run at once, and the `TestClock` is advanced until all are done.
 *
 * Baseline, in the same run: the same SDK calls against a `fetch` stub that returns one canned
 * JSON response at once (no simulator, no clock) — the cost of the SDK itself. The ratio says
 * how much the simulator (script, capacity model, call log, clock) adds on top.
 */
import Anthropic from "@anthropic-ai/sdk"
import { InProcess, Simulator } from "@ballast/testing"
import { Effect, Fiber, TestClock, TestContext } from "effect"

const N = Number(process.env.BENCH_N ?? 20_000)
const CONCURRENCY = 500
const params = {
  model: "claude-sonnet-5-5",
  max_tokens: 64,
  messages: [{ role: "user" as const, content: "ping" }]
}

const cannedBody = JSON.stringify({
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: params.model,
  content: [{ type: "text", text: "pong" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 1 }
})

type Call = () => Promise<unknown>

const requestInit = {
  method: "POST",
  headers: { "content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01" },
  body: JSON.stringify(params)
}

/** How one request is made: through the real SDK, or straight through the `fetch` (the transport alone). */
const callsOf = (fetch: typeof globalThis.fetch, via: "sdk" | "fetch"): Call => {
  if (via === "fetch") return () => fetch("http://simulator.local/v1/messages", requestInit).then((r) => r.json())
  const client = new Anthropic({ apiKey: "bench", fetch, maxRetries: 0 })
  return () => client.messages.create(params)
}

const runCalls = (call: Call, n: number) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => Effect.promise(call), {
    concurrency: CONCURRENCY,
    discard: true
  })

/** Requests per wall-clock second over a stub `fetch` that answers one canned response at once. */
const baseline = async (n: number, via: "sdk" | "fetch"): Promise<number> => {
  const fetch: typeof globalThis.fetch = async () =>
    new Response(cannedBody, { status: 200, headers: { "content-type": "application/json", "request-id": "req_1" } })
  const call = callsOf(fetch, via)
  const start = performance.now()
  await Effect.runPromise(runCalls(call, n))
  return n / ((performance.now() - start) / 1000)
}

/** Requests per wall-clock second over the in-process simulator, under TestClock. */
const simulated = async (n: number, via: "sdk" | "fetch"): Promise<{ perSecond: number; simulatedMs: number; ok: number }> => {
  const program = Effect.gen(function*() {
    const call = callsOf(yield* InProcess.fetch, via)
    const start = performance.now()
    const fiber = yield* Effect.fork(runCalls(call, n))
    while ((yield* Fiber.poll(fiber))._tag === "None") {
      yield* TestClock.adjust("100 millis")
    }
    yield* Fiber.join(fiber)
    const wall = performance.now() - start
    const calls = yield* Simulator.calls
    return {
      perSecond: n / (wall / 1000),
      simulatedMs: yield* TestClock.currentTimeMillis,
      ok: calls.filter((c) => c.outcome === "ok").length
    }
  })
  return Effect.runPromise(
    program.pipe(
      Effect.provide(Simulator.layer({ latency: "100 millis" })),
      Effect.provide(TestContext.TestContext)
    )
  )
}

const measure = async (via: "sdk" | "fetch") => {
  // Warm up both paths (JIT), then measure.
  await baseline(2_000, via)
  await simulated(2_000, via)
  const base = await baseline(N, via)
  const sim = await simulated(N, via)
  if (sim.ok !== N) throw new Error(`expected ${N} successful calls, the simulator logged ${sim.ok}`)
  return {
    baselineRequestsPerSecond: Math.round(base),
    simulatedRequestsPerSecond: Math.round(sim.perSecond),
    ratioToBaseline: Number((sim.perSecond / base).toFixed(3)),
    simulatedMs: sim.simulatedMs
  }
}

/** Runs the benchmark and returns its figures. */
export const run = async () => ({
  requests: N,
  concurrency: CONCURRENCY,
  latencyMs: 100,
  transport: await measure("fetch"),
  sdk: await measure("sdk")
})
