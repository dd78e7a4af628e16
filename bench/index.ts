/**
 * `pnpm bench`: prints every benchmark figure and writes them to `bench-results.json`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as simulator from "./simulator.js"

const root = path.resolve(import.meta.dirname, "..")

const main = async () => {
  const sim = await simulator.run()
  console.log("## In-process simulator under TestClock (real SDK, maxRetries 0)\n")
  console.log("| path | requests / wall-clock s |")
  console.log("|---|---|")
  console.log(`| SDK over a canned-response fetch (baseline) | ${sim.baselineRequestsPerSecond} |`)
  console.log(`| SDK over the in-process simulator, TestClock | ${sim.simulatedRequestsPerSecond} |`)
  console.log(
    `\n${sim.requests} requests, ${sim.concurrency} at once, 100 ms simulated latency each, ` +
      `${sim.simulatedMs} simulated ms; ratio to baseline ${sim.ratioToBaseline}; target >= 20000 req/s: ` +
      (sim.simulatedRequestsPerSecond >= 20_000 ? "met" : "NOT met")
  )
  const file = path.join(root, "bench-results.json")
  const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {}
  fs.writeFileSync(file, JSON.stringify({ ...previous, simulator: sim }, null, 2) + "\n")
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
