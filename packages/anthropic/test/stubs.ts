/**
 * Small hand-written `fetch` stubs for tests: no network, no simulator.
 */
import { Redacted } from "effect"
import * as AnthropicClient from "../src/AnthropicClient.js"

export const API_KEY = "sk-ant-test-SECRET-1234"
export const BASE_URL = "http://anthropic.stub"

export interface Call {
  readonly url: string
  readonly init: RequestInit | undefined
  /** Resolves when the request's signal aborts. */
  readonly aborted: Promise<void>
  readonly isAborted: () => boolean
}

export interface Stub {
  readonly fetch: AnthropicClient.Fetch
  readonly calls: Array<Call>
  /** Resolves with the nth (0-based) call once it is made. */
  readonly call: (n: number) => Promise<Call>
}

export type Handler = (call: Call, index: number) => Response | Promise<Response>

export const stub = (handler: Handler): Stub => {
  const calls: Array<Call> = []
  const waiters: Array<{ n: number; resolve: (call: Call) => void }> = []
  const fetch: AnthropicClient.Fetch = async (input, init) => {
    const signal = init?.signal ?? undefined
    let aborted = signal?.aborted ?? false
    const abortedPromise = new Promise<void>((resolve) => {
      if (aborted) resolve()
      signal?.addEventListener("abort", () => {
        aborted = true
        resolve()
      }, { once: true })
    })
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url
    const call: Call = { url, init, aborted: abortedPromise, isAborted: () => aborted }
    const index = calls.length
    calls.push(call)
    for (const waiter of waiters.filter((w) => w.n === index)) waiter.resolve(call)
    return handler(call, index)
  }
  const call = (n: number): Promise<Call> =>
    calls[n] !== undefined ? Promise.resolve(calls[n]) : new Promise((resolve) => waiters.push({ n, resolve }))
  return { fetch, calls, call }
}

/** The API's error body. */
export const errorBody = (type: string, message: string, requestId = "req_test_0001", details?: unknown) =>
  JSON.stringify({
    type: "error",
    error: details === undefined ? { type, message } : { type, message, details },
    request_id: requestId
  })

export const respond = (status: number, body: string, headers: Record<string, string> = {}): Response =>
  new Response(body, { status, headers: { "content-type": "application/json", ...headers } })

/** A response that never arrives; it rejects with an AbortError once the request is aborted. */
export const hang = (call: Call): Promise<Response> =>
  call.aborted.then(() => Promise.reject(new DOMException("This operation was aborted", "AbortError")))

export const sse = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`

export const messageStart = sse("message_start", {
  type: "message_start",
  message: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 1 }
  }
})
export const blockStart = sse("content_block_start", {
  type: "content_block_start",
  index: 0,
  content_block: { type: "text", text: "" }
})
export const textDelta = (text: string) =>
  sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })
export const blockStop = sse("content_block_stop", { type: "content_block_stop", index: 0 })
export const messageDelta = sse("message_delta", {
  type: "message_delta",
  delta: { stop_reason: "end_turn", stop_sequence: null },
  usage: { output_tokens: 5 }
})
export const messageStop = sse("message_stop", { type: "message_stop" })
export const ping = sse("ping", { type: "ping" })

/**
 * A 200 SSE response: sends `chunks`, then ends, or stays open when `stall` (until aborted,
 * when the body errors with an AbortError, as a real fetch does).
 */
export const sseResponse = (
  call: Call,
  chunks: ReadonlyArray<string>,
  options: { readonly stall?: boolean; readonly headers?: Record<string, string> } = {}
): Response => {
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
      if (options.stall) {
        void call.aborted.then(() => {
          try {
            controller.error(new DOMException("This operation was aborted", "AbortError"))
          } catch {
            // already closed
          }
        })
      } else {
        controller.close()
      }
    }
  })
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream", "request-id": "req_stream_0001", ...options.headers }
  })
}

export const message = {
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude-test",
  content: [{ type: "text", text: "Hello" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 5 }
}

export const params = {
  model: "claude-test",
  max_tokens: 64,
  messages: [{ role: "user" as const, content: "Hi" }]
}

export const layer = (fetch: AnthropicClient.Fetch, options: Partial<AnthropicClient.Options> = {}) =>
  AnthropicClient.layer({ apiKey: Redacted.make(API_KEY), baseURL: BASE_URL, fetch, ...options })
