/**
 * Happy-path overhead: what a policy adds to a call that succeeds at once, in wall-clock ns per call.
 *
 * Measured side by side in one process, rounds interleaved (each round runs every variant once),
 * after a warm-up round; the figure is the median over rounds. Four variants, the same `ITERATIONS`
 * calls each:
 * - `bare` (Effect): `Effect.sync(() => counter++)`, run `ITERATIONS` times in one long-running
 *   `Effect.gen` loop (one `yield*` per call);
 * - `policy` (Effect): the same call wrapped by a ballast policy, in the same loop. The overhead is
 *   `policy − bare`: the loop, the fiber and the call are in both;
 * - `asyncBare` (Promise): `async () => counter++`, awaited in a plain `async` loop;
 * - `cockatiel`: the same async call through cockatiel 3.2.1's
 *   `wrap(retry(handleAll, { maxAttempts: 3 }), circuitBreaker(handleAll, { halfOpenAfter: 10_000,
 *   breaker: new ConsecutiveBreaker(5) }))`. Its overhead is `cockatiel − asyncBare`.
 *
 * Each side is measured against its own baseline because an Effect call and a Promise call have
 * different costs of their own; both baselines are reported.
 *
 * `pnpm bench` runs this in a child `node` process on the compiled packages (`overheadWorker.ts`
 * through `compiled.ts`): ballast as users run it (`dist/`, built by `tsc`), next to cockatiel as
 * published. Run from `src/` under tsx, ballast's per-call closures would each pay for tsx's
 * `__name` wrapper and the comparison would not be like for like.
 */
import * as CircuitBreaker from "@ballast/core/CircuitBreaker"
import * as Policy from "@ballast/core/Policy"
import { circuitBreaker, ConsecutiveBreaker, handleAll, retry, wrap } from "cockatiel"
import { Effect, type Scope } from "effect"

export const ITERATIONS = Number(process.env.BENCH_OVERHEAD_N ?? 100_000)
export const ROUNDS = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 7)

/** The ballast policy of the headline figure: cockatiel's pair (3 retries, breaker on 5 consecutive failures). */
export const headlinePolicy: Policy.Policy = Policy.make({
  name: "retry3Breaker5",
  retry: { maxRetries: 3 },
  breaker: CircuitBreaker.config({ trips: CircuitBreaker.consecutive(5) })
})

/** How the Effect call is wrapped by a ballast policy: acquired once (shared state), applied per call. */
export interface PolicyUnderTest {
  readonly name: string
  readonly wrap: Effect.Effect<<A, E>(call: Effect.Effect<A, E>) => Effect.Effect<A, unknown>, never, Scope.Scope>
}

export interface Figures {
  readonly bareNsPerCall: number
  readonly policyNsPerCall: number
  readonly cockatielNsPerCall: number
  readonly asyncBareNsPerCall: number
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const timeEffectLoop = <A, E>(call: Effect.Effect<A, E>, n: number): Effect.Effect<number, E> =>
  Effect.gen(function*() {
    const start = performance.now()
    for (let i = 0; i < n; i++) yield* call
    return ((performance.now() - start) * 1e6) / n
  })

const timeAsyncLoop = async (call: () => Promise<unknown>, n: number): Promise<number> => {
  const start = performance.now()
  for (let i = 0; i < n; i++) await call()
  return ((performance.now() - start) * 1e6) / n
}

/** What `overheadWorker.ts` measures on the compiled packages. */
export interface Compiled {
  readonly node: string
  /** {@link headlinePolicy} through `Resilience.apply`, side by side with cockatiel. */
  readonly main: Figures
  /** Overhead over the bare Effect call (ns), median of 3 rounds of 10,000 calls each. */
  readonly others: ReadonlyArray<{ readonly name: string; readonly overheadNs: number }>
}

/** Runs the benchmark with the given ballast policy. */
export const run = (
  policy: PolicyUnderTest,
  iterations = ITERATIONS,
  rounds = ROUNDS
): Promise<Figures> =>
  Effect.runPromise(
    Effect.gen(function*() {
      let counter = 0
      const bare = Effect.sync(() => counter++)
      const wrapWith = yield* policy.wrap
      const wrapped = wrapWith(bare)
      const asyncCall = async () => counter++
      const cockatiel = wrap(
        retry(handleAll, { maxAttempts: 3 }),
        circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
      )
      const cockatielCall = () => cockatiel.execute(asyncCall)

      const round = (n: number) =>
        Effect.gen(function*() {
          const b = yield* timeEffectLoop(bare, n)
          const p = yield* timeEffectLoop(wrapped, n)
          const a = yield* Effect.promise(() => timeAsyncLoop(asyncCall, n))
          const c = yield* Effect.promise(() => timeAsyncLoop(cockatielCall, n))
          return { b, p, a, c }
        })

      const warmUp = Math.max(1_000, Math.round(iterations / 4))
      yield* round(warmUp) // JIT
      const measured = []
      for (let r = 0; r < rounds; r++) measured.push(yield* round(iterations))
      const expected = iterations * rounds * 4 + warmUp * 4
      if (counter !== expected) return yield* Effect.dieMessage(`overhead: ${counter} calls made, ${expected} expected`)
      const r1 = (x: number) => Math.round(x * 10) / 10
      return {
        bareNsPerCall: r1(median(measured.map((x) => x.b))),
        policyNsPerCall: r1(median(measured.map((x) => x.p))),
        cockatielNsPerCall: r1(median(measured.map((x) => x.c))),
        asyncBareNsPerCall: r1(median(measured.map((x) => x.a)))
      }
    }).pipe(Effect.scoped)
  )

/** The ratios printed under the table. */
export const ratios = (f: Figures): string => {
  const ballast = f.policyNsPerCall - f.bareNsPerCall
  const cockatiel = f.cockatielNsPerCall - f.asyncBareNsPerCall
  return [
    `ballast policy / bare Effect: ${(f.policyNsPerCall / f.bareNsPerCall).toFixed(2)}×`,
    `cockatiel / bare async: ${(f.cockatielNsPerCall / f.asyncBareNsPerCall).toFixed(2)}×`,
    `ballast per-call ns / cockatiel per-call ns: ${(f.policyNsPerCall / f.cockatielNsPerCall).toFixed(2)}×`,
    `ballast overhead / cockatiel overhead: ${(ballast / cockatiel).toFixed(2)}× (${ballast.toFixed(0)} vs ${
      cockatiel.toFixed(0)
    } ns)`
  ].join("; ")
}

/** The markdown table. */
export const table = (f: Figures, policyName: string): string => {
  const r = (x: number) => x.toFixed(1)
  return [
    "| variant | ns/call | baseline | overhead ns/call | × baseline |",
    "|---|---|---|---|---|",
    `| bare Effect (\`Effect.sync\` in an Effect.gen loop) | ${r(f.bareNsPerCall)} | — | — | — |`,
    `| ballast: ${policyName} | ${r(f.policyNsPerCall)} | bare Effect | ${r(f.policyNsPerCall - f.bareNsPerCall)} | ${
      (f.policyNsPerCall / f.bareNsPerCall).toFixed(2)
    } |`,
    `| bare async function (awaited in a loop) | ${r(f.asyncBareNsPerCall)} | — | — | — |`,
    `| cockatiel 3.2.1 wrap(retry(3), circuitBreaker(Consecutive 5)) | ${r(f.cockatielNsPerCall)} | bare async | ${
      r(f.cockatielNsPerCall - f.asyncBareNsPerCall)
    } | ${(f.cockatielNsPerCall / f.asyncBareNsPerCall).toFixed(2)} |`
  ].join("\n")
}
