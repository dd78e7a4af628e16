/**
 * Deterministic content of successful answers: reply text, token counts, the Message
 * object, the SSE event sequence and model records.
 *
 * @internal
 */
import type { MessagesRequest } from "../Simulator.js"

type MessagesBody = MessagesRequest

const textLength = (content: unknown): number => {
  if (typeof content === "string") return content.length
  if (Array.isArray(content)) {
    let n = 0
    for (const block of content) {
      n += block !== null && typeof block === "object" && typeof (block as { text?: unknown }).text === "string"
        ? ((block as { text: string }).text).length
        : JSON.stringify(block).length
    }
    return n
  }
  return content === undefined || content === null ? 0 : JSON.stringify(content).length
}

/**
 * Input tokens of a request: ceil(characters of system + message contents / 4), at least 1.
 *
 * @internal
 */
export const inputTokens = (body: { readonly messages: ReadonlyArray<{ readonly content?: unknown }>; readonly system?: unknown }): number => {
  let chars = textLength(body.system)
  for (const message of body.messages) chars += textLength(message?.content)
  return Math.max(1, Math.ceil(chars / 4))
}

/** @internal */
export const outputTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4))

const lastUserText = (body: MessagesBody): string => {
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const message = body.messages[i]
    if (message?.role !== "user") continue
    const content = message.content
    if (typeof content === "string") return content
    if (Array.isArray(content)) {
      for (const block of content) {
        if (block !== null && typeof block === "object" && typeof (block as { text?: unknown }).text === "string") {
          return (block as { text: string }).text
        }
      }
    }
    return ""
  }
  return ""
}

/**
 * The default reply: `Simulated reply to: <start of the last user message>`.
 *
 * @internal
 */
export const defaultReply = (body: MessagesBody): string => {
  const text = lastUserText(body)
  const head = text.length > 60 ? text.slice(0, 60) : text
  return `Simulated reply to: ${head.replace(/\s+/g, " ").trim()}`
}

/**
 * The text of the trailing assistant message (a prefill), if the request ends with one.
 *
 * @internal
 */
export const prefill = (body: MessagesBody): string | undefined => {
  const last = body.messages[body.messages.length - 1]
  if (last?.role !== "assistant") return undefined
  const content = last.content
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return undefined
  let text = ""
  for (const block of content) {
    if (block !== null && typeof block === "object" && typeof (block as { text?: unknown }).text === "string") {
      text += (block as { text: string }).text
    }
  }
  return text
}

/**
 * The API's rule for a prefill: "final assistant content cannot end with trailing whitespace".
 *
 * @internal
 */
export const prefillProblem = (body: MessagesBody): string | undefined => {
  const text = prefill(body)
  return text !== undefined && text.length > 0 && /\s$/.test(text)
    ? "messages: final assistant content cannot end with trailing whitespace"
    : undefined
}

/**
 * The answer to a request that ends with an assistant prefill: the model goes on from the
 * prefill, so when the prefill is the start of the reply it would give, it answers with the rest
 * of that reply (prefill + answer = the reply, exactly); otherwise with the whole reply.
 *
 * @internal
 */
export const afterPrefill = (body: MessagesBody, reply: string): string => {
  const text = prefill(body)
  return text !== undefined && text.length > 0 && reply.startsWith(text) ? reply.slice(text.length) : reply
}

/**
 * Split reply text into stream deltas: one per word, each keeping its trailing space.
 *
 * @internal
 */
export const splitDeltas = (text: string): Array<string> => {
  const out: Array<string> = []
  let start = 0
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 32) {
      out.push(text.slice(start, i + 1))
      start = i + 1
    }
  }
  if (start < text.length) out.push(text.slice(start))
  return out
}

/** @internal */
export interface Completion {
  readonly text: string
  readonly stopReason: "end_turn" | "max_tokens"
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * The reply cut to `max_tokens` (4 characters per token).
 *
 * @internal
 */
export const complete = (reply: string, maxTokens: number, input: number): Completion => {
  const tokens = outputTokens(reply)
  if (tokens <= maxTokens) return { text: reply, stopReason: "end_turn", inputTokens: input, outputTokens: tokens }
  return { text: reply.slice(0, maxTokens * 4), stopReason: "max_tokens", inputTokens: input, outputTokens: maxTokens }
}

const usage = (input: number, output: number) => ({
  input_tokens: input,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: output,
  service_tier: "standard"
})

/** @internal */
export const messageJson = (id: string, model: string, completion: Completion): string =>
  `{"id":"${id}","type":"message","role":"assistant","model":${JSON.stringify(model)},` +
  `"content":[{"type":"text","text":${JSON.stringify(completion.text)}}],` +
  `"stop_reason":"${completion.stopReason}","stop_sequence":null,"usage":{"input_tokens":${completion.inputTokens},` +
  `"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":${completion.outputTokens},` +
  `"service_tier":"standard"}}`

/** @internal */
export const frame = (event: string, data: string): string => `event: ${event}\ndata: ${data}\n\n`

/** @internal */
export const pingFrame = frame("ping", "{\"type\": \"ping\"}")

/**
 * The SSE frames of a successful stream, one string per event.
 *
 * @internal
 */
export interface StreamFrames {
  /** `message_start` */
  readonly start: string
  /** `content_block_start`, then a `ping` when enabled */
  readonly blockStart: ReadonlyArray<string>
  /** one `content_block_delta` per delta */
  readonly deltas: ReadonlyArray<string>
  /** `content_block_stop`, `message_delta`, `message_stop` */
  readonly end: ReadonlyArray<string>
}

/** @internal */
export const streamFrames = (id: string, model: string, completion: Completion, ping: boolean): StreamFrames => {
  const start = frame(
    "message_start",
    JSON.stringify({
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usage(completion.inputTokens, 1)
      }
    })
  )
  const blockStart = frame(
    "content_block_start",
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"
  )
  const deltas = splitDeltas(completion.text).map((text) =>
    frame(
      "content_block_delta",
      `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}`
    )
  )
  const end = [
    frame("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"),
    frame(
      "message_delta",
      JSON.stringify({
        type: "message_delta",
        delta: { stop_reason: completion.stopReason, stop_sequence: null },
        usage: { output_tokens: completion.outputTokens }
      })
    ),
    frame("message_stop", "{\"type\":\"message_stop\"}")
  ]
  return { start, blockStart: ping ? [blockStart, pingFrame] : [blockStart], deltas, end }
}
