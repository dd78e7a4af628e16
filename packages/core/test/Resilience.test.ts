import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Either, Exit, Fiber, Metric, Option, Random, Ref, Scope, Stream, TestClock, Tracer } from "effect"
import * as AdaptiveConcurrency from "../src/AdaptiveConcurrency.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Policy from "../src/Policy.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryBudget from "../src/RetryBudget.js"
import { leftOrThrow, overloaded, permanent, rateLimited, runTimed, TestError } from "./utils.js"

const fast = { base: "100 millis", factor: 2, cap: "1 second", jitter: "none" } as const

/** A call per key that follows a script of outcomes ("ok" or an error) and records its start times. */
const scripted = (script: Record<string, ReadonlyArray<"ok" | ((n: number) => TestError)>>) =>
  Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<{ readonly key: string; readonly at: number }>>([])
    const call = (attempt: Resilience.Attempt) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const calls = yield* Ref.updateAndGet(log, (l) => [...l, { key: attempt.key, at }])
        const n = calls.filter((c) => c.key === attempt.key).length
        const steps = script[attempt.key] ?? []
        const outcome = steps[Math.min(n, steps.length) - 1] ?? "ok"
        if (outcome === "ok") return `${attempt.key}#${n}`
        return yield* Effect.fail(outcome(n))
      })
    return { log, call }
  })

describe("Resilience", () => {
  it.scoped("retries with the policy's timing and succeeds", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: fast }))
      const { call, log } = yield* scripted({ default: [overloaded, overloaded, "ok"] })
      const { result, endedAt } = yield* runTimed(r.run(call))
      const routed = Either.getOrThrow(result)
      assert.strictEqual(routed.value, "default#3")
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => c.at), [0, 100, 300])
      assert.strictEqual(endedAt, 300)
      assert.deepStrictEqual(routed.route.map((s) => [s.key, s.attempts, s.outcome]), [["default", 3, "served"]])
    }))

  it.scoped("an invalid request is sent once and never falls back", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: fast, fallback: ["a", "b"] }))
      const { call, log } = yield* scripted({ a: [permanent] })
      const { result } = yield* runTimed(r.run(call, { key: "a" }))
      assert.strictEqual(leftOrThrow(result)._tag, "TestError")
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => c.key), ["a"])
    }))

  it.scoped("falls back in order on overload and records the route", () =>
    Effect.gen(function*() {
      const policy = Policy.make({ retry: { ...fast, maxRetries: 1 }, fallback: ["a", "b", "c"] })
      const r = yield* Resilience.make(policy)
      const events = yield* r.events.pipe(Stream.take(6), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      const { call, log } = yield* scripted({ a: [overloaded], b: [overloaded], c: ["ok"] })
      const { result } = yield* runTimed(r.run(call, { key: "a" }))
      const routed = Either.getOrThrow(result)
      assert.strictEqual(routed.key, "c")
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => `${c.key}@${c.at}`), ["a@0", "a@100", "b@100", "b@200", "c@200"])
      assert.deepStrictEqual(routed.route.map((s) => [s.key, s.attempts, s.outcome]), [
        ["a", 2, "max-retries"],
        ["b", 2, "max-retries"],
        ["c", 1, "served"]
      ])
      const tags = Chunk.toReadonlyArray(yield* Fiber.join(events)).map((e) => e._tag)
      assert.deepStrictEqual(tags, ["AttemptFailed", "RetryScheduled", "AttemptFailed", "FellBack", "AttemptFailed", "RetryScheduled"])
    }))

  it.scoped("a step whose circuit is open is skipped without a request", () =>
    Effect.gen(function*() {
      const policy = Policy.make({
        retry: { ...fast, maxRetries: 0 },
        breaker: CircuitBreaker.config({ trips: CircuitBreaker.consecutive(1), openDuration: "10 seconds" }),
        fallback: ["a", "b"]
      })
      const r = yield* Resilience.make(policy)
      const { call, log } = yield* scripted({ a: [overloaded, overloaded, overloaded] })
      const first = yield* r.run(call, { key: "a" })
      assert.strictEqual(first.key, "b")
      const second = yield* r.run(call, { key: "a" })
      assert.strictEqual(second.key, "b")
      assert.deepStrictEqual(second.route.map((s) => [s.key, s.attempts, s.outcome]), [
        ["a", 0, "circuit-open"],
        ["b", 1, "served"]
      ])
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => c.key), ["a", "b", "b"])
    }))

  it.scoped("an exhausted budget stops retries with a typed error", () =>
    Effect.gen(function*() {
      const policy = Policy.make({
        retry: { ...fast, maxRetries: 10 },
        budget: RetryBudget.tokenBucket({ capacity: 10, retryCost: 5 })
      })
      const r = yield* Resilience.make(policy)
      const { call, log } = yield* scripted({ default: Array(20).fill(overloaded) })
      const { result } = yield* runTimed(r.run(call))
      const error = leftOrThrow(result)
      assert.strictEqual(error._tag, "RetryBudgetExhausted")
      assert.strictEqual((yield* Ref.get(log)).length, 3)
    }))

  it.scoped("a Retry-After past the deadline falls back at once", () =>
    Effect.gen(function*() {
      const policy = Policy.make({ retry: fast, deadline: "5 seconds", fallback: ["a", "b"] })
      const r = yield* Resilience.make(policy)
      const { call, log } = yield* scripted({ a: [(n) => rateLimited(n, "30 seconds")] })
      const { result } = yield* runTimed(r.run(call, { key: "a" }))
      assert.strictEqual(Either.getOrThrow(result).key, "b")
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => `${c.key}@${c.at}`), ["a@0", "b@0"])
    }))

  it.scoped("the deadline bounds the whole call", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: fast, deadline: "1 second" }))
      const { result, endedAt } = yield* runTimed(r.apply(Effect.never))
      assert.strictEqual(leftOrThrow(result)._tag, "DeadlineExceeded")
      assert.strictEqual(endedAt, 1000)
    }))

  it.scoped("an attempt timeout is retried", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: { ...fast, maxRetries: 2 }, attemptTimeout: "1 second" }))
      const count = yield* Ref.make(0)
      const call = Ref.updateAndGet(count, (n) => n + 1).pipe(
        Effect.flatMap((n) => (n < 3 ? Effect.never : Effect.succeed(n)))
      )
      const { result, endedAt } = yield* runTimed(r.apply(call))
      assert.strictEqual(Either.getOrThrow(result), 3)
      assert.strictEqual(endedAt, 1000 + 100 + 1000 + 200)
    }))

  it.scoped("load shed by the limiter is not retried", () =>
    Effect.gen(function*() {
      const policy = Policy.make({
        retry: fast,
        concurrency: AdaptiveConcurrency.config({ initial: 1, min: 1, max: 1, queue: 0 })
      })
      const r = yield* Resilience.make(policy)
      const blocker = yield* Effect.fork(r.apply(Effect.never))
      yield* Effect.yieldNow()
      const shed = yield* Effect.either(r.apply(Effect.succeed(1)))
      assert.strictEqual(leftOrThrow(shed)._tag, "LoadShed")
      yield* Fiber.interrupt(blocker)
      assert.strictEqual(yield* r.apply(Effect.succeed(2)), 2)
    }))

  it.effect("Resilience.apply is dual: data-first and data-last retry under the policy", () =>
    Effect.gen(function*() {
      const policy = Policy.make({ retry: { ...fast, maxRetries: 1 } })
      const count = yield* Ref.make(0)
      const call = Effect.flatMap(Ref.updateAndGet(count, (n) => n + 1), (n) => n < 2 ? Effect.fail(overloaded(n)) : Effect.succeed(n))
      const fiber = yield* Effect.fork(call.pipe(Resilience.apply(policy)))
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* Fiber.join(fiber), 2)
      const again = yield* Effect.fork(Resilience.apply(Effect.fail(permanent(1)), policy).pipe(Effect.either))
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(leftOrThrow(yield* Fiber.join(again))._tag, "TestError")
    }))

  it.scoped("jitter comes from Random", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: { ...fast, jitter: "full" } }))
      const { call, log } = yield* scripted({ default: [overloaded, overloaded, "ok"] })
      yield* runTimed(r.run(call)).pipe(Effect.withRandom(Random.fixed([0.5])))
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => c.at), [0, 50, 150])
      assert.isTrue(Option.isNone(r.budget))
    }))

  it.scoped("metrics count attempts, retries, give-ups and fallbacks per policy", () =>
    Effect.gen(function*() {
      const name = "metrics-test"
      const r = yield* Resilience.make(Policy.make({ name, retry: { ...fast, maxRetries: 1 }, fallback: ["a", "b"] }))
      const { call } = yield* scripted({ a: [overloaded, overloaded], b: [permanent] })
      yield* runTimed(r.run(call, { key: "a" }))
      const count = (metric: Metric.Metric.Counter<number>) =>
        Effect.map(Metric.value(Metric.tagged(metric, "policy", name)), (state) => state.count)
      assert.strictEqual(yield* count(Resilience.metrics.attempts), 3)
      assert.strictEqual(yield* count(Resilience.metrics.retries), 1)
      assert.strictEqual(yield* count(Resilience.metrics.fallbacks), 1)
      assert.strictEqual(yield* count(Resilience.metrics.giveUps), 1)
    }))

  it.scoped("with a tracer installed, a span per call and per attempt with key, attempt and retry delays", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const native = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: native.context
      })
      const r = yield* Resilience.make(Policy.make({ name: "traced", retry: fast }))
      const { call } = yield* scripted({ default: [overloaded, "ok"] })
      yield* runTimed(r.run(call).pipe(Effect.withTracer(tracer)))
      const names = spans.map((s) => s.name)
      assert.deepStrictEqual(names, ["ballast.call", "ballast.attempt", "ballast.attempt"])
      const [callSpan, first, second] = spans
      assert.strictEqual(first!.attributes.get("ballast.attempt"), 1)
      assert.strictEqual(second!.attributes.get("ballast.attempt"), 2)
      assert.strictEqual(first!.attributes.get("error.tag"), "TestError")
      assert.strictEqual(callSpan!.attributes.get("ballast.policy"), "traced")
      const retry = (callSpan as unknown as { events: Array<[string, bigint, Record<string, unknown>]> }).events[0]!
      assert.deepStrictEqual([retry[0], retry[2]["ballast.delay_ms"]], ["ballast.retry", 100])
    }))

  it.scoped("runScoped keeps the permit of a success until the caller's scope closes", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(
        Policy.make({ retry: fast, concurrency: AdaptiveConcurrency.config({ initial: 1, min: 1, max: 1 }) })
      )
      const limiter = yield* Option.getOrThrow(r.concurrency).get("default")
      const scope = yield* Scope.make()
      const opened = yield* r.runScoped(() => Effect.succeed("stream")).pipe(Scope.extend(scope))
      assert.strictEqual(opened.value, "stream")
      assert.strictEqual(yield* limiter.inFlight, 1)
      const waiting = yield* Effect.fork(r.apply(Effect.succeed("next")))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* limiter.queued, 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Fiber.join(waiting), "next")
      assert.strictEqual(yield* limiter.inFlight, 0)
      // a failed scoped attempt returns its permit at once
      const failed = yield* Effect.either(r.runScoped(() => Effect.fail(permanent(1))))
      assert.isTrue(Either.isLeft(failed))
      assert.strictEqual(yield* limiter.inFlight, 0)
    }))

  it.scoped("a success after a retry refunds exactly what that retry cost", () =>
    Effect.gen(function*() {
      const r = yield* Resilience.make(Policy.make({ retry: fast, budget: RetryBudget.tokenBucket({ capacity: 100 }) }))
      const budget = Option.getOrThrow(r.budget)
      const transient = (n: number) => new TestError({ kind: "Transient", attempt: n, retryAfter: Option.none() })
      const { call } = yield* scripted({ default: [transient, "ok"] })
      const { result } = yield* runTimed(r.run(call))
      assert.isTrue(Either.isRight(result))
      assert.strictEqual(yield* budget.level, 1)
    }))

  it.scoped("limiters are per key: a full queue on one key falls back to the next key's own limiter", () =>
    Effect.gen(function*() {
      const policy = Policy.make({
        retry: fast,
        concurrency: AdaptiveConcurrency.config({ initial: 1, min: 1, max: 1, queue: 0 }),
        fallback: ["a", "b"]
      })
      const r = yield* Resilience.make(policy)
      const blocker = yield* Effect.fork(r.run(() => Effect.never, { key: "a" }))
      yield* Effect.yieldNow()
      const { call, log } = yield* scripted({})
      const routed = yield* r.run(call, { key: "a" })
      assert.strictEqual(routed.key, "b")
      assert.deepStrictEqual(routed.route.map((s) => [s.key, s.attempts, s.outcome]), [
        ["a", 0, "load-shed"],
        ["b", 1, "served"]
      ])
      assert.deepStrictEqual((yield* Ref.get(log)).map((c) => c.key), ["b"])
      const limits = yield* Option.getOrThrow(r.concurrency).all
      assert.deepStrictEqual([...limits.keys()].sort(), ["a", "b"])
      yield* Fiber.interrupt(blocker)
    }))
})
