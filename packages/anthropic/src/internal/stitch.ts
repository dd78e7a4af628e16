/**
 * Stitches a continuation (the answer to a request prefilled with the partial text) onto the
 * message the consumer already holds: its `message_start` is dropped, its first text block is
 * merged into the block left open, block indexes follow on, and the whitespace trimmed off the
 * prefill (the API rejects a prefill that ends with whitespace) is not sent twice.
 *
 * @internal
 */
import type { RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages"

/** @internal */
export interface Where {
  /** The consumer's block left open by the failure, if any. */
  readonly openIndex: number | undefined
  /** Whether that block is a text block (only a text block can be continued in place). */
  readonly openIsText: boolean
  /** The consumer's number of blocks (the next new block's index). */
  readonly blockCount: number
  /** The whitespace trimmed off the end of the prefill; the consumer has already seen it. */
  readonly strip: string
}

/** @internal */
export type Translate = (event: RawMessageStreamEvent) => ReadonlyArray<RawMessageStreamEvent>

/** Events passed through unchanged (a first attempt or a restart). @internal */
export const identity: Translate = (event) => [event]

/** @internal */
export const make = (where: Where): Translate => {
  const indexes = new Map<number, number>()
  let pending = where.openIndex
  let next = where.blockCount
  let strip = where.strip
  let first = true

  const stop = (index: number): RawMessageStreamEvent => ({ type: "content_block_stop", index })

  /** Drops the start of `text` that the consumer already has; stripping ends at the first other character. */
  const stripped = (text: string): string => {
    if (strip.length === 0) return text
    let i = 0
    while (i < text.length && i < strip.length && text[i] === strip[i]) i++
    if (i < text.length) strip = ""
    else strip = strip.slice(i)
    return text.slice(i)
  }

  const closePending = (): Array<RawMessageStreamEvent> => {
    if (pending === undefined) return []
    const index = pending
    pending = undefined
    return [stop(index)]
  }

  return (event) => {
    switch (event.type) {
      case "message_start":
        return []
      case "content_block_start": {
        const isFirst = first
        first = false
        const block = event.content_block
        if (isFirst && pending !== undefined && where.openIsText && block.type === "text") {
          indexes.set(event.index, pending)
          const index = pending
          pending = undefined
          const text = stripped(block.text)
          return text.length === 0 ? [] : [{
            type: "content_block_delta",
            index,
            delta: { type: "text_delta", text }
          }]
        }
        const out = closePending()
        const index = next++
        indexes.set(event.index, index)
        if (block.type === "text" && block.text.length > 0) {
          out.push({ ...event, index, content_block: { ...block, text: stripped(block.text) } })
        } else {
          strip = block.type === "text" ? strip : ""
          out.push({ ...event, index })
        }
        return out
      }
      case "content_block_delta": {
        const index = indexes.get(event.index) ?? event.index
        if (event.delta.type === "text_delta") {
          const text = stripped(event.delta.text)
          return text.length === 0 ? [] : [{ ...event, index, delta: { ...event.delta, text } }]
        }
        strip = ""
        return [{ ...event, index }]
      }
      case "content_block_stop":
        return [{ ...event, index: indexes.get(event.index) ?? event.index }]
      case "message_delta":
      case "message_stop":
        return [...closePending(), event]
    }
  }
}
