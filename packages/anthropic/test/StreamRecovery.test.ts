/**
 * `StreamRecovery.stream` against a scripted `AnthropicClient` (pure Effect streams, TestClock):
 * the requests it sends (prefill, model from the runner), the fallbacks from continue to restart,
 * the runner seam (its scope lives as long as a leg's stream), pings and timeouts, interruption.
 * The end-to-end suite (test/suites/Streams.ts) runs the same code over the real SDK and simulator.
 */
import type { RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Data, Duration, Effect, Exit, Fiber, Option, Ref, Stream, TestClock } from "effect"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as AnthropicError from "../src/AnthropicError.js"
import * as RateLimit from "../src/RateLimit.js"
import * as StreamRecovery from "../src/StreamRecovery.js"

// ---------------------------------------------------------------------------------------------
// A scripted client

type Item = RawMessageStreamEvent | { readonly type: "ping" } | { readonly type: "wait"; readonly millis: number }

interface Reply {
  /** Fails before the response (like an HTTP 529). */
  readonly refuse?: AnthropicError.AnthropicError
  readonly items?: ReadonlyArray<Item>
  /** After the items: end, hang forever, or fail. Default: end. */
  readonly then?: "end" | "hang" | AnthropicError.AnthropicError
}

const fields = (errorType: string, contentEmitted: boolean): AnthropicError.Fields => ({
  status: Option.none(),
  errorType,
  errorCode: Option.none(),
  message: errorType,
  requestId: Option.none(),
  retryAfter: Option.none(),
  shouldRetry: Option.none(),
  rateLimit: RateLimit.empty,
  inStream: true,
  contentEmitted,
  raw: Option.none()
})
const overloaded = (contentEmitted = true) => new AnthropicError.Overloaded(fields("overloaded_error", contentEmitted))
const invalid = () => new AnthropicError.InvalidRequest(fields("invalid_request_error", true))

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation: null,
  cache_creation_input_tokens: null,
  cache_read_input_tokens: null,
  inference_geo: null,
  output_tokens_details: null,
  server_tool_use: null,
  service_tier: null,
  speed: null
})

const messageStart = (input: number): RawMessageStreamEvent => ({
  type: "message_start",
  message: {
    id: "msg_fake",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    container: null,
    diagnostics: null,
    stop_details: null,
    stop_reason: null,
    stop_sequence: null,
    usage: usage(input, 1)
  }
})
const textStart = (index: number): RawMessageStreamEvent => ({
  type: "content_block_start",
  index,
  content_block: { type: "text", text: "", citations: null }
})
const text = (index: number, t: string): RawMessageStreamEvent => ({
  type: "content_block_delta",
  index,
  delta: { type: "text_delta", text: t }
})
const toolStart = (index: number): RawMessageStreamEvent => ({
  type: "content_block_start",
  index,
  content_block: { type: "tool_use", id: "toolu_1", name: "lookup", input: {}, caller: { type: "direct" } } as never
})
const json = (index: number, partial: string): RawMessageStreamEvent => ({
  type: "content_block_delta",
  index,
  delta: { type: "input_json_delta", partial_json: partial }
})
const stop = (index: number): RawMessageStreamEvent => ({ type: "content_block_stop", index })
const end = (stopReason: "end_turn" | "tool_use", output: number): ReadonlyArray<RawMessageStreamEvent> => [
  {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null, container: null, stop_details: null },
    usage: {
      output_tokens: output,
      input_tokens: null,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      output_tokens_details: null,
      server_tool_use: null
    }
  },
  { type: "message_stop" }
]
const words = (t: string): ReadonlyArray<string> => t.match(/\S+\s*|\s+/g) ?? []

/** A whole text answer, one delta per word. */
const answer = (t: string, input = 10): ReadonlyArray<Item> => [
  messageStart(input),
  textStart(0),
  ...words(t).map((w) => text(0, w)),
  stop(0),
  ...end("end_turn", Math.ceil(t.length / 4))
]
/** The first `n` word deltas of an answer. */
const partial = (t: string, n: number, input = 10): ReadonlyArray<Item> => [
  messageStart(input),
  textStart(0),
  ...words(t).slice(0, n).map((w) => text(0, w))
]

interface Fake {
  readonly layer: AnthropicClient.AnthropicClient.Service
  readonly requests: Array<StreamRecovery.Params>
  /** Request numbers (1-based) whose scope was closed. */
  readonly closed: Array<number>
}

const fake = (replies: ReadonlyArray<Reply>): Fake => {
  const requests: Array<StreamRecovery.Params> = []
  const closed: Array<number> = []
  const streamWithResponse = (params: AnthropicClient.StreamParams) =>
    Effect.gen(function*() {
      const n = requests.push(params)
      yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(n)))
      const reply = replies[n - 1] ?? { items: answer("fallthrough answer") }
      if (reply.refuse !== undefined) return yield* Effect.fail(reply.refuse)
      const then = reply.then ?? "end"
      const tail: Stream.Stream<RawMessageStreamEvent, AnthropicError.AnthropicError> = then === "end"
        ? Stream.empty
        : then === "hang"
        ? Stream.never
        : Stream.fail(then)
      const items = Stream.fromIterable(reply.items ?? []).pipe(
        Stream.mapEffect((item) =>
          item.type === "wait"
            ? Effect.as(Effect.sleep(item.millis), Option.none())
            : Effect.succeed(Option.some(item as RawMessageStreamEvent))
        ),
        Stream.filterMap((o) => o)
      )
      return {
        value: Stream.concat(items, tail),
        requestId: Option.some(`req_${n}`),
        rateLimit: RateLimit.empty
      }
    })
  return {
    layer: { messages: { streamWithResponse } } as unknown as AnthropicClient.AnthropicClient.Service,
    requests,
    closed
  }
}

const params = (messages: StreamRecovery.Params["messages"] = [{ role: "user", content: "hi" }]) => ({
  model: "claude-test",
  max_tokens: 256,
  messages
})

/** Lets the fiber run, then advances the TestClock one second at a time until it is done. */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.gen(function*() {
    for (let i = 0; i < 5_000; i++) {
      for (let j = 0; j < 200; j++) {
        const exit = yield* Fiber.poll(fiber)
        if (Option.isSome(exit)) return exit.value
        yield* Effect.yieldNow()
      }
      yield* TestClock.adjust("1 second")
    }
    return yield* Effect.dieMessage("not done")
  })

const run = <X>(f: Fake, options: StreamRecovery.Options<X>, p = params()) =>
  Effect.gen(function*() {
    const events: Array<StreamRecovery.Event> = []
    const fiber = yield* StreamRecovery.stream(p, { idleTimeout: "5 seconds", contentTimeout: "20 seconds", ...options })
      .pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.provideService(AnthropicClient.AnthropicClient, f.layer),
        Effect.fork
      )
    const exit = yield* drive(fiber)
    return {
      exit,
      events,
      text: events.reduce(StreamRecovery.appendText, ""),
      markers: events.filter(StreamRecovery.isMarker).map((m) => m.type),
      summary: Option.fromNullable(events.find(StreamRecovery.isSummary))
    }
  })

const failure = <E>(exit: Exit.Exit<unknown, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "failed")
  return Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<unknown, E>).cause))
}

class Refused extends Data.TaggedError("Refused")<{}> {}

// ---------------------------------------------------------------------------------------------

describe("StreamRecovery", () => {
  describe("continue", () => {
    it.effect("sends the text so far as an assistant prefill, trailing whitespace trimmed", () =>
      Effect.gen(function*() {
        const full = "The answer is forty two."
        const f = fake([
          { items: partial(full, 3), then: overloaded() },
          { items: answer(" forty two.") }
        ])
        const out = yield* run(f, {})
        assert.strictEqual(out.text, full)
        assert.deepStrictEqual(f.requests[1]!.messages, [
          { role: "user", content: "hi" },
          { role: "assistant", content: "The answer is" }
        ])
        assert.deepStrictEqual(out.markers, ["continued", "summary"])
      }))

    it.effect("extends the request's own prefill (string or blocks)", () =>
      Effect.gen(function*() {
        const f = fake([{ items: partial("42 is the answer", 2), then: overloaded() }, { items: answer(" the answer") }])
        const out = yield* run(
          f,
          {},
          params([{ role: "user", content: "hi" }, { role: "assistant", content: "Answer:" }])
        )
        assert.strictEqual(out.text, "42 is the answer")
        assert.deepStrictEqual(f.requests[1]!.messages[1], { role: "assistant", content: "Answer:42 is" })

        const g = fake([{ items: partial("42 is", 1), then: overloaded() }, { items: answer(" is") }])
        yield* run(
          g,
          {},
          params([{ role: "user", content: "hi" }, { role: "assistant", content: [{ type: "text", text: "A:" }] }])
        )
        assert.deepStrictEqual(g.requests[1]!.messages[1], {
          role: "assistant",
          content: [{ type: "text", text: "A:" }, { type: "text", text: "42" }]
        })
      }))

    it.effect("falls back to restart when a tool-use block is open; the final message has the tool input", () =>
      Effect.gen(function*() {
        const toolCall = (cut: boolean): ReadonlyArray<Item> => [
          messageStart(10),
          textStart(0),
          text(0, "Let me look."),
          stop(0),
          toolStart(1),
          json(1, "{\"q\": \"bal"),
          ...(cut ? [] : [json(1, "last\"}"), stop(1), ...end("tool_use", 20)])
        ]
        const f = fake([{ items: toolCall(true), then: overloaded() }, { items: toolCall(false) }])
        const out = yield* run(f, { strategy: "continue" })
        assert.deepStrictEqual(out.markers, ["restarted", "summary"])
        assert.deepStrictEqual(f.requests[1]!.messages, params().messages, "no prefill")
        const message = Option.getOrThrow(out.summary).message
        assert.deepStrictEqual(message.content.map((b) => b.type), ["text", "tool_use"])
        assert.deepStrictEqual((message.content[1] as { input: unknown }).input, { q: "ballast" })
        assert.strictEqual(message.stop_reason, "tool_use")
      }))

    it.effect("falls back to restart when the partial message holds a finished tool-use block", () =>
      Effect.gen(function*() {
        const items: ReadonlyArray<Item> = [
          messageStart(10),
          toolStart(0),
          json(0, "{}"),
          stop(0),
          textStart(1),
          text(1, "and ")
        ]
        const f = fake([{ items, then: overloaded() }])
        const out = yield* run(f, {})
        assert.deepStrictEqual(out.markers, ["restarted", "summary"])
        assert.strictEqual(f.requests.length, 2)
        assert.deepStrictEqual(f.requests[1]!.messages, params().messages)
      }))
  })

  describe("failures", () => {
    it.effect("a permanent in-stream error is not recovered: MidStreamFailure with the partial message", () =>
      Effect.gen(function*() {
        const f = fake([{ items: partial("one two three", 2), then: invalid() }])
        const out = yield* run(f, { strategy: "restart" })
        const error = failure(out.exit)
        assert.isTrue(StreamRecovery.isMidStreamFailure(error))
        const mid = error as StreamRecovery.MidStreamFailure
        assert.strictEqual(mid.error._tag, "InvalidRequest")
        assert.strictEqual(f.requests.length, 1)
        assert.deepStrictEqual(
          Option.map(mid.partial, (m) => m.content.map((b) => (b.type === "text" ? b.text : ""))),
          Option.some(["one two "])
        )
        assert.deepStrictEqual([mid.usage.input_tokens, mid.usage.output_tokens], [10, 1])
      }))

    it.effect("a failure before content fails with the error itself once the runner gives up", () =>
      Effect.gen(function*() {
        const f = fake([{ refuse: overloaded(false) }, { refuse: overloaded(false) }])
        const out = yield* run(f, { runner: StreamRecovery.retryRunner({ maxRetries: 1, base: "10 millis" }) })
        const error = failure(out.exit)
        assert.strictEqual(error._tag, "Overloaded")
        assert.deepStrictEqual(out.events, [])
        assert.deepStrictEqual(f.closed, [1, 2], "both attempts' scopes closed")
      }))

    it.effect("a failure before content is retried without a marker; its usage still counts", () =>
      Effect.gen(function*() {
        const f = fake([
          { items: [messageStart(10)], then: overloaded(false) },
          { refuse: overloaded(false) },
          { items: answer("fine", 10) }
        ])
        const out = yield* run(f, { runner: StreamRecovery.retryRunner({ base: "10 millis" }) })
        const summary = Option.getOrThrow(out.summary)
        assert.deepStrictEqual(out.markers, ["summary"])
        assert.deepStrictEqual(summary.attempts.map((a) => Option.map(a.usage, (u) => u.input_tokens)), [
          Option.some(10),
          Option.none(),
          Option.some(10)
        ])
        assert.deepStrictEqual([summary.usage.input_tokens, summary.usage.output_tokens], [20, 2])
        assert.strictEqual(out.events.filter((e) => e.type === "message_start").length, 1)
      }))
  })

  describe("timeouts", () => {
    it.effect("pings keep the idle timer alive but not the content timer", () =>
      Effect.gen(function*() {
        const pings: ReadonlyArray<Item> = Array.from({ length: 30 }, () => [{ type: "wait", millis: 2_000 }, {
          type: "ping"
        }] as const).flat()
        const f = fake([{ items: [messageStart(10), ...pings], then: "hang" }])
        const out = yield* run(f, { strategy: "fail" })
        const summary = Option.getOrThrow(out.summary)
        const error = Option.getOrThrow(summary.attempts[0]!.error) as StreamRecovery.StreamStalled
        assert.deepStrictEqual([error._tag, error.reason], ["StreamStalled", "content"])
        assert.strictEqual(out.text, "fallthrough answer")
      }))

    it.effect("without pings the idle timeout fires first", () =>
      Effect.gen(function*() {
        const f = fake([{ items: [messageStart(10)], then: "hang" }])
        const out = yield* run(f, {})
        const error = Option.getOrThrow(Option.getOrThrow(out.summary).attempts[0]!.error) as StreamRecovery.StreamStalled
        assert.deepStrictEqual([error.reason, Duration.toMillis(error.timeout)], ["idle", 5_000])
      }))

    it.effect("a slow consumer is not a stall: only time spent waiting for events counts", () =>
      Effect.gen(function*() {
        const f = fake([{ items: answer("one two three four") }])
        const fiber = yield* StreamRecovery.stream(params(), { idleTimeout: "5 seconds", contentTimeout: "8 seconds" }).pipe(
          Stream.tap(() => Effect.sleep("10 seconds")),
          Stream.runCollect,
          Effect.provideService(AnthropicClient.AnthropicClient, f.layer),
          Effect.fork
        )
        const exit = yield* drive(fiber)
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(f.requests.length, 1)
      }))
  })

  describe("the runner seam", () => {
    it.effect("the runner's key is the model sent; its errors pass through before content", () =>
      Effect.gen(function*() {
        const seen: Array<StreamRecovery.Attempt> = []
        const fallback: StreamRecovery.Runner<Refused> = (attempt) =>
          Effect.gen(function*() {
            for (const key of ["claude-big", "claude-small"]) {
              const a = { key, attempt: 1 }
              seen.push(a)
              const result = yield* Effect.either(attempt(a))
              if (result._tag === "Right") return result.right
            }
            return yield* Effect.fail(new Refused())
          })
        const f = fake([{ refuse: overloaded(false) }, { items: answer("from the small one") }])
        const out = yield* run(f, { runner: fallback })
        assert.deepStrictEqual(f.requests.map((r) => r.model), ["claude-big", "claude-small"])
        assert.deepStrictEqual(
          Option.getOrThrow(out.summary).attempts.map((a) => a.model),
          ["claude-big", "claude-small"]
        )
        assert.strictEqual(out.text, "from the small one")

        const g = fake([{ refuse: overloaded(false) }, { refuse: overloaded(false) }])
        const refused = yield* run(g, { runner: fallback })
        assert.strictEqual(failure(refused.exit)._tag, "Refused")
      }))

    it.effect("a runner error after content comes wrapped in MidStreamFailure", () =>
      Effect.gen(function*() {
        let calls = 0
        const once: StreamRecovery.Runner<Refused> = (attempt) =>
          ++calls === 1 ? attempt({ key: "claude-test", attempt: 1 }) : Effect.fail(new Refused())
        const f = fake([{ items: partial("a b c", 2), then: overloaded() }])
        const out = yield* run(f, { runner: once, strategy: "restart" })
        const error = failure(out.exit) as StreamRecovery.MidStreamFailure<unknown>
        assert.strictEqual(error._tag, "MidStreamFailure")
        assert.strictEqual((error.error as Refused)._tag, "Refused")
        // The marker came at once (before the runner ran); the discarded text is still in .partial.
        assert.deepStrictEqual(out.markers, ["restarted"])
        assert.strictEqual(out.text, "")
        assert.deepStrictEqual(
          Option.map(error.partial, (m) => m.content.map((b) => (b.type === "text" ? b.text : "")).join("")),
          Option.some("a b ")
        )
      }))

    it.effect("what the runner puts in its scope lives as long as the leg's stream, and no longer", () =>
      Effect.gen(function*() {
        const held = yield* Ref.make(0)
        const peak = yield* Ref.make(0)
        const permits: StreamRecovery.Runner = (attempt, options) =>
          Effect.gen(function*() {
            yield* Effect.acquireRelease(
              Effect.zipRight(Ref.update(held, (n) => n + 1), Effect.flatMap(Ref.get(held), (n) => Ref.update(peak, (p) => Math.max(p, n)))),
              () => Ref.update(held, (n) => n - 1)
            )
            return yield* attempt({ key: options?.key ?? "", attempt: 1 })
          })
        const f = fake([{ items: partial("one two three", 2), then: overloaded() }, { items: answer(" three") }])
        const during: Array<number> = []
        const fiber = yield* StreamRecovery.stream(params(), { runner: permits }).pipe(
          Stream.runForEach((e) =>
            e.type === "content_block_delta" ? Effect.flatMap(Ref.get(held), (n) => Effect.sync(() => during.push(n))) : Effect.void
          ),
          Effect.provideService(AnthropicClient.AnthropicClient, f.layer),
          Effect.fork
        )
        assert.isTrue(Exit.isSuccess(yield* drive(fiber)))
        assert.deepStrictEqual(during, [1, 1, 1], "held while each leg streams")
        assert.deepStrictEqual([yield* Ref.get(held), yield* Ref.get(peak)], [0, 1], "returned; never two at once")

        // Interrupted mid-stream: the permit and the connection are released.
        const g = fake([{ items: partial("one two three", 2), then: "hang" }])
        const stalled = yield* StreamRecovery.stream(params(), { runner: permits, idleTimeout: "1 hour" }).pipe(
          Stream.runDrain,
          Effect.provideService(AnthropicClient.AnthropicClient, g.layer),
          Effect.fork
        )
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Ref.get(held), 1)
        yield* Fiber.interrupt(stalled)
        assert.strictEqual(yield* Ref.get(held), 0)
        assert.deepStrictEqual(g.closed, [1])
      }))

    it.effect("a failed attempt's connection is closed before the next attempt starts", () =>
      Effect.gen(function*() {
        const f = fake([{ items: [messageStart(10)], then: "hang" }, { items: answer("ok") }])
        const order: Array<string> = []
        const runner: StreamRecovery.Runner = (attempt, options) =>
          Effect.gen(function*() {
            const first = yield* Effect.either(attempt({ key: options?.key ?? "", attempt: 1 }))
            order.push(`closed:${f.closed.join(",")}`)
            if (first._tag === "Right") return first.right
            return yield* attempt({ key: options?.key ?? "", attempt: 2 })
          })
        const out = yield* run(f, { runner })
        assert.deepStrictEqual(order, ["closed:1"])
        assert.strictEqual(out.text, "ok")
        assert.deepStrictEqual(f.closed, [1, 2])
      }))
  })

  it.effect("collect returns the summary; Chunk of events ends with it", () =>
    Effect.gen(function*() {
      const f = fake([{ items: answer("hello there") }])
      const summary = yield* StreamRecovery.collect(params()).pipe(
        Effect.provideService(AnthropicClient.AnthropicClient, f.layer)
      )
      assert.deepStrictEqual([summary.text, summary.recoveries, summary.attempts.length], ["hello there", 0, 1])
      const events = yield* Stream.runCollect(StreamRecovery.stream(params())).pipe(
        Effect.provideService(AnthropicClient.AnthropicClient, fake([{ items: answer("x") }]).layer)
      )
      assert.deepStrictEqual(Option.map(Chunk.last(events), (e) => e.type), Option.some("summary"))
    }))

  it.effect("scopes: every request's scope is closed when the stream ends", () =>
    Effect.gen(function*() {
      const f = fake([{ items: partial("a b c", 1), then: overloaded() }, { items: answer(" b c") }])
      const out = yield* run(f, { strategy: "restart" })
      assert.isTrue(Exit.isSuccess(out.exit))
      assert.deepStrictEqual([...f.closed].sort(), [1, 2])
    }))
})
