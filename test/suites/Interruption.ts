/**
 * Interruption is cancellation: interrupting a call in flight aborts its HTTP request, and the
 * simulator sees the client go away (`aborted: true` in its call log), on both transports.
 */
import type { AnthropicError } from "@ballast/anthropic"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { clientFor, eventLabel, eventually, params, type Transport } from "../utils.js"

/** The first call's record once the simulator has seen it end (polled: over HTTP the close travels a socket). */
const firstCallEnded = eventually(
  Effect.map(Simulator.calls, (calls) => calls[0]),
  (record) => record !== undefined && Option.isSome(record.endedAt)
)

/** `it.scoped` (TestClock) in process; `it.scopedLive` (real clock) for the loopback server. */
const runner = (transport: Transport) => (transport === "in-process" ? it.scoped : it.scopedLive)

const interruptCreate = (transport: Transport) =>
  Effect.gen(function*() {
    const client = yield* clientFor(transport)
    const fiber = yield* Effect.fork(client.messages.create(params()))
    yield* Simulator.awaitCalls(1)
    if (transport === "in-process") yield* TestClock.adjust("1 second")
    assert.strictEqual((yield* Simulator.calls)[0]?.outcome, "pending", "still waiting for its answer")
    yield* Fiber.interrupt(fiber)
    const exit = yield* Fiber.await(fiber)
    assert.isTrue(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause), `interrupted, not failed: ${String(exit)}`)
    const record = yield* firstCallEnded
    assert.deepStrictEqual([record?.outcome, record?.aborted], ["pending", true])
    return record!
  })

/** Consumes a stream that stalls after its first delta; `stop` ends the consumer once that delta arrived. */
const stopStream = (
  transport: Transport,
  stop: (
    consumer: Effect.Effect<void, AnthropicError.AnthropicError>,
    firstDelta: Deferred.Deferred<void>
  ) => Effect.Effect<void, AnthropicError.AnthropicError, Scope.Scope>
) =>
  Effect.gen(function*() {
    const client = yield* clientFor(transport)
    const firstDelta = yield* Deferred.make<void>()
    const events: Array<string> = []
    const consumer = Stream.runForEach(client.messages.stream(params()), (event) =>
      Effect.suspend(() => {
        events.push(eventLabel(event))
        return event.type === "content_block_delta" ? Deferred.succeed(firstDelta, undefined) : Effect.void
      }))
    yield* stop(consumer, firstDelta)
    const record = yield* firstCallEnded
    assert.deepStrictEqual(events, ["message_start", "content_block_start", "delta:Simulated "])
    assert.deepStrictEqual([record?.stream, record?.outcome, record?.aborted], [true, "stalled", true])
  })

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("interruption aborts the request", () => {
    for (const transport of ["in-process", "loopback"] as const) {
      describe(`over the ${transport} transport`, () => {
        runner(transport)("an interrupted messages.create (latency 10 s) is aborted", () =>
          Effect.gen(function*() {
            const record = yield* interruptCreate(transport)
            if (transport === "in-process") {
              // On the TestClock: aborted at 1 s, 9 s before its answer was due.
              assert.deepStrictEqual([record.startedAt, record.endedAt], [0, Option.some(1000)])
            }
          }).pipe(Effect.provide(Simulator.layer({ latency: "10 seconds" }))))

        runner(transport)("an interrupted messages.stream consumer aborts its stream", () =>
          stopStream(transport, (consumer, firstDelta) =>
            Effect.gen(function*() {
              const fiber = yield* Effect.fork(consumer)
              yield* Deferred.await(firstDelta)
              yield* Fiber.interrupt(fiber)
            })).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamStall({ afterDeltas: 1 })] }))))

        runner(transport)("a consumer that takes three events and stops aborts its stream", () =>
          Effect.gen(function*() {
            const client = yield* clientFor(transport)
            const events = yield* Stream.runCollect(Stream.take(client.messages.stream(params()), 3))
            assert.deepStrictEqual(
              Array.from(events, eventLabel),
              ["message_start", "content_block_start", "delta:Simulated "]
            )
            const record = yield* firstCallEnded
            assert.deepStrictEqual([record?.outcome, record?.aborted], ["stalled", true])
          }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamStall({ afterDeltas: 1 })] }))))

        runner(transport)("a call that completes is not marked aborted", () =>
          Effect.gen(function*() {
            const client = yield* clientFor(transport)
            yield* client.messages.create(params())
            yield* Stream.runDrain(client.messages.stream(params()))
            const calls = yield* eventually(
              Simulator.calls,
              (calls) => calls.length === 2 && calls.every((c) => Option.isSome(c.endedAt))
            )
            assert.deepStrictEqual(calls.map((c) => [c.outcome, c.aborted]), [["ok", false], ["ok", false]])
          }).pipe(Effect.provide(Simulator.layer())))
      })
    }
  })
}
