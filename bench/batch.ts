/**
 * Deferrable calls: what a background workload costs, and how much later its answers come, sent as
 * interactive calls or gathered into Message Batches — in simulated time.
 *
 * Workload: `N` (2,000) `messages.create` calls to `claude-sonnet-4-6`, arriving evenly over
 * 10 minutes (one every 300 ms), each a ~1,600-character prompt. The same calls, the same code, two
 * layers:
 * - interactive: `ResilientClient.layer(Presets.background)` → `POST /v1/messages`; the simulator
 *   answers each after 2 s;
 * - deferred: `DeferredClient.layer(Presets.batch)` → windows of up to 10,000 calls or 30 s, one
 *   batch each; the simulator ends a batch `turnaround` after its creation (two assumptions: 1 min,
 *   the simulator's default, and 1 h — "most batches finish in less than 1 hour").
 *
 * Cost: the token usage the simulator reports on every message (input and output tokens: characters
 * / 4), priced at a Sonnet-class list price — $3 per million input tokens, $15 per million output
 * tokens, as published for Claude Sonnet 4.5 (`PRICE`; set your model's) — and, for batches, the Message Batches API's 50 % of those prices. Failed
 * requests are not billed (there are none here). Latency: time from a call to its result, on the
 * simulated clock (`simClock.ts`), so it does not depend on the machine.
 *
 * `tsx bench/batch.ts` prints the table and merges its figures into `bench-results.json` under
 * `batch`; `pnpm bench` does the same as one of its sections (`BENCH_ONLY=batch`).
 */
import { AnthropicClient, DeferredClient, Presets, ResilientClient } from "@ballast/anthropic"
import { InProcess, Simulator } from "@ballast/testing"
import { Context, Deferred, Duration, Effect, Exit, FiberId, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Sim from "./simClock.js"

export const N = Number(process.env.BENCH_BATCH_N ?? 2_000)
export const ARRIVALS_MS = 10 * 60_000
export const LATENCY_MS = 2_000
export const MODEL = "claude-sonnet-4-6"
/**
 * USD per million tokens: a Sonnet-class list price ($3 input, $15 output: the published price of
 * Claude Sonnet 4.5; set yours here); batches pay `batchShare` of it.
 */
export const PRICE = { inputPerMTok: 3, outputPerMTok: 15, batchShare: 0.5 } as const
export const TURNAROUNDS_MS: ReadonlyArray<number> = [60_000, 3_600_000]

const prompt = (i: number) =>
  `Summarise document ${i} in three sentences. ` + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(28)

export interface Run {
  readonly mode: "interactive" | "deferred"
  /** Deferred only: how long the simulator takes to end a batch. */
  readonly turnaroundMs: number | null
  readonly requests: number
  readonly succeeded: number
  /** HTTP requests that reached the API (messages, batch creates, polls, result downloads). */
  readonly httpCalls: number
  readonly batches: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** Runs the workload once, through one layer, on a fresh simulator and clock. */
export const runOnce = async (mode: Run["mode"], turnaroundMs = 60_000): Promise<Run> => {
  const clock = new Sim.SimClock(0)
  const latencies: Array<number> = []
  let succeeded = 0
  let failed = 0
  let inputTokens = 0
  let outputTokens = 0
  let httpCalls = 0
  let batches = 0
  const stop = Deferred.unsafeMake<void>(FiberId.none)

  const program = Effect.gen(function*() {
    const sim = yield* Simulator.make({
      latency: LATENCY_MS,
      batches: { processingTime: Duration.millis(turnaroundMs) },
      maxCalls: 1
    })
    const inner = yield* InProcess.makeFetch().pipe(Effect.provideService(Simulator.Simulator, sim))
    const fetch: typeof globalThis.fetch = (input, init) => {
      httpCalls++
      if (init?.method === "POST" && String(input).endsWith("/v1/messages/batches")) batches++
      return inner(input, init)
    }
    const base = AnthropicClient.layer({ apiKey: Redacted.make("sk-bench"), fetch })
    const layer: Layer.Layer<AnthropicClient.AnthropicClient> = mode === "interactive"
      ? ResilientClient.layer(Presets.background).pipe(Layer.provide(base))
      : DeferredClient.layer(Presets.batch).pipe(Layer.provide(base))
    const client = Context.get(yield* Layer.build(layer), AnthropicClient.AnthropicClient)

    const call = (i: number) =>
      Effect.gen(function*() {
        const start = clock.unsafeCurrentTimeMillis()
        const exit = yield* Effect.exit(client.messages.create({
          model: MODEL,
          max_tokens: 1024,
          messages: [{ role: "user", content: prompt(i) }]
        }))
        latencies.push(clock.unsafeCurrentTimeMillis() - start)
        if (Exit.isSuccess(exit)) {
          succeeded++
          inputTokens += exit.value.usage.input_tokens
          outputTokens += exit.value.usage.output_tokens
        } else failed++
      })

    yield* Effect.forkDaemon(Effect.forEach(
      Array.from({ length: N }, (_, i) => i),
      (i) =>
        Effect.zipRight(
          Effect.sleep(Math.max(0, Math.round((i * ARRIVALS_MS) / N) - clock.unsafeCurrentTimeMillis())),
          Effect.forkDaemon(call(i))
        ),
      { discard: true }
    ))
    yield* Deferred.await(stop)
  }).pipe(Effect.scoped)

  const done = Effect.runPromise(Sim.provide(program, clock))
  const outcome = await clock.run(() => succeeded + failed === N)
  Deferred.unsafeDone(stop, Exit.void)
  await clock.run(() => true)
  await done
  if (outcome !== "done") throw new Error(`batch bench (${mode}): stalled at ${clock.unsafeCurrentTimeMillis()} ms`)
  if (failed > 0) throw new Error(`batch bench (${mode}): ${failed} calls failed`)

  const share = mode === "deferred" ? PRICE.batchShare : 1
  const costUsd = share * (inputTokens * PRICE.inputPerMTok + outputTokens * PRICE.outputPerMTok) / 1_000_000
  latencies.sort((a, b) => a - b)
  return {
    mode,
    turnaroundMs: mode === "deferred" ? turnaroundMs : null,
    requests: N,
    succeeded,
    httpCalls,
    batches,
    inputTokens,
    outputTokens,
    costUsd: Math.round(costUsd * 10_000) / 10_000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? 0
  }
}

export interface Figures {
  readonly requests: number
  readonly arrivalsMs: number
  readonly latencyMs: number
  readonly model: string
  readonly price: typeof PRICE
  readonly interactive: Run
  readonly deferred: ReadonlyArray<Run>
  /** Cost of the deferred runs over the interactive one (the same for every turnaround). */
  readonly costRatio: number
}

export const run = async (): Promise<Figures> => {
  const interactive = await runOnce("interactive")
  const deferred: Array<Run> = []
  for (const turnaround of TURNAROUNDS_MS) deferred.push(await runOnce("deferred", turnaround))
  return {
    requests: N,
    arrivalsMs: ARRIVALS_MS,
    latencyMs: LATENCY_MS,
    model: MODEL,
    price: PRICE,
    interactive,
    deferred,
    costRatio: Math.round((deferred[0]!.costUsd / interactive.costUsd) * 1000) / 1000
  }
}

const seconds = (ms: number) => (ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`)

/** The figures as a markdown table with the ratios. */
export const table = (f: Figures): string => {
  const i = f.interactive
  const row = (name: string, r: Run) =>
    `| ${name} | ${r.requests} | ${r.httpCalls} | ${r.batches} | ${r.inputTokens} | ${r.outputTokens} | $${r.costUsd.toFixed(4)} | ${
      seconds(r.p50Ms)
    } | ${seconds(r.p99Ms)} |`
  return [
    "| layer | requests | HTTP calls | batches | input tokens | output tokens | cost | p50 time to result | p99 time to result |",
    "|---|---|---|---|---|---|---|---|---|",
    row("interactive: `ResilientClient.layer(Presets.background)`", i),
    ...f.deferred.map((d) =>
      row(`deferred: \`DeferredClient.layer(Presets.batch)\`, batch ends after ${seconds(d.turnaroundMs!)}`, d)
    ),
    ...f.deferred.map((d) =>
      `| ratio deferred (${seconds(d.turnaroundMs!)}) / interactive | | ${(d.httpCalls / i.httpCalls).toFixed(3)} | | | | ${
        (d.costUsd / i.costUsd).toFixed(3)
      } | ${(d.p50Ms / i.p50Ms).toFixed(1)}× (+${seconds(d.p50Ms - i.p50Ms)}) | ${(d.p99Ms / i.p99Ms).toFixed(1)}× (+${
        seconds(d.p99Ms - i.p99Ms)
      }) |`
    )
  ].join("\n")
}

/** What the figures assume, in a sentence or two. */
export const describe = (f: Figures): string =>
  `${f.requests} calls to ${f.model}, arriving evenly over ${seconds(f.arrivalsMs)}; interactive answers after ` +
  `${seconds(f.latencyMs)}; priced at $${f.price.inputPerMTok}/$${f.price.outputPerMTok} per million input/output ` +
  `tokens (Sonnet-class list price, as published for Claude Sonnet 4.5), batches at ${f.price.batchShare * 100} % (the Message Batches API's price); ` +
  `tokens as the simulator reports them (characters / 4). Times are simulated.`

const main = async () => {
  const figures = await run()
  console.log("## Deferrable calls: batch vs interactive\n")
  console.log(describe(figures) + "\n")
  console.log(table(figures))
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "bench-results.json")
  const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {}
  fs.writeFileSync(file, JSON.stringify({ ...previous, batch: figures }, null, 2) + "\n")
  console.log(`\nwrote the batch figures to ${path.relative(process.cwd(), file)}`)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
