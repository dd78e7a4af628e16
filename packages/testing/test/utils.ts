import Anthropic, { APIConnectionError, APIError } from "@anthropic-ai/sdk"
import { Effect } from "effect"

export const MODEL = "claude-opus-4-6"

export const params = (content = "hello") => ({
  model: MODEL,
  max_tokens: 100,
  messages: [{ role: "user" as const, content }]
})

export const sdkInProcess = (fetch: typeof globalThis.fetch) => new Anthropic({ apiKey: "test", fetch, maxRetries: 0 })

export const sdkOverHttp = (url: string) => new Anthropic({ apiKey: "test", baseURL: url, maxRetries: 0 })

/** What a call looked like from the SDK's side, as plain comparable data. */
export type Seen =
  | { readonly kind: "message"; readonly id: string; readonly text: string; readonly requestId: string | null }
  | {
    readonly kind: "api_error"
    readonly class: string
    readonly status: number | undefined
    readonly type: string | undefined
    readonly requestId: string | null | undefined
    readonly retryAfter: string | null | undefined
    readonly events: ReadonlyArray<string>
  }
  | { readonly kind: "connection_error"; readonly class: string; readonly events: ReadonlyArray<string> }
  | { readonly kind: "stream"; readonly events: ReadonlyArray<string>; readonly requestId: string | null }
  | { readonly kind: "other"; readonly class: string; readonly message: string; readonly events: ReadonlyArray<string> }

export const seeError = (error: unknown, events: ReadonlyArray<string> = []): Seen => {
  if (error instanceof APIConnectionError) {
    return { kind: "connection_error", class: error.constructor.name, events }
  }
  if (error instanceof APIError) {
    return {
      kind: "api_error",
      class: error.constructor.name,
      status: error.status,
      type: error.type ?? undefined,
      requestId: error.requestID,
      retryAfter: error.headers?.get("retry-after"),
      events
    }
  }
  const e = error as Error
  return { kind: "other", class: e.constructor.name, message: e.message, events }
}

/** One non-streaming call, as data. */
export const create = (client: Anthropic, content = "hello"): Effect.Effect<Seen> =>
  Effect.promise(() =>
    client.messages.create(params(content)).withResponse().then(
      ({ data: m, request_id }): Seen => ({
        kind: "message",
        id: m.id,
        text: m.content[0]?.type === "text" ? m.content[0].text : "",
        requestId: request_id ?? null
      }),
      (e) => seeError(e)
    )
  )

/** One streaming call through the raw SSE iterator, as data. */
export const stream = (client: Anthropic, content = "hello", signal?: AbortSignal): Effect.Effect<Seen> =>
  Effect.promise(async () => {
    const events: Array<string> = []
    try {
      const { data: s, request_id } = await client.messages
        .create({ ...params(content), stream: true }, signal ? { signal } : {})
        .withResponse()
      for await (const event of s) {
        events.push(event.type === "content_block_delta" && event.delta.type === "text_delta"
          ? `delta:${event.delta.text}`
          : event.type)
      }
      return { kind: "stream", events, requestId: request_id ?? null }
    } catch (error) {
      return seeError(error, events)
    }
  })

/** Let promise callbacks and I/O run (real time; tests only). */
export const settle = (ms = 5) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))
