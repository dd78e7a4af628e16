import { Classification } from "@ballast/core"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Config, ConfigProvider, Effect, Exit, Fiber, Layer, Option, Redacted, Ref, Stream, TestClock, Tracer } from "effect"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as AnthropicError from "../src/AnthropicError.js"
import {
  API_KEY,
  BASE_URL,
  blockStart,
  blockStop,
  errorBody,
  hang,
  layer,
  message,
  messageDelta,
  messageStart,
  messageStop,
  params,
  ping,
  respond,
  sse,
  sseResponse,
  stub,
  textDelta
} from "./stubs.js"

const Client = AnthropicClient.AnthropicClient

const overloadedEvent = sse("error", {
  type: "error",
  error: { type: "overloaded_error", message: "Overloaded" },
  request_id: "req_stream_0001"
})

describe("AnthropicClient", () => {
  describe("messages.create", () => {
    it.effect("returns the message; sends the key as a bearer token, once, with no retries", () =>
      Effect.gen(function*() {
        const s = stub(() => respond(200, JSON.stringify(message), { "request-id": "req_ok" }))
        const result = yield* Effect.flatMap(Client, (client) => client.messages.create(params)).pipe(
          Effect.provide(layer(s.fetch))
        )
        assert.strictEqual(result.id, "msg_1")
        assert.strictEqual(s.calls.length, 1)
        const call = s.calls[0]!
        assert.strictEqual(call.url, `${BASE_URL}/v1/messages`)
        const headers = new Headers(call.init?.headers)
        assert.strictEqual(headers.get("authorization"), `Bearer ${API_KEY}`)
        assert.strictEqual(headers.get("x-stainless-retry-count"), "0")
        assert.strictEqual(JSON.parse(String(call.init?.body)).model, "claude-test")
      }))

    it.effect("createWithResponse exposes the request id and rate-limit headers of a success", () =>
      Effect.gen(function*() {
        const s = stub(() =>
          respond(200, JSON.stringify(message), {
            "request-id": "req_ok",
            "anthropic-ratelimit-tokens-limit": "100000",
            "anthropic-ratelimit-tokens-remaining": "99000",
            "anthropic-ratelimit-tokens-reset": "2026-11-27T10:01:00Z"
          })
        )
        const result = yield* Effect.flatMap(Client, (client) => client.messages.createWithResponse(params)).pipe(
          Effect.provide(layer(s.fetch))
        )
        assert.strictEqual(result.value.id, "msg_1")
        assert.deepStrictEqual(result.requestId, Option.some("req_ok"))
        assert.deepStrictEqual(result.rateLimit.tokens.remaining, Option.some(99000))
        assert.deepStrictEqual(
          Option.map(result.rateLimit.tokens.reset, (d) => d.epochMillis),
          Option.some(Date.parse("2026-11-27T10:01:00Z"))
        )
        assert.deepStrictEqual(result.rateLimit.requests.limit, Option.none())
      }))

    it.effect("per-call and default headers are sent", () =>
      Effect.gen(function*() {
        const s = stub(() => respond(200, JSON.stringify(message)))
        yield* Effect.flatMap(Client, (client) => client.messages.create(params, { headers: { "x-call": "1" } })).pipe(
          Effect.provide(layer(s.fetch, { defaultHeaders: { "x-default": "yes" } }))
        )
        const headers = new Headers(s.calls[0]!.init?.headers)
        assert.strictEqual(headers.get("x-call"), "1")
        assert.strictEqual(headers.get("x-default"), "yes")
      }))

    it.effect("interruption aborts the HTTP request", () =>
      Effect.gen(function*() {
        const s = stub(hang)
        const fiber = yield* Effect.flatMap(Client, (client) => client.messages.create(params)).pipe(
          Effect.provide(layer(s.fetch)),
          Effect.fork
        )
        const call = yield* Effect.promise(() => s.call(0))
        assert.isFalse(call.isAborted())
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* Effect.promise(() => call.aborted)
        assert.isTrue(call.isAborted())
        assert.strictEqual(s.calls.length, 1)
      }))

    it.effect("Effect.timeout aborts the HTTP request", () =>
      Effect.gen(function*() {
        const s = stub(hang)
        const fiber = yield* Effect.flatMap(Client, (client) => client.messages.create(params)).pipe(
          Effect.timeout("5 seconds"),
          Effect.provide(layer(s.fetch)),
          Effect.fork
        )
        const call = yield* Effect.promise(() => s.call(0))
        yield* TestClock.adjust("5 seconds")
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        assert.isTrue(call.isAborted())
      }))
  })

  describe("messages.stream", () => {
    it.effect("emits the SDK's events (ping skipped) and ends after message_stop", () =>
      Effect.gen(function*() {
        const s = stub((call) =>
          sseResponse(call, [messageStart, ping, blockStart, textDelta("Hel"), textDelta("lo"), blockStop, messageDelta, messageStop])
        )
        const events = yield* Effect.flatMap(Client, (client) => Stream.runCollect(client.messages.stream(params))).pipe(
          Effect.provide(layer(s.fetch))
        )
        assert.deepStrictEqual(
          Chunk.toReadonlyArray(events).map((e) => e.type),
          [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
          ]
        )
        assert.isTrue(JSON.parse(String(s.calls[0]!.init?.body)).stream)
        assert.strictEqual(s.calls.length, 1)
      }))

    it.effect("event: error overloaded_error after content -> Overloaded, inStream, contentEmitted", () =>
      Effect.gen(function*() {
        const s = stub((call) => sseResponse(call, [messageStart, blockStart, textDelta("Hel"), overloadedEvent]))
        const seen = yield* Ref.make<Array<string>>([])
        const error = yield* Effect.flatMap(Client, (client) =>
          client.messages.stream(params).pipe(
            Stream.tap((e) => Ref.update(seen, (xs) => [...xs, e.type])),
            Stream.runDrain,
            Effect.flip
          )).pipe(Effect.provide(layer(s.fetch)))
        assert.deepStrictEqual(yield* Ref.get(seen), ["message_start", "content_block_start", "content_block_delta"])
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.strictEqual(error.errorType, "overloaded_error")
        assert.strictEqual(error.message, "Overloaded")
        assert.deepStrictEqual(error.status, Option.none())
        assert.deepStrictEqual(error.requestId, Option.some("req_stream_0001"))
        assert.isTrue(error.inStream)
        assert.isTrue(error.contentEmitted)
        assert.isTrue(Classification.isOverloaded(error))
        assert.strictEqual(s.calls.length, 1)
      }))

    it.effect("event: error before any content -> contentEmitted false", () =>
      Effect.gen(function*() {
        const s = stub((call) => sseResponse(call, [messageStart, ping, overloadedEvent]))
        const error = yield* Effect.flatMap(Client, (client) => Effect.flip(Stream.runDrain(client.messages.stream(params))))
          .pipe(Effect.provide(layer(s.fetch)))
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.isTrue(error.inStream)
        assert.isFalse(error.contentEmitted)
      }))

    it.effect("in-stream rate_limit_error and api_error map like 429 and 500; a non-JSON error event is kept raw", () =>
      Effect.gen(function*() {
        const run = (event: string) => {
          const s = stub((call) => sseResponse(call, [messageStart, event]))
          return Effect.flatMap(Client, (client) => Effect.flip(Stream.runDrain(client.messages.stream(params)))).pipe(
            Effect.provide(layer(s.fetch))
          )
        }
        const rateLimited = yield* run(sse("error", { type: "error", error: { type: "rate_limit_error", message: "slow" } }))
        assert.instanceOf(rateLimited, AnthropicError.RateLimited)
        const apiError = yield* run(sse("error", { type: "error", error: { type: "api_error", message: "boom" } }))
        assert.instanceOf(apiError, AnthropicError.ApiError)
        const garbled = yield* run(sse("error", "upstream hiccup"))
        assert.instanceOf(garbled, AnthropicError.UnknownApiError)
        assert.deepStrictEqual(garbled.raw, Option.some("upstream hiccup"))
        assert.isTrue(garbled.inStream)
      }))

    it.effect("a body that ends without message_stop -> ConnectionFailed stream_truncated", () =>
      Effect.gen(function*() {
        const s = stub((call) => sseResponse(call, [messageStart, blockStart, textDelta("Hel")]))
        const error = yield* Effect.flatMap(Client, (client) => Effect.flip(Stream.runDrain(client.messages.stream(params))))
          .pipe(Effect.provide(layer(s.fetch)))
        assert.instanceOf(error, AnthropicError.ConnectionFailed)
        assert.strictEqual(error.errorType, "stream_truncated")
        assert.isTrue(error.inStream)
        assert.isTrue(error.contentEmitted)
        assert.deepStrictEqual(error.requestId, Option.some("req_stream_0001"))
        assert.isTrue(Classification.isRetryable(error))
      }))

    it.effect("an HTTP 529 before the body is Overloaded, not in-stream, one request", () =>
      Effect.gen(function*() {
        const s = stub(() =>
          respond(529, errorBody("overloaded_error", "Overloaded"), { "request-id": "req_529", "x-should-retry": "true" })
        )
        const error = yield* Effect.flatMap(Client, (client) => Effect.flip(Stream.runDrain(client.messages.stream(params))))
          .pipe(Effect.provide(layer(s.fetch)))
        assert.instanceOf(error, AnthropicError.Overloaded)
        assert.deepStrictEqual(error.status, Option.some(529))
        assert.isFalse(error.inStream)
        assert.strictEqual(s.calls.length, 1)
      }))

    it.effect("interrupting the consumer aborts the request", () =>
      Effect.gen(function*() {
        const s = stub((call) => sseResponse(call, [messageStart, blockStart, textDelta("Hel")], { stall: true }))
        const seen = yield* Ref.make(0)
        const fiber = yield* Effect.flatMap(Client, (client) =>
          client.messages.stream(params).pipe(
            Stream.tap(() => Ref.update(seen, (n) => n + 1)),
            Stream.runDrain
          )).pipe(Effect.provide(layer(s.fetch)), Effect.fork)
        const call = yield* Effect.promise(() => s.call(0))
        // wait until the three sent events are consumed and the consumer waits on the stalled body
        while ((yield* Ref.get(seen)) < 3) yield* Effect.yieldNow()
        assert.isFalse(call.isAborted())
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* Effect.promise(() => call.aborted)
        assert.isTrue(call.isAborted())
      }))

    it.effect("interrupting while waiting for the response headers aborts the request", () =>
      Effect.gen(function*() {
        const s = stub(hang)
        const fiber = yield* Effect.flatMap(Client, (client) => Stream.runDrain(client.messages.stream(params))).pipe(
          Effect.provide(layer(s.fetch)),
          Effect.fork
        )
        const call = yield* Effect.promise(() => s.call(0))
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => call.aborted)
        assert.isTrue(call.isAborted())
      }))

    it.effect("a consumer that stops early (Stream.take) aborts the request", () =>
      Effect.gen(function*() {
        const s = stub((call) => sseResponse(call, [messageStart, blockStart, textDelta("Hel")], { stall: true }))
        const events = yield* Effect.flatMap(Client, (client) =>
          Stream.runCollect(Stream.take(client.messages.stream(params), 2))).pipe(Effect.provide(layer(s.fetch)))
        assert.strictEqual(Chunk.size(events), 2)
        assert.isTrue(s.calls[0]!.isAborted())
      }))

    it.effect("streamWithResponse gives the request id and rate limits once headers arrive", () =>
      Effect.gen(function*() {
        const s = stub((call) =>
          sseResponse(call, [messageStart, blockStart, textDelta("Hi"), blockStop, messageDelta, messageStop], {
            headers: { "anthropic-ratelimit-requests-remaining": "49" }
          })
        )
        const { count, opened } = yield* Effect.scoped(
          Effect.gen(function*() {
            const client = yield* Client
            const opened = yield* client.messages.streamWithResponse(params)
            const count = yield* Stream.runCount(opened.value)
            return { opened, count }
          })
        ).pipe(Effect.provide(layer(s.fetch)))
        assert.strictEqual(count, 6)
        assert.deepStrictEqual(opened.requestId, Option.some("req_stream_0001"))
        assert.deepStrictEqual(opened.rateLimit.requests.remaining, Option.some(49))
      }))
  })

  describe("countTokens and models", () => {
    it.effect("messages.countTokens", () =>
      Effect.gen(function*() {
        const s = stub(() => respond(200, JSON.stringify({ input_tokens: 42 })))
        const count = yield* Effect.flatMap(Client, (client) => client.messages.countTokens(params)).pipe(
          Effect.provide(layer(s.fetch))
        )
        assert.strictEqual(count.input_tokens, 42)
        assert.strictEqual(s.calls[0]!.url, `${BASE_URL}/v1/messages/count_tokens`)
      }))

    it.effect("models.list collects every page", () =>
      Effect.gen(function*() {
        const model = (id: string) => ({
          type: "model",
          id,
          display_name: id,
          created_at: "2026-01-01T00:00:00Z"
        })
        const s = stub((call) => {
          const url = new URL(call.url)
          return url.searchParams.get("after_id") === "m2"
            ? respond(200, JSON.stringify({ data: [model("m3")], has_more: false, first_id: "m3", last_id: "m3" }))
            : respond(
              200,
              JSON.stringify({ data: [model("m1"), model("m2")], has_more: true, first_id: "m1", last_id: "m2" })
            )
        })
        const models = yield* Effect.flatMap(Client, (client) => client.models.list({ limit: 2 })).pipe(
          Effect.provide(layer(s.fetch))
        )
        assert.deepStrictEqual(models.map((m) => m.id), ["m1", "m2", "m3"])
        assert.strictEqual(s.calls.length, 2)
      }))

    it.effect("models.retrieve and its errors", () =>
      Effect.gen(function*() {
        const s = stub((call) =>
          call.url.endsWith("/v1/models/claude-known")
            ? respond(200, JSON.stringify({ type: "model", id: "claude-known", display_name: "K", created_at: "2026-01-01T00:00:00Z" }))
            : respond(404, errorBody("not_found_error", "model: claude-nope"))
        )
        const [found, missing] = yield* Effect.flatMap(Client, (client) =>
          Effect.all([client.models.retrieve("claude-known"), Effect.flip(client.models.retrieve("claude-nope"))])).pipe(
            Effect.provide(layer(s.fetch))
          )
        assert.strictEqual(found.id, "claude-known")
        assert.instanceOf(missing, AnthropicError.NotFound)
      }))
  })

  describe("spans", () => {
    it.effect("each call runs in a span named for the method, with the model and the failure", () =>
      Effect.gen(function*() {
        const spans: Array<Tracer.Span> = []
        const base = yield* Effect.tracer
        const tracer = Tracer.make({
          span: (...args) => {
            const span = base.span(...args)
            spans.push(span)
            return span
          },
          context: (f, fiber) => base.context(f, fiber)
        })
        const s = stub((call) =>
          call.url.endsWith("/v1/messages")
            ? respond(529, errorBody("overloaded_error", "Overloaded"), { "request-id": "req_span" })
            : respond(200, JSON.stringify({ input_tokens: 3 }))
        )
        yield* Effect.flatMap(Client, (client) =>
          Effect.all([Effect.either(client.messages.create(params)), client.messages.countTokens(params)])).pipe(
            Effect.provide(layer(s.fetch)),
            Effect.withTracer(tracer)
          )
        const create = spans.find((span) => span.name === "AnthropicClient.messages.create")
        assert.isDefined(create)
        assert.strictEqual(create!.attributes.get("gen_ai.request.model"), "claude-test")
        assert.strictEqual(create!.attributes.get("anthropic.error"), "Overloaded")
        assert.strictEqual(create!.attributes.get("anthropic.request_id"), "req_span")
        assert.isTrue(spans.some((span) => span.name === "AnthropicClient.messages.countTokens"))
        for (const span of spans) {
          for (const value of span.attributes.values()) assert.notInclude(String(value), "SECRET")
        }
      }))
  })

  describe("layers", () => {
    it.effect("layerConfig reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL", () =>
      Effect.gen(function*() {
        const s = stub(() => respond(200, JSON.stringify(message)))
        yield* Effect.flatMap(Client, (client) => client.messages.create(params)).pipe(
          Effect.provide(
            AnthropicClient.layerConfig({ fetch: s.fetch }).pipe(
              Layer.provide(Layer.setConfigProvider(
                ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", "sk-from-config"], ["ANTHROPIC_BASE_URL", "http://configured.stub"]]))
              ))
            )
          )
        )
        assert.strictEqual(s.calls[0]!.url, "http://configured.stub/v1/messages")
        assert.strictEqual(new Headers(s.calls[0]!.init?.headers).get("authorization"), "Bearer sk-from-config")
      }))

    it.effect("layerConfig without a key fails with a ConfigError", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.provide(
          Client,
          AnthropicClient.layerConfig().pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
          )
        ))
        assert.isTrue(Exit.isFailure(exit))
      }))

    it.effect("layerConfig accepts explicit Configs", () =>
      Effect.gen(function*() {
        const s = stub(() => respond(200, JSON.stringify(message)))
        yield* Effect.flatMap(Client, (client) => client.messages.create(params)).pipe(
          Effect.provide(
            AnthropicClient.layerConfig({
              apiKey: Config.succeed(Redacted.make("sk-explicit")),
              baseURL: Config.succeed(Option.some("http://explicit.stub")),
              fetch: s.fetch
            })
          )
        )
        assert.strictEqual(s.calls[0]!.url, "http://explicit.stub/v1/messages")
      }))
  })
})

