/**
 * Shared pieces of the end-to-end tests: the real SDK (inside `AnthropicClient`) talking to the
 * simulator, in process or over 127.0.0.1.
 */
import type { Message } from "@anthropic-ai/sdk/resources/messages"
import { AnthropicClient, type AnthropicError } from "@ballast/anthropic"
import { InProcess, Server, Simulator } from "@ballast/testing"
import type { HttpServerError } from "@effect/platform"
import type { Scope } from "effect"
import { Chunk, Effect, Either, Option, Redacted, Stream, TestClock } from "effect"

/** A distinctive key: any rendering that contains one of its parts leaks it. */
export const API_KEY = "sk-ant-api03-BALLASTe2eSECRET-7f3a9c1d"

export const MODEL = "claude-opus-4-6"

export const params = (content = "hello") => ({
  model: MODEL,
  max_tokens: 64,
  messages: [{ role: "user" as const, content }]
})

/** The reply the simulator gives to {@link params} by default. */
export const REPLY = "Simulated reply to: hello"

export type Client = AnthropicClient.AnthropicClient.Service<AnthropicError.AnthropicError>

/** `AnthropicClient` over the in-process `fetch` (its latencies run on the caller's Clock). */
export const inProcessClient: Effect.Effect<Client, never, Simulator.Simulator> = Effect.flatMap(
  InProcess.fetch,
  (fetch) => AnthropicClient.make({ apiKey: Redacted.make(API_KEY), fetch })
)

/** `AnthropicClient` over HTTP to a loopback `Server` that lives as long as the scope. */
export const loopbackClient: Effect.Effect<
  Client,
  HttpServerError.ServeError,
  Scope.Scope | Simulator.Simulator
> = Effect.flatMap(
  Server.start(),
  ({ url }) => AnthropicClient.make({ apiKey: Redacted.make(API_KEY), baseURL: url })
)

export type Transport = "in-process" | "loopback"

export const transports: ReadonlyArray<Transport> = ["in-process", "loopback"]

export const clientFor = (
  transport: Transport
): Effect.Effect<Client, HttpServerError.ServeError, Scope.Scope | Simulator.Simulator> =>
  transport === "in-process" ? inProcessClient : loopbackClient

/** One stream event as a short string: the event type, or `delta:<text>` for text deltas. */
export const eventLabel = (event: { readonly type: string; readonly delta?: unknown }): string => {
  const delta = event.delta as { readonly type?: string; readonly text?: string } | undefined
  return event.type === "content_block_delta" && delta?.type === "text_delta" ? `delta:${delta.text}` : event.type
}

/** Runs a `messages.stream` to its end: the events seen, and how it ended. */
export const consume = (
  client: Client,
  content = "hello"
): Effect.Effect<{
  readonly events: ReadonlyArray<string>
  readonly result: Either.Either<void, AnthropicError.AnthropicError>
}> =>
  Effect.suspend(() => {
    const events: Array<string> = []
    return Stream.runForEach(client.messages.stream(params(content)), (event) =>
      Effect.sync(() => {
        events.push(eventLabel(event))
      })).pipe(Effect.either, Effect.map((result) => ({ events, result })))
  })

/** The text of a whole stream; fails like the stream. */
export const streamText = (client: Client, content = "hello"): Effect.Effect<string, AnthropicError.AnthropicError> =>
  Stream.runFold(client.messages.stream(params(content)), "", (text, event) =>
    event.type === "content_block_delta" && event.delta.type === "text_delta" ? text + event.delta.text : text)

/** The text of a Message. */
export const messageText = (message: Message): string =>
  message.content.map((block) => (block.type === "text" ? block.text : "")).join("")

/** Waits real time (promise callbacks and sockets run meanwhile); works under TestClock too. */
export const realSleep = (ms: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Polls `effect` (every `intervalMs` of real time) until `predicate` holds; returns the last value
 * either way, so the caller's assertion reports what was seen.
 */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  predicate: (a: A) => boolean,
  options?: { readonly tries?: number | undefined; readonly intervalMs?: number | undefined }
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const tries = options?.tries ?? 200
    let value = yield* effect
    for (let i = 0; i < tries && !predicate(value); i++) {
      yield* realSleep(options?.intervalMs ?? 2)
      value = yield* effect
    }
    return value
  })

/** The wake-up times of the sleeps pending on the TestClock, once at least one is pending. */
export const pendingSleeps: Effect.Effect<ReadonlyArray<number>> = Effect.map(
  eventually(TestClock.sleeps(), Chunk.isNonEmpty),
  Chunk.toReadonlyArray
)

/** The call log as comparable data (no times). */
export const callSummary = (calls: ReadonlyArray<Simulator.CallRecord>) =>
  calls.map((c) => ({
    requestId: c.requestId,
    stream: c.stream,
    status: Option.getOrNull(c.status),
    errorType: Option.getOrNull(c.errorType),
    outcome: c.outcome,
    aborted: c.aborted
  }))

/** What a caller sees of an error, as comparable data. */
export const errorSummary = (error: AnthropicError.AnthropicError) => ({
  _tag: error._tag,
  status: Option.getOrNull(error.status),
  errorType: error.errorType,
  requestId: Option.getOrNull(error.requestId),
  inStream: error.inStream,
  contentEmitted: error.contentEmitted
})
