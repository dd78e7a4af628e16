/**
 * Builds a `Message` from stream events (what the SDK's `MessageStream` does, without the SDK's
 * event emitter) and sums usage.
 *
 * @internal
 */
import type {
  ContentBlock,
  Message,
  MessageDeltaUsage,
  RawMessageStreamEvent,
  Usage as SdkUsage
} from "@anthropic-ai/sdk/resources/messages"

/** @internal */
export interface Usage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens: number
  readonly cache_read_input_tokens: number
}

/** @internal */
export const zero: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0
}

/** @internal */
export const add = (a: Usage, b: Usage): Usage => ({
  input_tokens: a.input_tokens + b.input_tokens,
  output_tokens: a.output_tokens + b.output_tokens,
  cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens
})

/** The usage of `message_start`. @internal */
export const fromMessage = (usage: SdkUsage): Usage => ({
  input_tokens: usage.input_tokens,
  output_tokens: usage.output_tokens,
  cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
  cache_read_input_tokens: usage.cache_read_input_tokens ?? 0
})

/** `message_delta` counts are cumulative: each field it carries replaces the one before. @internal */
export const withDelta = (usage: Usage, delta: MessageDeltaUsage): Usage => ({
  input_tokens: delta.input_tokens ?? usage.input_tokens,
  output_tokens: delta.output_tokens,
  cache_creation_input_tokens: delta.cache_creation_input_tokens ?? usage.cache_creation_input_tokens,
  cache_read_input_tokens: delta.cache_read_input_tokens ?? usage.cache_read_input_tokens
})

interface Block {
  block: Record<string, unknown> & { readonly type: string }
  /** `input_json_delta` fragments of a tool-use block. */
  json: string
  open: boolean
}

/** Whether a block's `input` is streamed as JSON fragments. */
const hasJsonInput = (type: string): boolean => type === "tool_use" || type === "server_tool_use"

/** A parsed tool input; the raw fragments when they do not parse (a block cut off mid-input). */
const parseInput = (json: string): unknown => {
  if (json.length === 0) return {}
  try {
    return JSON.parse(json)
  } catch {
    return json
  }
}

/**
 * The message of one stream, event by event. Mutable: one per stream, fed in order.
 *
 * @internal
 */
export class Accumulator {
  private message: Message | undefined = undefined
  private blocks: Array<Block> = []

  apply(event: RawMessageStreamEvent): void {
    switch (event.type) {
      case "message_start":
        this.message = { ...event.message, content: [] }
        this.blocks = []
        for (const block of event.message.content) this.blocks.push({ block: { ...block }, json: "", open: false })
        return
      case "content_block_start":
        this.blocks[event.index] = { block: { ...event.content_block }, json: "", open: true }
        return
      case "content_block_delta": {
        const entry = this.blocks[event.index]
        if (entry === undefined) return
        const block = entry.block
        const delta = event.delta
        switch (delta.type) {
          case "text_delta":
            block.text = String(block.text ?? "") + delta.text
            return
          case "input_json_delta":
            entry.json += delta.partial_json
            return
          case "thinking_delta":
            block.thinking = String(block.thinking ?? "") + delta.thinking
            return
          case "signature_delta":
            block.signature = delta.signature
            return
          case "citations_delta":
            block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation]
            return
        }
        return
      }
      case "content_block_stop": {
        const entry = this.blocks[event.index]
        if (entry !== undefined) entry.open = false
        return
      }
      case "message_delta":
        if (this.message !== undefined) {
          this.message = {
            ...this.message,
            stop_reason: event.delta.stop_reason,
            stop_sequence: event.delta.stop_sequence,
            ...(event.delta.stop_details !== undefined ? { stop_details: event.delta.stop_details } : {}),
            ...(event.delta.container !== undefined ? { container: event.delta.container } : {})
          }
        }
        return
      case "message_stop":
        return
    }
  }

  /** Forget everything (a restart). */
  reset(): void {
    this.message = undefined
    this.blocks = []
  }

  /** Whether `message_start` was seen. */
  get started(): boolean {
    return this.message !== undefined
  }

  /** The number of content blocks so far (the next block's index). */
  get blockCount(): number {
    return this.blocks.length
  }

  /** The index of the block still open, if any. */
  get openIndex(): number | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) if (this.blocks[i]?.open === true) return i
    return undefined
  }

  /** Whether every block so far is a text block (what a prefill can carry). */
  get textOnly(): boolean {
    return this.blocks.every((b) => b.block.type === "text")
  }

  /** The text of all text blocks, concatenated. */
  get text(): string {
    let out = ""
    for (const b of this.blocks) if (b.block.type === "text") out += String(b.block.text ?? "")
    return out
  }

  /** The message so far; tool inputs parsed (their raw fragments if cut off). `undefined` before `message_start`. */
  snapshot(usage?: SdkUsage): Message | undefined {
    if (this.message === undefined) return undefined
    const content: Array<ContentBlock> = this.blocks.map((entry) =>
      (hasJsonInput(entry.block.type) && (entry.json.length > 0 || entry.block.input === undefined)
        ? { ...entry.block, input: parseInput(entry.json) }
        : { ...entry.block }) as unknown as ContentBlock
    )
    return { ...this.message, content, ...(usage !== undefined ? { usage } : {}) }
  }
}

/** The SDK `Usage` of a message with its token counts replaced by `total`. @internal */
export const withTotal = (usage: SdkUsage, total: Usage): SdkUsage => ({
  ...usage,
  input_tokens: total.input_tokens,
  output_tokens: total.output_tokens,
  cache_creation_input_tokens: total.cache_creation_input_tokens,
  cache_read_input_tokens: total.cache_read_input_tokens
})
