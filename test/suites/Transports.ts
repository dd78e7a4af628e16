/**
 * One simulator model, two transports: the same fault script and the same policy give the same
 * calls and the same final result in process and over HTTP on 127.0.0.1 (real clock, tiny delays).
 */
import type { AnthropicError } from "@ballast/anthropic"
import { Retry } from "@ballast/core"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Random } from "effect"
import {
  callSummary,
  clientFor,
  errorSummary,
  messageText,
  params,
  REPLY,
  streamText,
  type Transport,
  transports
} from "../utils.js"

interface Scenario {
  readonly name: string
  readonly faults: ReadonlyArray<Fault.Fault>
  readonly policy: Retry.Options<AnthropicError.AnthropicError>
  readonly call: "create" | "stream"
  /** What both transports must produce. */
  readonly expected: {
    readonly calls: ReadonlyArray<readonly [status: number | null, errorType: string | null, outcome: Simulator.Outcome]>
    readonly result: string
  }
}

/** Tiny delays, so the real clock costs milliseconds. */
const fast = { base: "1 millis", cap: "5 millis", maxRetries: 5 } as const

/** Runs a scenario on a fresh simulator behind the given transport; returns what happened, as data. */
const run = (transport: Transport, scenario: Scenario) =>
  Effect.gen(function*() {
    const client = yield* clientFor(transport)
    const attempt = scenario.call === "create"
      ? Effect.map(client.messages.create(params()), messageText)
      : streamText(client)
    const result = yield* attempt.pipe(
      Retry.retry(scenario.policy),
      Effect.withRandom(Random.fixed([0.5])),
      Effect.either
    )
    const calls = yield* Simulator.calls
    return {
      calls: callSummary(calls),
      result: Either.match(result, {
        onLeft: (error) => ({ outcome: "failure" as const, ...errorSummary(error) }),
        onRight: (text) => ({ outcome: "success" as const, text })
      })
    }
  }).pipe(Effect.scoped, Effect.provide(Simulator.layer({ script: scenario.faults })))

/** Names the final result in one word: `success: <text>` or the error's tag. */
const label = (result: { readonly outcome: "success"; readonly text: string } | { readonly _tag: string }): string =>
  "text" in result ? `success: ${result.text}` : result._tag

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "529, 529, 429 (retry-after-ms 5), then success",
    faults: [Fault.overloaded({ times: 2 }), Fault.rateLimited({ retryAfter: null, retryAfterMs: "5 millis" })],
    policy: fast,
    call: "create",
    expected: {
      calls: [
        [529, "overloaded_error", "error"],
        [529, "overloaded_error", "error"],
        [429, "rate_limit_error", "error"],
        [200, null, "ok"]
      ],
      result: `success: ${REPLY}`
    }
  },
  {
    name: "a 400 is not retried",
    faults: [Fault.status(400)],
    policy: fast,
    call: "create",
    expected: { calls: [[400, "invalid_request_error", "error"]], result: "InvalidRequest" }
  },
  {
    name: "a connection reset, then success",
    faults: [Fault.reset()],
    policy: fast,
    call: "create",
    expected: { calls: [[null, null, "reset"], [200, null, "ok"]], result: `success: ${REPLY}` }
  },
  {
    name: "connection resets until the retries run out",
    faults: [Fault.reset({ times: "forever" })],
    policy: { ...fast, maxRetries: 2 },
    call: "create",
    expected: {
      calls: [[null, null, "reset"], [null, null, "reset"], [null, null, "reset"]],
      result: "ConnectionFailed"
    }
  },
  {
    name: "a stream overloaded after two deltas, then a whole stream",
    faults: [Fault.streamError({ afterDeltas: 2 })],
    policy: fast,
    call: "stream",
    expected: { calls: [[200, "overloaded_error", "stream_error"], [200, null, "ok"]], result: `success: ${REPLY}` }
  },
  {
    name: "a stream overloaded after two deltas, no retries",
    faults: [Fault.streamError({ afterDeltas: 2 })],
    policy: { ...fast, maxRetries: 0 },
    call: "stream",
    expected: { calls: [[200, "overloaded_error", "stream_error"]], result: "Overloaded" }
  },
  {
    name: "a stream: 529 before it starts, overloaded before message_start, dropped, then whole",
    faults: [Fault.overloaded(), Fault.overloadedBeforeStart(), Fault.streamDrop({ afterDeltas: 1 })],
    policy: fast,
    call: "stream",
    expected: {
      calls: [
        [529, "overloaded_error", "error"],
        [200, "overloaded_error", "stream_error"],
        [200, null, "dropped"],
        [200, null, "ok"]
      ],
      result: `success: ${REPLY}`
    }
  }
]

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("the same fault script gives the same outcome on both transports", () => {
    for (const scenario of scenarios) {
      it.live(scenario.name, () =>
        Effect.gen(function*() {
          const [inProcess, loopback] = yield* Effect.forEach(transports, (transport) => run(transport, scenario))
          for (const [transport, seen] of [["in-process", inProcess!], ["loopback", loopback!]] as const) {
            assert.deepStrictEqual(
              seen.calls.map((c) => [c.status, c.errorType, c.outcome] as const),
              scenario.expected.calls,
              `calls (${transport})`
            )
            assert.deepStrictEqual(
              seen.calls.map((c) => c.requestId),
              scenario.expected.calls.map((_, i) => `req_sim_00000${i + 1}`)
            )
            assert.isTrue(seen.calls.every((c) => !c.aborted), `no call aborted (${transport})`)
            assert.strictEqual(label(seen.result), scenario.expected.result, `result (${transport})`)
          }
          assert.deepStrictEqual(loopback!.calls, inProcess!.calls)
          assert.deepStrictEqual(loopback!.result, inProcess!.result)
        }))
    }
  })
}
