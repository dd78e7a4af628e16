/**
 * The storm: a server at capacity `C` meets 3×C of demand for 10 simulated minutes, then 0.5×C
 * until the backlog has drained. Rejections are not free: each 529 keeps a share of one slot busy
 * for a while, so a retry storm eats the capacity it is waiting for.
 *
 * One fresh in-process simulator per policy, the same seeds for every policy, the real official
 * SDK (`AnthropicClient.layer` over `InProcess.makeFetch`) under the policy's layer, all in
 * simulated time (see `simClock.ts`).
 *
 * - Arrivals are open-loop: a Poisson process at `3·C / L` requests per second (the server serves
 *   at most `C / L`, `L` being the service latency) until `overloadMs`, then `0.5·C / L` until
 *   every request that arrived during the overload has finished; then arrivals stop and the
 *   remaining calls finish. The arrival times come from their own seeded `Random`, so every policy
 *   sees the same requests at the same instants.
 * - Every request asks for `model`. Each model has its own pool of `C` slots (as on the real API,
 *   where capacity is per model), so a policy that falls back to a smaller model lands on capacity
 *   that this storm does not load.
 *
 * Figures per policy:
 * - `goodputFraction`: successful calls completed in `[L, overloadMs + L)` (the calls served while
 *   the overload lasted), times `L`, over `C · overloadMs`; 1.0 = every slot of the requested
 *   model busy with useful work the whole time. Successes from fallback models count (the caller
 *   got an answer), so a policy that falls back can exceed 1.0; the table splits them out.
 * - `attemptsPerSuccess`: HTTP requests sent (every model, every phase) per successful call.
 * - `givenUp`: calls that ended in a failure (any error: exhausted retries, deadline, load shed…).
 * - `p50Ms` / `p99Ms`: arrival-to-success latency of the successful calls.
 * - `drainMs`: from the end of the overload until the last call that arrived during it finished.
 */
import * as AnthropicClient from "@ballast/anthropic/AnthropicClient"
import * as InProcess from "@ballast/testing/InProcess"
import * as Simulator from "@ballast/testing/Simulator"
import { Context, Deferred, Effect, Exit, FiberId, Layer, Random, Redacted } from "effect"
import { fork } from "node:child_process"
import * as os from "node:os"
import * as Sim from "./simClock.js"

export interface Scenario {
  /** Concurrent requests the requested model serves (`C`). */
  readonly capacity: number
  /** Service time of one successful request (`L`). */
  readonly latencyMs: number
  /** Demand during the overload, as a multiple of `C / L`. */
  readonly overloadFactor: number
  readonly overloadMs: number
  /** Demand after the overload, as a multiple of `C / L`. */
  readonly drainFactor: number
  /** Each 529 holds `rejectionShare` of one slot for `rejectionMs`. */
  readonly rejectionShare: number
  readonly rejectionMs: number
  /** The run stops this long after the overload even if the backlog has not drained. */
  readonly maxDrainMs: number
  /** The model every request asks for. */
  readonly model: string
  /** Models with their own pool of `C` slots (the fallback models). */
  readonly otherModels: ReadonlyArray<string>
  /** Width of one bucket of the goodput series (a multiple of `L`: service is in lockstep waves of `L`). */
  readonly bucketMs: number
  readonly seed: number
}

export const scenario: Scenario = {
  capacity: Number(process.env.BENCH_STORM_C ?? 20),
  latencyMs: 15_000,
  overloadFactor: 3,
  overloadMs: 10 * 60_000,
  drainFactor: 0.5,
  rejectionShare: 0.05,
  rejectionMs: 1_000,
  maxDrainMs: 60 * 60_000,
  model: "claude-opus-5-5",
  otherModels: ["claude-sonnet-5-5", "claude-haiku-5-5"],
  bucketMs: 30_000,
  seed: 42
}

/** A policy under test: a name and a layer turning the plain SDK client into the client it uses. */
export interface PolicyUnderTest {
  readonly name: string
  readonly description: string
  readonly apply: (
    base: Layer.Layer<AnthropicClient.AnthropicClient>
  ) => Layer.Layer<AnthropicClient.AnthropicClient>
}

export interface Result {
  readonly name: string
  readonly goodputFraction: number
  readonly attemptsPerSuccess: number
  readonly givenUp: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly drainMs: number
  /** More detail for the markdown report. */
  readonly detail: {
    readonly requests: number
    readonly succeeded: number
    readonly drained: boolean
    readonly attempts: number
    readonly overloaded529: number
    readonly rateLimited429: number
    readonly goodputPrimaryFraction: number
    readonly attemptsPerSuccessOverload: number
    readonly successesByModel: Readonly<Record<string, number>>
    readonly attemptsByModel: Readonly<Record<string, number>>
    readonly errors: Readonly<Record<string, number>>
    readonly p99AllMs: number
    readonly endMs: number
    readonly wallMs: number
    readonly cpuMs: number
    readonly clockSteps: number
    /** Goodput per bucket (all models), as a fraction of `C`. */
    readonly series: ReadonlyArray<number>
  }
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

const modelOf = (body: unknown): string => {
  if (typeof body !== "string") return "?"
  const m = /"model":"([^"]+)"/.exec(body)
  return m === null ? "?" : m[1]!
}

const errorName = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null && "_tag" in cause) return String(cause._tag)
  if (cause instanceof Error) return cause.name
  return "unknown"
}

/** Runs the scenario once with one policy. */
export const run = async (policy: PolicyUnderTest, s: Scenario = scenario): Promise<Result> => {
  const clock = new Sim.SimClock(0)
  const C = s.capacity
  const L = s.latencyMs
  const T = s.overloadMs
  const bucketCount = Math.ceil((T + s.maxDrainMs) / s.bucketMs) + 1
  const successBuckets = new Array<number>(bucketCount).fill(0)

  let attempts = 0
  let attemptsInOverload = 0
  let overloaded529 = 0
  let rateLimited429 = 0
  const attemptsByModel: Record<string, number> = {}
  const successesByModel: Record<string, number> = {}
  const errors: Record<string, number> = {}
  const latencies: Array<number> = []
  const failureLatencies: Array<number> = []
  let requests = 0
  let succeeded = 0
  let givenUp = 0
  let goodInWindow = 0
  let goodPrimaryInWindow = 0
  let successesInOverload = 0
  let outstanding = 0
  let overloadOutstanding = 0
  let overloadArrivalsDone = false
  let arrivalsStopped = false
  let drainedAt: number | undefined

  const stop = Deferred.unsafeMake<void>(FiberId.none)

  const program = Effect.gen(function*() {
    const capacity: Simulator.CapacityOptions & { models?: Record<string, Simulator.CapacityOptions> } = {
      concurrency: C,
      rejectionCost: { share: s.rejectionShare, duration: s.rejectionMs },
      models: Object.fromEntries(
        s.otherModels.map((m) => [m, { concurrency: C, rejectionCost: { share: s.rejectionShare, duration: s.rejectionMs } }])
      )
    }
    const sim = yield* Simulator.make({ latency: L, capacity, maxCalls: 1 })
    const inner = yield* InProcess.makeFetch().pipe(Effect.provideService(Simulator.Simulator, sim))
    const fetch: typeof globalThis.fetch = (input, init) => {
      const now = clock.unsafeCurrentTimeMillis()
      attempts++
      if (now < T) attemptsInOverload++
      const model = modelOf(init?.body)
      attemptsByModel[model] = (attemptsByModel[model] ?? 0) + 1
      return inner(input, init).then((response) => {
        if (response.status === 529) overloaded529++
        else if (response.status === 429) rateLimited429++
        return response
      })
    }
    const base = AnthropicClient.layer({ apiKey: Redacted.make("sk-bench"), fetch })
    const context = yield* Layer.build(policy.apply(base))
    const client = Context.get(context, AnthropicClient.AnthropicClient)

    const params = {
      model: s.model,
      max_tokens: 64,
      messages: [{ role: "user" as const, content: "storm" }]
    }

    const request = (arrivedAt: number, inOverload: boolean) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(client.messages.create(params))
        const now = clock.unsafeCurrentTimeMillis()
        outstanding--
        if (Exit.isSuccess(exit)) {
          succeeded++
          latencies.push(now - arrivedAt)
          const model = exit.value.model
          successesByModel[model] = (successesByModel[model] ?? 0) + 1
          successBuckets[Math.floor(now / s.bucketMs)]!++
          if (now >= L && now < T + L) {
            goodInWindow++
            if (model === s.model) goodPrimaryInWindow++
          }
          if (now < T) successesInOverload++
        } else {
          givenUp++
          failureLatencies.push(now - arrivedAt)
          const cause = exit.cause
          const name = cause._tag === "Fail" ? errorName(cause.error) : cause._tag
          errors[name] = (errors[name] ?? 0) + 1
        }
        if (inOverload) {
          overloadOutstanding--
          if (overloadArrivalsDone && overloadOutstanding === 0 && drainedAt === undefined) drainedAt = now
        }
      })

    const arrivalsRandom = Random.make(s.seed)
    const arrivals = Effect.gen(function*() {
      let t = 0
      for (;;) {
        const rate = (t < T ? s.overloadFactor : s.drainFactor) * C / L // per ms
        const u = yield* arrivalsRandom.next
        t += -Math.log(1 - u) / rate
        if (t >= T && !overloadArrivalsDone) {
          overloadArrivalsDone = true
          if (overloadOutstanding === 0 && drainedAt === undefined) drainedAt = T
        }
        if (drainedAt !== undefined) break
        const now = clock.unsafeCurrentTimeMillis()
        if (t > now) yield* Effect.sleep(t - now)
        if (drainedAt !== undefined) break
        const inOverload = t < T
        requests++
        outstanding++
        if (inOverload) overloadOutstanding++
        yield* Effect.forkDaemon(request(clock.unsafeCurrentTimeMillis(), inOverload))
      }
      arrivalsStopped = true
    })
    yield* Effect.forkDaemon(arrivals)
    yield* Deferred.await(stop)
  }).pipe(
    Effect.scoped,
    Effect.withRandom(Random.make(s.seed + 1)),
    (self) => process.env.TRACER === "off" ? Effect.withTracerEnabled(self, false) : self
  )

  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const done = Effect.runPromise(Sim.provide(program, clock))
  const outcome = await clock.run(() => arrivalsStopped && outstanding === 0, T + s.maxDrainMs)
  const endMs = clock.unsafeCurrentTimeMillis()
  Deferred.unsafeDone(stop, Exit.void)
  await clock.run(() => true)
  await done
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  if (outcome === "idle") throw new Error(`storm ${policy.name}: the simulation stalled at ${endMs} ms`)

  latencies.sort((a, b) => a - b)
  const all = [...latencies, ...failureLatencies].sort((a, b) => a - b)
  const capacityWork = C * T
  const r3 = (x: number) => Math.round(x * 1000) / 1000
  const buckets = Math.ceil(endMs / s.bucketMs)
  return {
    name: policy.name,
    goodputFraction: r3((goodInWindow * L) / capacityWork),
    attemptsPerSuccess: r3(succeeded === 0 ? Infinity : attempts / succeeded),
    givenUp,
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    drainMs: Math.round((drainedAt ?? endMs) - T),
    detail: {
      requests,
      succeeded,
      drained: drainedAt !== undefined,
      attempts,
      overloaded529,
      rateLimited429,
      goodputPrimaryFraction: r3((goodPrimaryInWindow * L) / capacityWork),
      attemptsPerSuccessOverload: r3(successesInOverload === 0 ? Infinity : attemptsInOverload / successesInOverload),
      successesByModel,
      attemptsByModel,
      errors,
      p99AllMs: Math.round(percentile(all, 99)),
      endMs: Math.round(endMs),
      wallMs: Math.round(wallMs),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      clockSteps: clock.steps,
      series: successBuckets.slice(0, buckets).map((n) => r3((n * L) / (C * s.bucketMs)))
    }
  }
}

/**
 * Runs every policy, each in its own child process (`stormWorker.ts`), `parallel` at a time. The
 * runs share nothing, so running them side by side changes only the wall time.
 */
export const runAll = async (
  names: ReadonlyArray<string>,
  parallel = Math.min(2, os.availableParallelism()),
  onDone?: (result: Result) => void
): Promise<ReadonlyArray<Result>> => {
  const worker = new URL("./stormWorker.ts", import.meta.url).pathname
  const results = new Map<string, Result>()
  const queue = [...names]
  const one = (name: string) =>
    new Promise<void>((resolve, reject) => {
      const child = fork(worker, [name], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
      child.on("message", (m) => {
        results.set(name, m as Result)
        onDone?.(m as Result)
      })
      child.on("error", reject)
      child.on("exit", (code) =>
        code === 0 && results.has(name) ? resolve() : reject(new Error(`storm ${name}: worker exited with ${code}`)))
    })
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) await one(name)
  }))
  return names.map((n) => results.get(n)!)
}
