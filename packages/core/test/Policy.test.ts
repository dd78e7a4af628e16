import { assert, describe, it } from "@effect/vitest"
import { Duration, Equal, Hash, Option } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Policy from "../src/Policy.js"
import * as RetryBudget from "../src/RetryBudget.js"

const build = () =>
  Policy.make({
    name: "search",
    retry: { maxRetries: 4, base: "250 millis", cap: "4 seconds" },
    budget: RetryBudget.tokenBucket(),
    breaker: CircuitBreaker.config(),
    deadline: "20 seconds",
    fallback: ["a", { key: "b", retry: { maxRetries: 1 } }]
  })

describe("Policy", () => {
  it("fills documented defaults", () => {
    const p = Policy.make()
    assert.strictEqual(p.name, "custom")
    assert.isTrue(Equal.equals(p.retry, Policy.defaultRetry))
    assert.strictEqual(p.retry.maxRetries, 3)
    assert.isTrue(Option.isNone(p.budget))
    assert.isTrue(Option.isNone(p.breaker))
    assert.isTrue(Option.isNone(p.concurrency))
    assert.isFalse(p.pacing)
    assert.isTrue(Option.isNone(p.deadline))
    assert.deepStrictEqual(p.fallback.length, 0)
  })

  it("compares and hashes by value", () => {
    const a = build()
    const b = build()
    assert.notStrictEqual(a, b)
    assert.isTrue(Equal.equals(a, b))
    assert.strictEqual(Hash.hash(a), Hash.hash(b))
    assert.isFalse(Equal.equals(a, Policy.withDeadline(b, "21 seconds")))
    assert.isFalse(Equal.equals(a, Policy.withFallback(b, ["a", "c"])))
    assert.isFalse(Equal.equals(a, Policy.withBudget(b, RetryBudget.ratio())))
  })

  it("combinators change one part and keep the rest", () => {
    const p = build().pipe(Policy.withRetry({ maxRetries: 9 }), Policy.named("other"), Policy.withPacing(true))
    assert.strictEqual(p.retry.maxRetries, 9)
    assert.isTrue(Duration.equals(p.retry.base, Duration.millis(250)))
    assert.strictEqual(p.name, "other")
    assert.isTrue(p.pacing)
    assert.isTrue(Option.isNone(Policy.withBudget(p, undefined).budget))
    assert.isTrue(Option.isNone(Policy.withDeadline(p, undefined).deadline))
    assert.isTrue(Equal.equals(Policy.withAttemptTimeout(p, "1 second").attemptTimeout, Option.some(Duration.seconds(1))))
  })

  it("chains start at the requested key's place", () => {
    const p = Policy.make({ fallback: ["opus", "sonnet", "haiku"] })
    const keys = (key: string) => Policy.chain(p, key).map((s) => s.key)
    assert.deepStrictEqual(keys("opus"), ["opus", "sonnet", "haiku"])
    assert.deepStrictEqual(keys("sonnet"), ["sonnet", "haiku"])
    assert.deepStrictEqual(keys("haiku"), ["haiku"])
    assert.deepStrictEqual(keys("other"), ["other", "opus", "sonnet", "haiku"])
  })

  it("a step's own retry settings override the policy's", () => {
    const p = build()
    const [, b] = Policy.chain(p, "a")
    assert.strictEqual(Policy.retryFor(p, b!).maxRetries, 1)
    assert.strictEqual(Policy.retryFor(p, Policy.chain(p, "a")[0]!).maxRetries, 4)
  })

  it("prints readably", () => {
    const text = String(build())
    assert.include(text, `Policy "search"`)
    assert.include(text, "4 retries, full jitter from 250ms ×2 up to 4s, Retry-After honoured up to 1m")
    assert.include(text, "TokenBucket(capacity: 500")
    assert.include(text, "deadline        20s")
    assert.include(text, `a → b (1 retry`)
    assert.deepStrictEqual((build().toJSON() as { deadline: unknown }).deadline, "20s")
  })
})
