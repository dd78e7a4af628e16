/**
 * `pnpm bench`: prints every benchmark figure and writes them to `bench-results.json` (merged with
 * what is already there), plus a markdown report and an SVG chart of the storm in `bench/results/`.
 *
 * Order: Brooker's jitter check, the happy-path overhead (wall-clock, so nothing else of ours runs
 * meanwhile; on the compiled packages, in a child `node` process: see `compiled.ts`), the in-process
 * transport, then the storm (one child process per policy, two at a time), then deferrable calls as
 * batches vs interactive (`batch.ts`).
 * `BENCH_ONLY=brooker,overhead,simulator,storm,batch` runs a subset.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Resilience from "@ballast/core/Resilience"
import { Effect } from "effect"
import * as batch from "./batch.js"
import * as brooker from "./brooker.js"
import * as compiled from "./compiled.js"
import * as overhead from "./overhead.js"
import * as policies from "./policies.js"
import * as report from "./report.js"
import * as simulator from "./simulator.js"
import * as storm from "./storm.js"

const root = path.resolve(import.meta.dirname, "..")
const resultsDir = path.join(import.meta.dirname, "results")
const only = process.env.BENCH_ONLY?.split(",")
const enabled = (name: string) => only === undefined || only.includes(name)

const sections: Array<string> = []
const out: Record<string, unknown> = {}

const print = (text: string) => {
  console.log(text)
  sections.push(text)
}

const met = (ok: boolean) => (ok ? "met" : "NOT met")

const runBrooker = async () => {
  const start = performance.now()
  const rows = await brooker.run()
  print(`## Brooker's "Exponential Backoff And Jitter", with ballast's Backoff\n`)
  print(
    `${brooker.CLIENTS} OCC clients, network |N(10 ms, sd 2)|, base 5 ms, cap 2 s; mean of ${brooker.RUNS} seeded runs ` +
      `(seeds 1..${brooker.RUNS}); published = the post's simulator rerun (resilience-anchors.md).\n`
  )
  print(brooker.table(rows))
  print(`\n(${((performance.now() - start) / 1000).toFixed(1)} s)\n`)
  out.brooker = Object.fromEntries(
    brooker.strategies.map((s) => [s, { calls: rows[s].calls, completionMs: rows[s].completionMs }])
  )
}

const runOverhead = async () => {
  const { buildMs, result } = await compiled.runCompiled<overhead.Compiled>("overheadWorker.ts")
  const f = result.main
  print(`## Happy-path overhead (wall clock, median of ${overhead.ROUNDS} rounds of ${overhead.ITERATIONS} calls)\n`)
  print(
    `Compiled ballast (\`tsc\` → \`packages/*/dist\`) and cockatiel as published, side by side in one plain ` +
      `\`node\` ${result.node} process (\`bench/overheadWorker.ts\`; packages built in ${(buildMs / 1000).toFixed(1)} s).\n`
  )
  print(overhead.table(f, `Resilience.apply, ${overhead.headlinePolicy.name} (3 retries + consecutive-5 breaker)`))
  const ballast = f.policyNsPerCall - f.bareNsPerCall
  print(
    `\nRatios: ${overhead.ratios(f)}.\n` +
      `Other wrappers, overhead over bare Effect (median of 3 rounds of 10000 calls): ${
        result.others.map((e) => `${e.name} ${e.overheadNs} ns`).join(", ")
      }.\nTarget: ballast's overhead <= 2000 ns/call: ${met(ballast <= 2000)} (${ballast.toFixed(0)} ns; cockatiel adds ${
        (f.cockatielNsPerCall - f.asyncBareNsPerCall).toFixed(0)
      } ns over a bare async call).\n`
  )
  // For comparison: the same policy from src/ in this process, under tsx (closures wrapped by __name).
  const p = overhead.headlinePolicy
  const tsx = await overhead.run(
    { name: p.name, wrap: Effect.map(Resilience.make(p), (r) => (call) => r.apply(call)) },
    10_000,
    3
  )
  print(
    `Not in the figures: the same policy run from src/ under tsx (as \`pnpm bench\` itself runs) adds ${
      (tsx.policyNsPerCall - tsx.bareNsPerCall).toFixed(0)
    } ns over bare Effect (median of 3 rounds of 10000 calls): tsx's keepNames wraps every closure in __name.\n`
  )
  out.overhead = {
    bareNsPerCall: f.bareNsPerCall,
    policyNsPerCall: f.policyNsPerCall,
    cockatielNsPerCall: f.cockatielNsPerCall
  }
}

const runSimulator = async () => {
  const sim = await simulator.run()
  print("## In-process simulator under TestClock\n")
  print("| path | baseline (stub fetch, canned response) req/s | in-process simulator req/s | ratio |")
  print("|---|---|---|---|")
  for (const [name, m] of [["transport (fetch + json)", sim.transport], ["real SDK messages.create", sim.sdk]] as const) {
    print(`| ${name} | ${m.baselineRequestsPerSecond} | ${m.simulatedRequestsPerSecond} | ${m.ratioToBaseline} |`)
  }
  print(
    `\n${sim.requests} requests per row, ${sim.concurrency} at once, ${sim.latencyMs} ms simulated latency each ` +
      `(${sim.transport.simulatedMs} simulated ms per run). Target: the transport serves >= 20000 req/s: ` +
      met(sim.transport.simulatedRequestsPerSecond >= 20_000) +
      ".\nThe baseline stub builds undici Responses; the simulator answers with light Response objects, so the " +
      "transport row can beat its baseline. The SDK row is bounded by the SDK's own per-call cost (its baseline).\n"
  )
  out.simulator = sim
}

const runStorm = async () => {
  const s = storm.scenario
  const start = performance.now()
  const results = await storm.runAll(policies.all.map((p) => p.name), undefined, (r) =>
    console.error(`  storm: ${r.name} done (${(r.detail.wallMs / 1000).toFixed(1)} s)`))
  const byName = new Map(results.map((r) => [r.name, r]))
  print("## The storm\n")
  print(report.scenarioText(s) + "\n")
  print(policies.all.map((p) => `- ${p.name}: ${p.description}`).join("\n") + "\n")
  print(report.table(results))
  const bg = byName.get("background")!
  const ia = byName.get("interactive")!
  const sdk = byName.get("sdkCompatible")!
  print(
    [
      "",
      `Targets: background goodput >= 0.95 C: ${met(bg.goodputFraction >= 0.95)} (${bg.goodputFraction}); ` +
      `<= 1.10 attempts/success: ${met(bg.attemptsPerSuccess <= 1.1)} (${bg.attemptsPerSuccess}); ` +
      `gives up nothing: ${met(bg.givenUp === 0)} (${bg.givenUp}).`,
      `interactive gives up no more than sdkCompatible: ${met(ia.givenUp <= sdk.givenUp)} (${ia.givenUp} vs ${sdk.givenUp}); ` +
      `lower p99: ${met(ia.p99Ms < sdk.p99Ms)} (${ia.p99Ms} vs ${sdk.p99Ms} ms).`,
      ""
    ].join("\n")
  )
  print(report.detailTable(results))
  print(`\n(storm: ${((performance.now() - start) / 1000).toFixed(1)} s wall)\n`)
  fs.mkdirSync(resultsDir, { recursive: true })
  fs.writeFileSync(path.join(resultsDir, "storm.svg"), report.svg(results, s))
  fs.writeFileSync(path.join(resultsDir, "storm.json"), JSON.stringify({ scenario: s, results }, null, 2) + "\n")
  out.storm = Object.fromEntries(results.map((r) => [r.name, {
    goodputFraction: r.goodputFraction,
    attemptsPerSuccess: r.attemptsPerSuccess,
    givenUp: r.givenUp,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    drainMs: r.drainMs
  }]))
}

const runBatch = async () => {
  const f = await batch.run()
  print("## Deferrable calls: batch vs interactive\n")
  print(batch.describe(f) + "\n")
  print(batch.table(f))
  print(`\nCost ratio deferred / interactive: ${f.costRatio} (the Message Batches API's 50 %).\n`)
  out.batch = f
}

const main = async () => {
  const start = performance.now()
  if (enabled("brooker")) await runBrooker()
  if (enabled("overhead")) await runOverhead()
  if (enabled("simulator")) await runSimulator()
  if (enabled("storm")) await runStorm()
  if (enabled("batch")) await runBatch()
  fs.mkdirSync(resultsDir, { recursive: true })
  fs.writeFileSync(path.join(resultsDir, "README.md"), `# pnpm bench\n\n${sections.join("\n")}\n`)
  const file = path.join(root, "bench-results.json")
  const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {}
  fs.writeFileSync(file, JSON.stringify({ ...previous, ...out }, null, 2) + "\n")
  console.log(
    `wrote ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), resultsDir)}/ ` +
      `(README.md, storm.svg, storm.json) in ${((performance.now() - start) / 1000).toFixed(1)} s`
  )
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
