import { assert, describe, it } from "@effect/vitest"
import { Backoff, Classification, Retry } from "@ballast/core"
import * as BackoffModule from "@ballast/core/Backoff"
import * as RetryModule from "@ballast/core/Retry"

describe("entry points", () => {
  it("modules are importable from the index as namespaces and by path", () => {
    assert.strictEqual(Retry.schedule, RetryModule.schedule)
    assert.strictEqual(Retry.retry, RetryModule.retry)
    assert.strictEqual(Backoff.make, BackoffModule.make)
    assert.isFunction(Classification.classify)
  })
})
