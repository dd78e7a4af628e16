/**
 * Model records and `GET /v1/models` pages.
 *
 * @internal
 */
import type { ModelInfo } from "../Simulator.js"

/**
 * A model record as `GET /v1/models` returns it.
 *
 * @internal
 */
export const modelInfo = (id: string): Record<string, unknown> & { readonly id: string } => {
  const line = /opus|sonnet|haiku|fable|mythos/.exec(id)
  return {
    type: "model",
    id,
    display_name: id.replace(/^claude-/, "Claude ").replace(/-/g, " "),
    created_at: "2026-01-01T00:00:00Z",
    deprecated_at: null,
    lifecycle: "active",
    line: line === null ? null : line[0],
    max_input_tokens: 200000,
    max_tokens: 64000,
    capabilities: null
  }
}

/**
 * The model ids of the official SDK's `Model` union (1.14).
 *
 * @internal
 */
export const defaultModelIds: ReadonlyArray<string> = [
  "claude-fable-5-2",
  "claude-mythos-5-2",
  "claude-haiku-5-5",
  "claude-sonnet-5-5",
  "claude-fable-5-1",
  "claude-opus-5-5",
  "claude-mythos-5-1",
  "claude-sonnet-5",
  "claude-fable-5",
  "claude-mythos-5",
  "claude-opus-5",
  "claude-opus-4-8",
  "claude-opus-4-7",
  "claude-mythos-preview",
  "claude-opus-4-6",
  "claude-sonnet-4-6",
  "claude-haiku-4-5",
  "claude-haiku-4-5-20251001",
  "claude-opus-4-5",
  "claude-opus-4-5-20251101",
  "claude-sonnet-4-5",
  "claude-sonnet-4-5-20250929"
]

/** @internal */
export const toModelInfo = (model: string | ModelInfo): Record<string, unknown> & { readonly id: string } =>
  typeof model === "string" ? modelInfo(model) : { ...modelInfo(model.id), ...model }

/**
 * One page of `GET /v1/models` (`limit`, `after_id`, `before_id`), in the given order.
 *
 * @internal
 */
export const listPage = (models: ReadonlyArray<{ readonly id: string }>, query: string): string => {
  const params = new URLSearchParams(query)
  const limit = Math.min(1000, Math.max(1, Number(params.get("limit") ?? 20) || 20))
  const after = params.get("after_id")
  const before = params.get("before_id")
  let start = 0
  let end = models.length
  if (after !== null) start = models.findIndex((m) => m.id === after) + 1
  if (before !== null) {
    end = Math.max(0, models.findIndex((m) => m.id === before))
    start = Math.max(0, end - limit)
  }
  const page = models.slice(start, Math.min(end, start + limit))
  return JSON.stringify({
    data: page,
    has_more: before !== null ? start > 0 : start + page.length < end,
    first_id: page.length > 0 ? page[0]!.id : null,
    last_id: page.length > 0 ? page[page.length - 1]!.id : null
  })
}
