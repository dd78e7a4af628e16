/**
 * The pure parts of stream recovery: stitching a continuation onto the consumer's message, and
 * accumulating a message (text, tool-use input JSON, thinking, citations) from events.
 */
import type {
  RawMessageDeltaEvent,
  RawMessageStartEvent,
  RawMessageStreamEvent
} from "@anthropic-ai/sdk/resources/messages"
import { assert, describe, it } from "@effect/vitest"
import * as Accumulate from "../src/internal/accumulate.js"
import * as Stitch from "../src/internal/stitch.js"

const start = (): RawMessageStartEvent => ({
  type: "message_start",
  message: {
    id: "msg_2",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    container: null,
    diagnostics: null,
    stop_details: null,
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: 10,
      output_tokens: 1,
      cache_creation: null,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: null,
      speed: null
    }
  }
})
const textStart = (index: number, text = ""): RawMessageStreamEvent => ({
  type: "content_block_start",
  index,
  content_block: { type: "text", text, citations: null }
})
const toolStart = (index: number): RawMessageStreamEvent => ({
  type: "content_block_start",
  index,
  content_block: { type: "tool_use", id: "toolu_1", name: "lookup", input: {}, caller: { type: "direct" } } as never
})
const text = (index: number, t: string): RawMessageStreamEvent => ({
  type: "content_block_delta",
  index,
  delta: { type: "text_delta", text: t }
})
const json = (index: number, partial: string): RawMessageStreamEvent => ({
  type: "content_block_delta",
  index,
  delta: { type: "input_json_delta", partial_json: partial }
})
const stop = (index: number): RawMessageStreamEvent => ({ type: "content_block_stop", index })
const delta = (stopReason: "end_turn" | "tool_use", output: number): RawMessageDeltaEvent => ({
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
})
const messageStop: RawMessageStreamEvent = { type: "message_stop" }

const label = (e: RawMessageStreamEvent): string => {
  switch (e.type) {
    case "content_block_delta":
      return e.delta.type === "text_delta" ? `${e.index}:${JSON.stringify(e.delta.text)}` : `${e.index}:${e.delta.type}`
    case "content_block_start":
      return `${e.index}:start:${e.content_block.type}`
    case "content_block_stop":
      return `${e.index}:stop`
    default:
      return e.type
  }
}

const through = (translate: Stitch.Translate, events: ReadonlyArray<RawMessageStreamEvent>) =>
  events.flatMap((e) => translate(e)).map(label)

describe("Stitch", () => {
  it("merges the continuation's first text block into the open block and drops the repeated whitespace", () => {
    const translate = Stitch.make({ openIndex: 1, openIsText: true, blockCount: 2, strip: " " })
    assert.deepStrictEqual(
      through(translate, [start(), textStart(0), text(0, " "), text(0, "world "), text(0, "again"), stop(0), delta("end_turn", 4), messageStop]),
      ["1:\"world \"", "1:\"again\"", "1:stop", "message_delta", "message_stop"]
    )
  })

  it("keeps the whitespace when the continuation does not repeat it", () => {
    const translate = Stitch.make({ openIndex: 0, openIsText: true, blockCount: 1, strip: "\n\n" })
    assert.deepStrictEqual(through(translate, [textStart(0), text(0, "\nNext")]), ["0:\"Next\""])
    const other = Stitch.make({ openIndex: 0, openIsText: true, blockCount: 1, strip: " " })
    assert.deepStrictEqual(through(other, [textStart(0), text(0, "x y")]), ["0:\"x y\""])
  })

  it("closes the open block and numbers new blocks after it when the continuation starts with a tool call", () => {
    const translate = Stitch.make({ openIndex: 0, openIsText: true, blockCount: 1, strip: "" })
    assert.deepStrictEqual(
      through(translate, [start(), toolStart(0), json(0, "{}"), stop(0), textStart(1), text(1, "done"), stop(1)]),
      ["0:stop", "1:start:tool_use", "1:input_json_delta", "1:stop", "2:start:text", "2:\"done\"", "2:stop"]
    )
  })

  it("after a failure between blocks, the continuation's blocks are new blocks", () => {
    const translate = Stitch.make({ openIndex: undefined, openIsText: false, blockCount: 2, strip: "" })
    assert.deepStrictEqual(
      through(translate, [start(), textStart(0), text(0, "more"), stop(0), delta("end_turn", 2), messageStop]),
      ["2:start:text", "2:\"more\"", "2:stop", "message_delta", "message_stop"]
    )
  })

  it("closes a block left open when the continuation ends at once", () => {
    const translate = Stitch.make({ openIndex: 0, openIsText: true, blockCount: 1, strip: "" })
    assert.deepStrictEqual(through(translate, [start(), delta("end_turn", 1), messageStop]), [
      "0:stop",
      "message_delta",
      "message_stop"
    ])
  })
})

describe("Accumulator", () => {
  it("builds text and tool-use blocks (input JSON parsed), stop reason and usage", () => {
    const acc = new Accumulate.Accumulator()
    for (
      const e of [
        start(),
        textStart(0),
        text(0, "Let me "),
        text(0, "look."),
        stop(0),
        toolStart(1),
        json(1, "{\"q\": \"bal"),
        json(1, "last\", \"n\": 2}"),
        stop(1),
        delta("tool_use", 12),
        messageStop
      ]
    ) acc.apply(e)
    const message = acc.snapshot()!
    assert.deepStrictEqual(message.content.map((b) => b.type), ["text", "tool_use"])
    assert.strictEqual(acc.text, "Let me look.")
    assert.deepStrictEqual((message.content[1] as { input: unknown }).input, { q: "ballast", n: 2 })
    assert.strictEqual(message.stop_reason, "tool_use")
    assert.isFalse(acc.textOnly)
    assert.strictEqual(acc.openIndex, undefined)
  })

  it("a tool-use block cut off mid-input keeps its raw fragments and is the open block", () => {
    const acc = new Accumulate.Accumulator()
    for (const e of [start(), toolStart(0), json(0, "{\"q\": \"bal")]) acc.apply(e)
    assert.strictEqual(acc.openIndex, 0)
    assert.strictEqual((acc.snapshot()!.content[0] as { input: unknown }).input, "{\"q\": \"bal")
  })

  it("usage: message_delta counts replace message_start's; attempts add up", () => {
    const first = Accumulate.fromMessage(start().message.usage)
    assert.deepStrictEqual([first.input_tokens, first.output_tokens], [10, 1])
    const done = Accumulate.withDelta(first, delta("end_turn", 7).usage)
    assert.deepStrictEqual([done.input_tokens, done.output_tokens], [10, 7])
    const sum = Accumulate.add(first, done)
    assert.deepStrictEqual([sum.input_tokens, sum.output_tokens], [20, 8])
  })

  it("reset forgets everything (a restart)", () => {
    const acc = new Accumulate.Accumulator()
    for (const e of [start(), textStart(0), text(0, "partial")]) acc.apply(e)
    acc.reset()
    assert.isFalse(acc.started)
    assert.strictEqual(acc.snapshot(), undefined)
    assert.strictEqual(acc.text, "")
  })
})
