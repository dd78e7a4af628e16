import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Equal, FastCheck, Option, TestClock } from "effect"
import * as Classification from "../src/Classification.js"
import * as RetryBudget from "../src/RetryBudget.js"
import { overloaded, rateLimited } from "./utils.js"

const Overloaded = Classification.make("Overloaded")
const Transient = Classification.make("Transient")
const RateLimited = Classification.make("RateLimited")

/** Calls `tryRetry` until it refuses (at most `limit` times) and returns how many it allowed. */
const drain = (budget: RetryBudget.RetryBudget, c: Classification.Classification, limit = 10_000) =>
  Effect.gen(function*() {
    let allowed = 0
    while (allowed < limit && (yield* budget.tryRetry(c))) allowed++
    return allowed
  })

const times = (n: number, self: Effect.Effect<unknown>) => Effect.repeatN(self, n - 1)

describe("RetryBudget config", () => {
  it("tokenBucket and ratio fill the documented defaults and compare by value", () => {
    assert.deepStrictEqual(
      { ...RetryBudget.tokenBucket() },
      { _tag: "TokenBucket", capacity: 500, retryCost: 5, transientCost: 10, successRefund: 1 }
    )
    const r = RetryBudget.ratio()
    assert.strictEqual(r._tag, "Ratio")
    assert.strictEqual(r.ratio, 0.1)
    assert.strictEqual(r.minRetriesPerSecond, 1)
    assert.isTrue(Duration.equals(r.window, Duration.seconds(10)))
    assert.isTrue(Equal.equals(RetryBudget.tokenBucket(), RetryBudget.tokenBucket({})))
    assert.isTrue(Equal.equals(RetryBudget.ratio({ window: "10000 millis" }), RetryBudget.ratio()))
    assert.isFalse(Equal.equals(RetryBudget.tokenBucket({ capacity: 50 }), RetryBudget.tokenBucket()))
    assert.isFalse(Equal.equals(RetryBudget.ratio({ ratio: 0.2 }), RetryBudget.ratio()))
    assert.strictEqual(RetryBudget.tokenBucket({ retryCost: -3 }).retryCost, 0)
  })
})

describe("RetryBudget.tokenBucket", () => {
  it.effect("an exhausted bucket refuses without change and recovers with successes", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make(RetryBudget.tokenBucket())
      assert.strictEqual(yield* budget.level, 1)
      // 500 tokens, 5 per retry
      assert.strictEqual(yield* drain(budget, Overloaded), 100)
      assert.strictEqual(yield* budget.level, 0)
      assert.isFalse(yield* budget.tryRetry(RateLimited))
      assert.strictEqual(yield* budget.level, 0)
      // four first-try successes put back 4 tokens: not enough for a retry
      yield* times(4, budget.onSuccess(false))
      assert.isFalse(yield* budget.tryRetry(Overloaded))
      assert.strictEqual(yield* budget.level, 4 / 500)
      // the fifth makes one retry possible, and only one
      yield* budget.onSuccess(false)
      assert.strictEqual(yield* drain(budget, Overloaded), 1)
      // a success after that retry gives its cost back
      yield* budget.onSuccess(Overloaded)
      assert.strictEqual(yield* budget.level, 5 / 500)
      // 495 more first-try successes refill it completely
      yield* times(495, budget.onSuccess(false))
      assert.strictEqual(yield* budget.level, 1)
      assert.strictEqual(yield* drain(budget, Overloaded), 100)
    }))

  it.effect("a retry after a transient failure costs twice as much, and is refunded in full", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make(RetryBudget.tokenBucket())
      assert.strictEqual(yield* drain(budget, Transient), 50)
      yield* budget.onSuccess(Transient)
      assert.strictEqual(yield* budget.level, 10 / 500)
      yield* budget.onSuccess(true) // the cheaper cost when the caller does not say which
      assert.strictEqual(yield* budget.level, 15 / 500)
      // 15 tokens: one transient retry (10) leaves 5, enough for one overloaded retry but not a transient one
      assert.isTrue(yield* budget.tryRetry(Transient))
      assert.isFalse(yield* budget.tryRetry(Transient))
      assert.isTrue(yield* budget.tryRetry(Overloaded))
      assert.isFalse(yield* budget.tryRetry(Overloaded))
      assert.strictEqual(yield* budget.level, 0)
    }))

  it.effect("refunds are capped at capacity", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make(RetryBudget.tokenBucket({ capacity: 20 }))
      yield* budget.tryRetry(Overloaded)
      yield* times(10, budget.onSuccess(Transient))
      assert.strictEqual(yield* budget.level, 1)
      assert.strictEqual(yield* drain(budget, Overloaded), 4)
    }))

  // No time is involved, so this runs without the test services (it.prop + runSync): 10× cheaper per run.
  it.prop(
    "the level stays in [0, 1] and the bucket never holds more than its capacity",
    {
      capacity: FastCheck.integer({ min: 0, max: 200 }),
      retryCost: FastCheck.integer({ min: 1, max: 20 }),
      transientCost: FastCheck.integer({ min: 1, max: 40 }),
      successRefund: FastCheck.integer({ min: 0, max: 10 }),
      ops: FastCheck.array(
        FastCheck.oneof(
          FastCheck.record({
            op: FastCheck.constant("retry" as const),
            kind: FastCheck.constantFrom<Classification.Kind>("Overloaded", "RateLimited", "Transient", "Permanent")
          }),
          FastCheck.record({
            op: FastCheck.constant("success" as const),
            retried: FastCheck.constantFrom<boolean | Classification.Kind>(false, true, "Overloaded", "Transient")
          })
        ),
        { minLength: 20, maxLength: 300, size: "max" }
      )
    },
    ({ capacity, ops, retryCost, successRefund, transientCost }) =>
      Effect.runSync(Effect.gen(function*() {
        const budget = yield* RetryBudget.make(
          RetryBudget.tokenBucket({ capacity, retryCost, successRefund, transientCost })
        )
        for (const o of ops) {
          if (o.op === "retry") {
            const before = yield* budget.level
            const allowed = yield* budget.tryRetry(Classification.make(o.kind))
            const cost = o.kind === "Transient" ? transientCost : retryCost
            // allowed exactly when the bucket could pay
            assert.strictEqual(allowed, before * capacity >= cost - 1e-9)
          } else {
            yield* budget.onSuccess(
              typeof o.retried === "boolean" ? o.retried : Classification.make(o.retried)
            )
          }
          const level = yield* budget.level
          assert.isTrue(level >= 0 && level <= 1, `level ${level}`)
        }
        // what is left pays for no more retries than a full bucket would
        const level = yield* budget.level
        const left = yield* drain(budget, Overloaded)
        assert.isAtMost(left, Math.floor(capacity / retryCost))
        assert.strictEqual(left, Math.floor((level * capacity + 1e-9) / retryCost))
      })),
    { fastCheck: { numRuns: 60 } }
  )
})

describe("RetryBudget.ratio", () => {
  it.effect("allows ratio × requests retries plus the per-second floor", () =>
    Effect.gen(function*() {
      // defaults: 0.1 per request, 1 per second of a 10 s window
      const budget = yield* RetryBudget.make(RetryBudget.ratio())
      assert.strictEqual(yield* budget.level, 1)
      assert.strictEqual(yield* drain(budget, Overloaded), 10)
      assert.strictEqual(yield* budget.level, 0)
      yield* times(100, budget.onRequest)
      // 0.1 × 100 + 10 = 20 allowed, 10 already taken
      assert.strictEqual(yield* budget.level, 0.5)
      assert.strictEqual(yield* drain(budget, Transient), 10)
    }))

  it.effect("without a floor, retries are exactly the ratio of requests", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make(RetryBudget.ratio({ ratio: 0.1, minRetriesPerSecond: 0 }))
      assert.strictEqual(yield* budget.level, 0)
      assert.isFalse(yield* budget.tryRetry(Overloaded))
      for (const requests of [9, 1, 60, 630]) {
        yield* times(requests, budget.onRequest)
      }
      // 700 requests (0.1 · 700 is not exact in floating point)
      assert.strictEqual(yield* drain(budget, Overloaded), 70)
      // successes change nothing for the ratio budget
      yield* times(50, budget.onSuccess(false))
      assert.isFalse(yield* budget.tryRetry(Overloaded))
    }))

  it.effect("refills as the window slides past old retries", () =>
    Effect.gen(function*() {
      // only the floor: 10 retries per 10 s
      const budget = yield* RetryBudget.make(RetryBudget.ratio({ ratio: 0 }))
      assert.strictEqual(yield* drain(budget, Overloaded, 6), 6)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* drain(budget, Overloaded), 4)
      yield* TestClock.adjust("4999 millis")
      assert.isFalse(yield* budget.tryRetry(Overloaded))
      // t = 10 s: the six retries of t = 0 leave the window
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* budget.level, 0.6)
      assert.strictEqual(yield* drain(budget, Overloaded), 6)
      // t = 15 s: the four of t = 5 s leave too
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* drain(budget, Overloaded), 4)
    }))

  it.effect("requests leave the window too, taking their share of the allowance with them", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make(RetryBudget.ratio({ ratio: 0.2, minRetriesPerSecond: 0 }))
      yield* times(50, budget.onRequest)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* drain(budget, Overloaded), 10)
      // t = 10 s: the requests are gone, the retries are not
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* budget.level, 0)
      yield* times(50, budget.onRequest)
      assert.strictEqual(yield* budget.level, 0)
      assert.isFalse(yield* budget.tryRetry(Overloaded))
      // t = 15 s: the retries are gone
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* budget.level, 1)
      assert.strictEqual(yield* drain(budget, Overloaded), 10)
      // after a long quiet spell everything has left
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* drain(budget, Overloaded), 0)
    }))

  it.effect.prop(
    "the level stays in [0, 1] and no window ever holds more retries than the ratio allows",
    {
      // hundredths: FastCheck.double favours 0, 1 and denormals
      ratio: FastCheck.integer({ min: 0, max: 100 }).map((n) => n / 100),
      minRetriesPerSecond: FastCheck.constantFrom(0, 0.5, 1, 3),
      windowMs: FastCheck.integer({ min: 100, max: 20_000 }),
      ops: FastCheck.array(
        // few waits: each TestClock.adjust costs a macrotask
        FastCheck.oneof(
          { arbitrary: FastCheck.constant({ op: "request" as const, ms: 0 }), weight: 4 },
          { arbitrary: FastCheck.constant({ op: "retry" as const, ms: 0 }), weight: 4 },
          {
            arbitrary: FastCheck.record({
              op: FastCheck.constant("wait" as const),
              ms: FastCheck.integer({ min: 1, max: 8_000 })
            }),
            weight: 1
          }
        ),
        { minLength: 20, maxLength: 150, size: "max" }
      )
    },
    ({ minRetriesPerSecond, ops, ratio, windowMs }) =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make(RetryBudget.ratio({ ratio, minRetriesPerSecond, window: windowMs }))
        const requests: Array<number> = []
        const retries: Array<number> = []
        const width = windowMs / 10
        const floor = minRetriesPerSecond * windowMs / 1000
        let now = 0
        for (const o of ops) {
          if (o.op === "wait") {
            yield* TestClock.adjust(o.ms)
            now += o.ms
          } else if (o.op === "request") {
            yield* budget.onRequest
            requests.push(now)
          } else if (yield* budget.tryRetry(Overloaded)) {
            retries.push(now)
            // retries surely still counted (newer than window − width) never exceed what the
            // requests possibly still counted (newer than window) allow
            const counted = retries.filter((t) => t > now - windowMs + width).length
            const possible = requests.filter((t) => t > now - windowMs).length
            assert.isAtMost(counted, ratio * possible + floor + 1e-9)
          }
          const level = yield* budget.level
          assert.isTrue(level >= 0 && level <= 1, `level ${level}`)
        }
      }),
    { fastCheck: { numRuns: 20 } }
  )
})

describe("RetryBudgetExhausted", () => {
  it("is classified as the failure it carries, not retryable", () => {
    const error = new RetryBudget.RetryBudgetExhausted({ error: rateLimited(3, "2 seconds"), level: 0.004 })
    const c = Classification.classify(error)
    assert.strictEqual(c.kind, "RateLimited")
    assert.isFalse(c.retryable)
    assert.isTrue(Option.isSome(c.retryAfter) && Duration.equals(c.retryAfter.value, Duration.seconds(2)))
    assert.strictEqual(error._tag, "RetryBudgetExhausted")
    assert.isTrue(RetryBudget.isRetryBudgetExhausted(error))
    assert.isFalse(RetryBudget.isRetryBudgetExhausted(overloaded(1)))
    assert.include(error.message, "retry budget is exhausted")
    assert.include(error.message, "TestError")
    assert.strictEqual(
      Classification.classify(new RetryBudget.RetryBudgetExhausted({ error: overloaded(1), level: 0 })).kind,
      "Overloaded"
    )
    // an unclassifiable error stays unclassified (Permanent)
    assert.strictEqual(
      Classification.classify(new RetryBudget.RetryBudgetExhausted({ error: "boom", level: 0 })).kind,
      "Permanent"
    )
  })
})
