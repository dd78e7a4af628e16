/**
 * The happy-path overhead, run by `pnpm bench` in a child `node` process on the compiled packages
 * (see `compiled.ts`: `@ballast/core` is `packages/core/dist`, and nothing here goes through tsx).
 * The figures go back over IPC as an `overhead.Compiled`.
 */
import * as Presets from "@ballast/anthropic/Presets"
import * as CircuitBreaker from "@ballast/core/CircuitBreaker"
import * as Policy from "@ballast/core/Policy"
import * as Resilience from "@ballast/core/Resilience"
import { Effect } from "effect"
import * as overhead from "./overhead.js"

const viaResilience = (p: Policy.Policy): overhead.PolicyUnderTest => ({
  name: p.name,
  wrap: Effect.map(Resilience.make(p), (r) => (call) => r.apply(call))
})

const main = async () => {
  const loader = [...process.execArgv, process.env["NODE_OPTIONS"] ?? ""].find((a) => /tsx|loader|--import/.test(a))
  if (loader !== undefined) throw new Error(`overheadWorker: must run on plain node, found ${loader}`)
  const f = await overhead.run(viaResilience(overhead.headlinePolicy))
  const others = []
  const breaker: overhead.PolicyUnderTest = {
    name: "CircuitBreaker.run (consecutive 5), alone",
    wrap: Effect.map(
      CircuitBreaker.make(CircuitBreaker.config({ trips: CircuitBreaker.consecutive(5) })),
      (b) => (call) => b.run(call)
    )
  }
  for (const p of [breaker, viaResilience(Presets.sdkCompatible), viaResilience(Presets.background)]) {
    const g = await overhead.run(p, 10_000, 3)
    others.push({ name: p.name, overheadNs: Math.round(g.policyNsPerCall - g.bareNsPerCall) })
  }
  const result: overhead.Compiled = { node: process.version, main: f, others }
  await new Promise<void>((resolve, reject) => process.send!(result, (e: Error | null) => (e ? reject(e) : resolve())))
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
