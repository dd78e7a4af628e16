/**
 * Throughput of the in-process transport under `TestClock`.
 *
 * Measured: `N` requests, `CONCURRENCY` at a time (plain promise workers, so the driver adds no
 * fibers of its own), each answered by the simulator after 100 ms of simulated latency, while an
 * Effect loop advances the `TestClock` until all are done. Two paths:
 * - transport: the in-process `fetch` called directly, body read with `json()`;
 * - sdk: the real official SDK (`maxRetries: 0`) `messages.create` over that `fetch`.
 *
 * Baseline, in the same run and process: the same path over a stub `fetch` that answers one
 * canned JSON `Response` at once (no simulator, no clock). The ratio shows what the simulator
 * and the simulated clock add on top of the cheapest possible `fetch`.
 */
import Anthropic from "@anthropic-ai/sdk"
import { InProcess, Simulator } from "@ballast/testing"
import { Effect, TestClock, TestContext } from "effect"

const N = Number(process.env.BENCH_N ?? 20_000)
const CONCURRENCY = Number(process.env.BENCH_C ?? 500)
const LATENCY_MS = 100

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

const requestInit = {
  method: "POST",
  headers: new Headers({ "content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01" }),
  body: JSON.stringify(params)
}

type Path = "transport" | "sdk"
type Call = () => Promise<unknown>

/** How one request is made: straight through the `fetch` (the transport alone), or through the real SDK. */
const callOf = (fetch: typeof globalThis.fetch, path: Path): Call => {
  if (path === "transport") return () => fetch("http://simulator.local/v1/messages", requestInit).then((r) => r.json())
  const client = new Anthropic({ apiKey: "bench", fetch, maxRetries: 0 })
  return () => client.messages.create(params)
}

/** Runs `n` calls, `CONCURRENCY` at a time; resolves with how many succeeded. */
const pool = async (call: Call, n: number): Promise<number> => {
  let next = 0
  let ok = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < n) {
      await call()
      ok++
    }
  }))
  return ok
}

/** Requests per wall-clock second over a stub `fetch` answering a canned response at once. */
const baseline = async (n: number, path: Path): Promise<number> => {
  const fetch: typeof globalThis.fetch = async () =>
    new Response(cannedBody, { status: 200, headers: { "content-type": "application/json", "request-id": "req_1" } })
  const call = callOf(fetch, path)
  const start = performance.now()
  const ok = await pool(call, n)
  if (ok !== n) throw new Error(`baseline: ${ok} of ${n} calls succeeded`)
  return n / ((performance.now() - start) / 1000)
}

/** Requests per wall-clock second over the in-process simulator, under TestClock. */
const simulated = (n: number, path: Path): Promise<{ perSecond: number; simulatedMs: number }> =>
  Effect.gen(function*() {
    const call = callOf(yield* InProcess.fetch, path)
    const start = performance.now()
    const outcome: { result?: number | Error } = {}
    pool(call, n).then((ok) => (outcome.result = ok), (e) => (outcome.result = e))
    while (outcome.result === undefined) yield* TestClock.adjust(LATENCY_MS)
    const wall = performance.now() - start
    const result = outcome.result
    if (result instanceof Error) return yield* Effect.die(result)
    const calls = yield* Simulator.calls
    const answered = calls.filter((c) => c.outcome === "ok").length
    if (result !== n || answered !== n) {
      return yield* Effect.dieMessage(`simulated: ${result} of ${n} calls succeeded, simulator answered ${answered}`)
    }
    return { perSecond: n / (wall / 1000), simulatedMs: yield* TestClock.currentTimeMillis }
  }).pipe(
    Effect.provide(Simulator.layer({ latency: LATENCY_MS })),
    Effect.provide(TestContext.TestContext),
    Effect.runPromise
  )

const measure = async (path: Path) => {
  // Warm up both sides (JIT), then measure.
  await baseline(2_000, path)
  await simulated(2_000, path)
  const base = await baseline(N, path)
  const sim = await simulated(N, path)
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
  latencyMs: LATENCY_MS,
  transport: await measure("transport"),
  sdk: await measure("sdk")
})
