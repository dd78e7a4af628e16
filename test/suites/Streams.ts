/**
 * Resilient streams end to end: `StreamRecovery.stream` over the real SDK and the in-process
 * simulator, under TestClock. For each stream fault and each strategy, the text the consumer
 * assembles is the simulator's intended reply exactly once (or the typed failure with the partial
 * message), the usage summed by the stream equals what the simulator reported call by call, and
 * no call is left in flight or aborted unless it had stalled.
 */
import { AnthropicClient, StreamRecovery } from "@ballast/anthropic"
import { Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Classification } from "@ballast/core"
import { Cause, Chunk, Deferred, Effect, Exit, FastCheck, Fiber, Option, Stream, TestClock } from "effect"
import { eventually, inProcessClient, loopbackClient, params, realSleep } from "../utils.js"

/** A prompt whose default reply has 11 word deltas. */
const PROMPT = "please write about ballast tanks on old ships"
const REPLY = `Simulated reply to: ${PROMPT}`
const DELTAS = REPLY.split(" ").length

const timeouts = { idleTimeout: "5 seconds", contentTimeout: "20 seconds" } as const

/** A fast runner: 100 ms base, full jitter, 5 retries. */
const runner = StreamRecovery.retryRunner({ base: "100 millis", cap: "1 second", maxRetries: 5 })

type FaultKind = "error" | "drop" | "stall" | "ping-only" | "before-start"
const FAULTS: ReadonlyArray<FaultKind> = ["error", "drop", "stall", "ping-only", "before-start"]
const STRATEGIES: ReadonlyArray<StreamRecovery.Strategy> = ["restart", "continue", "fail"]

const faultOf = (kind: FaultKind, k: number): Fault.Fault => {
  switch (kind) {
    case "error":
      return Fault.streamError({ afterDeltas: k })
    case "drop":
      return Fault.streamDrop({ afterDeltas: k })
    case "stall":
      return Fault.streamStall({ afterDeltas: k })
    case "ping-only":
      return Fault.pingOnly({ every: "1 second" })
    case "before-start":
      return Fault.overloadedBeforeStart()
  }
}

/** Whether the fault strikes after content (k ≥ 1 deltas) rather than before it. */
const afterContent = (kind: FaultKind, k: number): boolean =>
  (kind === "error" || kind === "drop" || kind === "stall") && k >= 1

/**
 * Advances the TestClock one second at a time, letting the in-process I/O (promises, the SDK's
 * body reads) settle before each step, until the fiber is done. A step is a fifth of the idle
 * timeout, so a read still in progress never looks like a stall.
 */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      for (let j = 0; j < 3; j++) {
        const exit = yield* Fiber.poll(fiber)
        if (Option.isSome(exit)) return exit.value
        yield* realSleep(0)
      }
      yield* TestClock.adjust("1 second")
    }
    return yield* Effect.dieMessage("the stream did not finish within 1000 simulated seconds")
  })

interface Outcome {
  readonly events: ReadonlyArray<StreamRecovery.Event>
  /** Text as a consumer following the markers assembles it. */
  readonly text: string
  /** Every text delta, concatenated, ignoring the markers. */
  readonly raw: string
  readonly exit: Exit.Exit<void, StreamRecovery.Failure>
  readonly calls: ReadonlyArray<Simulator.CallRecord>
  readonly inFlight: number
}

/** Runs one resilient stream against a fresh simulator with the given script. */
const run = (
  script: ReadonlyArray<Fault.Fault>,
  options: StreamRecovery.Options,
  prompt = PROMPT
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const client = yield* inProcessClient
    const events: Array<StreamRecovery.Event> = []
    const fiber = yield* StreamRecovery.stream(params(prompt), { ...timeouts, runner, ...options }).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.provideService(AnthropicClient.AnthropicClient, client),
      Effect.fork
    )
    const exit = yield* drive(fiber)
    return {
      events,
      text: events.reduce(StreamRecovery.appendText, ""),
      raw: events.map(StreamRecovery.textOf).join(""),
      exit,
      calls: yield* Simulator.calls,
      inFlight: yield* Effect.flatMap(Simulator.Simulator, (sim) => sim.inFlight)
    }
  }).pipe(Effect.provide(Simulator.layer({ script })))

const summaryOf = (outcome: Outcome): StreamRecovery.Summary => {
  const last = outcome.events[outcome.events.length - 1]
  assert.isTrue(Exit.isSuccess(outcome.exit), `the stream succeeded: ${String(outcome.exit)}`)
  assert.isTrue(last !== undefined && StreamRecovery.isSummary(last), "the stream ends with its summary")
  return last as StreamRecovery.Summary
}

const failureOf = (outcome: Outcome): StreamRecovery.Failure => {
  const failure = Exit.isFailure(outcome.exit) ? Cause.failureOption(outcome.exit.cause) : Option.none()
  assert.isTrue(Option.isSome(failure), `the stream failed: ${String(outcome.exit)}`)
  return Option.getOrThrow(failure)
}

/** Sums what the simulator reported, call by call. */
const simulatorUsage = (calls: ReadonlyArray<Simulator.CallRecord>) =>
  calls.reduce(
    (sum, call) =>
      Option.match(call.usage, {
        onNone: () => sum,
        onSome: (u) => ({ input: sum.input + u.inputTokens, output: sum.output + u.outputTokens })
      }),
    { input: 0, output: 0 }
  )

/** The invariants every finished stream keeps, whatever happened. */
const checkCalls = (outcome: Outcome, stalledCalls: number) => {
  assert.strictEqual(outcome.inFlight, 0, "no call in flight")
  for (const call of outcome.calls) assert.isTrue(Option.isSome(call.endedAt), `call ${call.call} ended`)
  assert.deepStrictEqual(
    outcome.calls.filter((c) => c.aborted).map((c) => c.outcome),
    Array.from({ length: stalledCalls }, () => "stalled"),
    "only stalled calls are aborted (by the idle timeout)"
  )
}

const markers = (outcome: Outcome) => outcome.events.filter(StreamRecovery.isMarker).map((m) => m.type)

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("StreamRecovery: each stream fault × each strategy", () => {
    const k = 3
    for (const kind of FAULTS) {
      for (const strategy of STRATEGIES) {
        const mid = afterContent(kind, k)
        const name = mid && strategy === "fail"
          ? `${kind} after ${k} deltas, ${strategy}: a typed failure with the partial message`
          : `${kind}${kind === "error" || kind === "drop" || kind === "stall" ? ` after ${k} deltas` : ""}, ${strategy}: ` +
            `the reply exactly once`
        it.effect(name, () =>
          Effect.gen(function*() {
            const outcome = yield* run([faultOf(kind, k)], { strategy })
            const stalled = kind === "stall" || kind === "ping-only" ? 1 : 0
            checkCalls(outcome, stalled)
            const reported = simulatorUsage(outcome.calls)
            if (mid && strategy === "fail") {
              const failure = failureOf(outcome)
              assert.isTrue(StreamRecovery.isMidStreamFailure(failure), `MidStreamFailure, got ${String(failure)}`)
              const f = failure as StreamRecovery.MidStreamFailure
              const partialText = REPLY.split(" ").slice(0, k).join(" ") + " "
              assert.strictEqual(outcome.text, partialText)
              assert.deepStrictEqual(
                Option.map(f.partial, (m) => m.content.map((b) => (b.type === "text" ? b.text : "")).join("")),
                Option.some(partialText)
              )
              assert.strictEqual(
                f.error._tag,
                kind === "error" ? "Overloaded" : kind === "drop" ? "ConnectionFailed" : "StreamStalled"
              )
              assert.deepStrictEqual([f.usage.input_tokens, f.usage.output_tokens], [reported.input, reported.output])
              assert.strictEqual(outcome.calls.length, 1)
              return
            }
            const summary = summaryOf(outcome)
            assert.strictEqual(outcome.text, REPLY, "the text the consumer assembles")
            assert.strictEqual(summary.text, REPLY, "the summary's text")
            assert.strictEqual(outcome.calls.length, 2, "one failed call, one that completed")
            assert.strictEqual(summary.attempts.length, 2)
            assert.deepStrictEqual(
              [summary.usage.input_tokens, summary.usage.output_tokens],
              [reported.input, reported.output],
              "usage summed over both attempts equals what the simulator reported"
            )
            assert.deepStrictEqual(
              [summary.message.usage.input_tokens, summary.message.usage.output_tokens],
              [reported.input, reported.output]
            )
            assert.strictEqual(summary.message.stop_reason, "end_turn")
            if (!mid) {
              // Before content: retried by the runner, invisible to the consumer.
              assert.deepStrictEqual(markers(outcome), ["summary"])
              assert.strictEqual(outcome.raw, REPLY)
              assert.deepStrictEqual(summary.attempts.map((a) => a.mode), ["initial", "initial"])
              assert.strictEqual(summary.recoveries, 0)
            } else if (strategy === "restart") {
              assert.deepStrictEqual(markers(outcome), ["restarted", "summary"])
              // Without honouring the marker, a consumer would have the first k deltas twice.
              assert.strictEqual(outcome.raw, REPLY.split(" ").slice(0, k).join(" ") + " " + REPLY)
              assert.deepStrictEqual(summary.attempts.map((a) => a.mode), ["initial", "restart"])
              assert.strictEqual(summary.recoveries, 1)
            } else {
              assert.deepStrictEqual(markers(outcome), ["continued", "summary"])
              // Continued text is stitched: even the raw concatenation is the reply exactly once.
              assert.strictEqual(outcome.raw, REPLY)
              const continued = outcome.events.find(StreamRecovery.isContinued)
              assert.strictEqual(continued?.prefill, REPLY.split(" ").slice(0, k).join(" "))
              assert.deepStrictEqual(summary.attempts.map((a) => a.mode), ["initial", "continue"])
              // One message: one message_start, one text block, one message_stop.
              assert.deepStrictEqual(
                ["message_start", "content_block_start", "content_block_stop", "message_stop"].map((t) =>
                  outcome.events.filter((e) => e.type === t).length
                ),
                [1, 1, 1, 1]
              )
              assert.strictEqual(summary.message.content.length, 1)
            }
            const errorTag = Option.map(summary.attempts[0]!.error, (e) => e._tag)
            assert.deepStrictEqual(
              errorTag,
              Option.some(
                kind === "error" || kind === "before-start"
                  ? "Overloaded"
                  : kind === "drop"
                  ? "ConnectionFailed"
                  : "StreamStalled"
              )
            )
          }))
      }
    }
  })

  describe("StreamRecovery: details", () => {
    it.effect("a cut connection and a body that stops halfway through a frame are both recovered", () =>
      Effect.gen(function*() {
        const outcome = yield* run(
          [Fault.streamDrop({ afterDeltas: 5 }), Fault.streamDrop({ afterDeltas: 7, truncate: true })],
          { strategy: "continue" }
        )
        const summary = summaryOf(outcome)
        const errors = summary.attempts.flatMap((a) => Option.toArray(a.error))
        assert.deepStrictEqual(
          errors.map((e) => [e._tag, "errorType" in e ? e.errorType : "", "contentEmitted" in e && e.contentEmitted]),
          [["ConnectionFailed", "connection_error", true], ["ConnectionFailed", "stream_truncated", true]]
        )
        assert.strictEqual(outcome.raw, REPLY)
        assert.deepStrictEqual(outcome.calls.map((c) => [c.outcome, c.aborted]), [["dropped", false], ["dropped", false], [
          "ok",
          false
        ]])
      }))

    it.effect("an idle stall is detected at exactly idleTimeout after the last event", () =>
      Effect.gen(function*() {
        const outcome = yield* run([Fault.streamStall({ afterDeltas: 2 })], { strategy: "fail" })
        const failure = failureOf(outcome) as StreamRecovery.MidStreamFailure
        assert.strictEqual(failure.error._tag, "StreamStalled")
        const stalled = failure.error as StreamRecovery.StreamStalled
        assert.deepStrictEqual([stalled.reason, stalled.contentEmitted], ["idle", true])
        assert.deepStrictEqual(outcome.calls[0]?.endedAt, Option.some(5_000))
      }))

    it.effect("a content timeout shorter than the idle timeout catches a stream of pings only", () =>
      Effect.gen(function*() {
        const outcome = yield* run([Fault.pingOnly({ every: "1 second" })], {
          idleTimeout: "30 seconds",
          contentTimeout: "4 seconds"
        })
        const summary = summaryOf(outcome)
        const error = Option.getOrThrow(summary.attempts[0]!.error) as StreamRecovery.StreamStalled
        assert.deepStrictEqual([error._tag, error.reason], ["StreamStalled", "content"])
        assert.deepStrictEqual(outcome.calls[0]?.endedAt, Option.some(4_000))
        assert.strictEqual(outcome.text, REPLY)
      }))

    it.effect("several failures in a row: continued twice, the text is still exactly once", () =>
      Effect.gen(function*() {
        const outcome = yield* run(
          [Fault.streamError({ afterDeltas: 2 }), Fault.streamDrop({ afterDeltas: 3 }), Fault.overloaded()],
          { strategy: "continue" }
        )
        const summary = summaryOf(outcome)
        assert.strictEqual(outcome.raw, REPLY)
        assert.deepStrictEqual(markers(outcome), ["continued", "continued", "summary"])
        assert.deepStrictEqual(summary.attempts.map((a) => a.mode), ["initial", "continue", "continue", "continue"])
        assert.deepStrictEqual(
          outcome.calls.map((c) => Option.getOrNull(c.status)),
          [200, 200, 529, 200]
        )
        const reported = simulatorUsage(outcome.calls)
        assert.deepStrictEqual([summary.usage.input_tokens, summary.usage.output_tokens], [reported.input, reported.output])
        // Each continuation sends a longer prefill, so it costs more input tokens than the first call.
        const inputs = outcome.calls.flatMap((c) => Option.toArray(Option.map(c.usage, (u) => u.inputTokens)))
        assert.isTrue(inputs[1]! > inputs[0]! && inputs[2]! > inputs[1]!, `inputs grow: ${inputs.join(", ")}`)
      }))

    it.effect("maxRecoveries bounds the recoveries; then MidStreamFailure carries every attempt", () =>
      Effect.gen(function*() {
        const outcome = yield* run([Fault.streamError({ afterDeltas: 1, times: 3 })], {
          strategy: "restart",
          maxRecoveries: 2
        })
        const failure = failureOf(outcome) as StreamRecovery.MidStreamFailure
        assert.strictEqual(failure._tag, "MidStreamFailure")
        assert.deepStrictEqual([failure.recoveries, failure.attempts.length], [2, 3])
        assert.deepStrictEqual(markers(outcome), ["restarted", "restarted"])
        assert.strictEqual(outcome.text, "Simulated ")
        // The consumer has seen content: the failure must not be retried blindly by an outer policy.
        assert.deepStrictEqual(
          [Classification.classify(failure).kind, Classification.isRetryable(failure)],
          ["Overloaded", false]
        )
      }))

    it.effect("a refused prefill (400) falls back to restart", () =>
      Effect.gen(function*() {
        const outcome = yield* run(
          [Fault.streamError({ afterDeltas: 2 }), Fault.status(400, { message: "prefill is not supported" })],
          { strategy: "continue" }
        )
        const summary = summaryOf(outcome)
        assert.strictEqual(outcome.text, REPLY)
        assert.deepStrictEqual(markers(outcome), ["continued", "restarted", "summary"])
        assert.deepStrictEqual(summary.attempts.map((a) => a.mode), ["initial", "continue", "restart"])
      }))

    it.effect("a request that enables extended thinking is restarted, not continued", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const events = yield* StreamRecovery.stream(
          { ...params(PROMPT), thinking: { type: "adaptive" } },
          { ...timeouts, runner, strategy: "continue" }
        ).pipe(Stream.runCollect, Effect.provideService(AnthropicClient.AnthropicClient, client))
        const list = Chunk.toReadonlyArray(events)
        assert.deepStrictEqual(list.filter(StreamRecovery.isMarker).map((m) => m.type), ["restarted", "summary"])
        assert.strictEqual(list.reduce(StreamRecovery.appendText, ""), REPLY)
      }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamError({ afterDeltas: 2 })] }))))

    it.effect("interrupting the consumer aborts the call in flight", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const seen = yield* Deferred.make<void>()
        let deltas = 0
        const fiber = yield* StreamRecovery.stream(params(PROMPT), { ...timeouts, runner }).pipe(
          Stream.runForEach((event) =>
            event.type === "content_block_delta" && ++deltas === 2 ? Deferred.succeed(seen, undefined) : Effect.void
          ),
          Effect.provideService(AnthropicClient.AnthropicClient, client),
          Effect.fork
        )
        yield* Deferred.await(seen)
        yield* Fiber.interrupt(fiber)
        yield* realSleep(0)
        const calls = yield* Simulator.calls
        assert.deepStrictEqual(calls.map((c) => [c.outcome, c.aborted]), [["stalled", true]])
        assert.strictEqual(yield* Effect.flatMap(Simulator.Simulator, (sim) => sim.inFlight), 0)
      }).pipe(Effect.provide(Simulator.layer({ script: [Fault.streamStall({ afterDeltas: 2 })] }))))

    it.effect("interrupting the consumer while a recovery waits out its backoff sends nothing more", () =>
      Effect.gen(function*() {
        const client = yield* inProcessClient
        const fiber = yield* StreamRecovery.collect(params(PROMPT), { ...timeouts, runner }).pipe(
          Effect.provideService(AnthropicClient.AnthropicClient, client),
          Effect.fork
        )
        // call 1 fails mid-stream, call 2 (the continuation) answers 529: the runner backs off.
        yield* Simulator.awaitCalls(2)
        yield* realSleep(0)
        yield* Fiber.interrupt(fiber)
        const calls = yield* Simulator.calls
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(calls.map((c) => [Option.getOrNull(c.status), c.aborted]), [[200, false], [529, false]])
        assert.strictEqual((yield* Simulator.calls).length, 2)
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.streamError({ afterDeltas: 2 }), Fault.overloaded({ times: "forever" })]
      }))))
  })

  describe("StreamRecovery: over the loopback HTTP server (real clock)", () => {
    it.scopedLive("an overload event and a body cut halfway through a frame: continued, the reply exactly once", () =>
      Effect.gen(function*() {
        const client = yield* loopbackClient
        const events = yield* StreamRecovery.stream(params(PROMPT), { runner, strategy: "continue" }).pipe(
          Stream.runCollect,
          Effect.provideService(AnthropicClient.AnthropicClient, client)
        )
        const list = Chunk.toReadonlyArray(events)
        assert.strictEqual(list.map(StreamRecovery.textOf).join(""), REPLY)
        const summary = list.find(StreamRecovery.isSummary)!
        assert.deepStrictEqual(
          summary.attempts.map((a) => [a.mode, Option.map(a.error, (e) => ("errorType" in e ? e.errorType : e._tag))]),
          [
            ["initial", Option.some("overloaded_error")],
            ["continue", Option.some("stream_truncated")],
            ["continue", Option.none()]
          ]
        )
        const calls = yield* eventually(Simulator.calls, (cs) => cs.every((c) => Option.isSome(c.endedAt)))
        assert.deepStrictEqual(calls.map((c) => [c.outcome, c.aborted]), [["stream_error", false], ["dropped", false], [
          "ok",
          false
        ]])
        const reported = simulatorUsage(calls)
        assert.deepStrictEqual([summary.usage.input_tokens, summary.usage.output_tokens], [reported.input, reported.output])
      }).pipe(Effect.provide(Simulator.layer({
        script: [Fault.streamError({ afterDeltas: 4 }), Fault.streamDrop({ afterDeltas: 6, truncate: true })]
      }))))
  })

  describe("StreamRecovery: properties", () => {
    it.effect.prop(
      "any fault at any position, any strategy: the reply exactly once, or a MidStreamFailure with its prefix",
      {
        kind: FastCheck.constantFrom<FaultKind>(...FAULTS),
        k: FastCheck.integer({ min: 0, max: DELTAS - 1 }),
        strategy: FastCheck.constantFrom<StreamRecovery.Strategy>(...STRATEGIES),
        second: FastCheck.option(FastCheck.integer({ min: 0, max: DELTAS - 1 }), { nil: undefined })
      },
      ({ k, kind, second, strategy }) =>
        Effect.gen(function*() {
          const script = second === undefined ? [faultOf(kind, k)] : [faultOf(kind, k), Fault.streamError({ afterDeltas: second })]
          const outcome = yield* run(script, { strategy })
          const reported = simulatorUsage(outcome.calls)
          assert.strictEqual(outcome.inFlight, 0)
          if (Exit.isFailure(outcome.exit)) {
            const failure = failureOf(outcome)
            assert.isTrue(strategy === "fail" && StreamRecovery.isMidStreamFailure(failure), String(failure))
            const f = failure as StreamRecovery.MidStreamFailure
            assert.isTrue(REPLY.startsWith(outcome.text), `${outcome.text} is a prefix of the reply`)
            assert.isTrue(outcome.text.length > 0)
            assert.deepStrictEqual([f.usage.input_tokens, f.usage.output_tokens], [reported.input, reported.output])
            return
          }
          const summary = summaryOf(outcome)
          assert.strictEqual(outcome.text, REPLY)
          assert.strictEqual(summary.text, REPLY)
          if (strategy === "continue") assert.strictEqual(outcome.raw, REPLY)
          assert.deepStrictEqual([summary.usage.input_tokens, summary.usage.output_tokens], [reported.input, reported.output])
          assert.strictEqual(summary.attempts.length, outcome.calls.length)
        }),
      { fastCheck: { numRuns: 20 } }
    )
  })
}

