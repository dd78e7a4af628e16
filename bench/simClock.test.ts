/**
 * The storm benchmark's discrete-event clock (`bench/simClock.ts`): sleeps wake in time order on
 * whole milliseconds, interrupted sleeps never fire, and a retry scenario through the real SDK, the
 * resilient client and the simulator gives the same call log as under `TestClock`.
 */
import { AnthropicClient, ResilientClient } from "@ballast/anthropic"
import { Policy } from "@ballast/core"
import { InProcess, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Redacted, TestClock, TestContext } from "effect"
import * as Sim from "./simClock.js"

const policy = Policy.make({
  name: "test",
  retry: { maxRetries: 4, base: "100 millis", factor: 2, cap: "1 second", jitter: "none" }
})

/** Five concurrent calls, 30 ms apart, to a server with 2 slots and 250 ms of service time. */
const scenario = Effect.gen(function*() {
  const sim = yield* Simulator.make({ latency: 250, capacity: { concurrency: 2 } })
  const fetch = yield* InProcess.makeFetch().pipe(Effect.provideService(Simulator.Simulator, sim))
  const context = yield* Layer.build(
    ResilientClient.layer(policy).pipe(
      Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("sk-test"), fetch }))
    )
  )
  const client = Context.get(context, AnthropicClient.AnthropicClient)
  const fibers = []
  for (let i = 0; i < 5; i++) {
    fibers.push(
      yield* Effect.fork(
        client.messages.create({ model: "claude-opus-5-5", max_tokens: 8, messages: [{ role: "user", content: "x" }] })
      )
    )
    yield* Effect.sleep(30)
  }
  const exits = yield* Effect.forEach(fibers, Fiber.await)
  const calls = yield* sim.calls
  return {
    outcomes: exits.map((e) => (Exit.isSuccess(e) ? "ok" : "failed")),
    calls: calls.map((c) => [c.startedAt, Option.getOrElse(c.status, () => 0)] as const)
  }
}).pipe(Effect.scoped)

describe("bench SimClock", () => {
  it("wakes sleeps in time order on whole milliseconds; an interrupted sleep never fires", async () => {
    const clock = new Sim.SimClock()
    const woke: Array<readonly [string, number]> = []
    const sleeper = (name: string, ms: number) =>
      Effect.sleep(ms).pipe(Effect.zipRight(Effect.sync(() => woke.push([name, clock.unsafeCurrentTimeMillis()]))))
    const program = Effect.gen(function*() {
      const a = yield* Effect.fork(sleeper("a", 5))
      const b = yield* Effect.fork(sleeper("b", 1.2))
      const c = yield* Effect.fork(sleeper("c", 3))
      const d = yield* Effect.fork(sleeper("d", 4))
      const e = yield* Effect.fork(sleeper("e", 0))
      yield* Effect.sleep(2)
      yield* Fiber.interrupt(d)
      yield* Effect.forEach([a, b, c, e], Fiber.join)
    })
    const done = Effect.runPromise(Sim.provide(program, clock))
    assert.strictEqual(await clock.run(() => woke.length === 4), "done")
    await done
    assert.deepStrictEqual(woke, [["e", 0], ["b", 2], ["c", 3], ["a", 5]])
    assert.strictEqual(await clock.run(() => false), "idle", "nothing left: d's sleep was taken back")
  })

  it("stops at `until` without passing it", async () => {
    const clock = new Sim.SimClock()
    const done = Effect.runPromise(Sim.provide(Effect.sleep(10_000), clock))
    assert.strictEqual(await clock.run(() => false, 5_000), "until")
    assert.strictEqual(clock.unsafeCurrentTimeMillis(), 0)
    assert.strictEqual(await clock.run(() => false), "idle")
    assert.strictEqual(clock.unsafeCurrentTimeMillis(), 10_000)
    await done
  })

  it("a retry scenario through the SDK, ResilientClient and the simulator: same call log as under TestClock", async () => {
    const reference = await Effect.runPromise(
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(scenario)
        yield* TestClock.adjust("10 seconds")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(TestContext.TestContext))
    )
    const clock = new Sim.SimClock()
    let result: typeof reference | undefined
    const done = Effect.runPromise(Sim.provide(scenario, clock)).then((r) => (result = r))
    assert.strictEqual(await clock.run(() => result !== undefined), "done")
    await done
    assert.deepStrictEqual(result, reference)
    assert.deepStrictEqual(reference.outcomes, ["ok", "ok", "ok", "ok", "ok"])
    assert.isAbove(reference.calls.filter(([, status]) => status === 529).length, 0, "the scenario does retry")
  })
})
