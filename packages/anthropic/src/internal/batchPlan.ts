/**
 * Checking requests before anything is sent, and cutting them into batches within the API's
 * limits. Pure functions.
 *
 * Sizes are exact: the SDK sends `JSON.stringify({ requests })`, which is
 * `{"requests":[` + the items joined by `,` + `]}`, so a batch of items of `b₁ … bₙ` UTF-8 bytes
 * (each `JSON.stringify(item)`) is `15 + Σ bᵢ + (n − 1)` bytes.
 *
 * @internal
 */
import type { BatchCreateParams } from "@anthropic-ai/sdk/resources/messages/batches"

/** @internal `{"requests":[]}` */
export const ENVELOPE_BYTES = 15

/** @internal The API's rule for `custom_id` (1–64 characters of `[a-zA-Z0-9_-]`). */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/

/** @internal */
export type Request = BatchCreateParams.Request

/** @internal A request ready to be batched. */
export interface Item {
  readonly request: Request
  /** UTF-8 bytes of `JSON.stringify(request)`. */
  readonly bytes: number
}

/** @internal */
export interface Limits {
  readonly maxRequests: number
  readonly maxBytes: number
}

/** @internal */
export type Problem =
  | { readonly reason: "DuplicateCustomId"; readonly customId: string; readonly message: string }
  | { readonly reason: "InvalidCustomId"; readonly customId: string; readonly message: string }
  | { readonly reason: "RequestTooLarge"; readonly customId: string; readonly message: string }

/** @internal UTF-8 length of a string without encoding it. */
export const utf8Length = (s: string): number => {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** @internal Bytes of a batch holding these items. */
export const batchBytes = (items: ReadonlyArray<Item>): number =>
  items.length === 0 ? ENVELOPE_BYTES : items.reduce((sum, item) => sum + item.bytes, ENVELOPE_BYTES + items.length - 1)

/**
 * The items of valid requests, or the first problem, in input order: an id the API would refuse,
 * an id used twice, a request that does not fit in a batch on its own.
 *
 * @internal
 */
export const check = (
  requests: Iterable<Request>,
  limits: Limits
): { readonly _tag: "Ok"; readonly items: ReadonlyArray<Item> } | { readonly _tag: "Problem"; readonly problem: Problem } => {
  const items: Array<Item> = []
  const seen = new Set<string>()
  for (const request of requests) {
    const customId = request.custom_id
    if (typeof customId !== "string" || !CUSTOM_ID.test(customId)) {
      return {
        _tag: "Problem",
        problem: {
          reason: "InvalidCustomId",
          customId: String(customId),
          message: `custom_id ${JSON.stringify(customId)} is not 1 to 64 characters of letters, digits, '_' and '-'`
        }
      }
    }
    if (seen.has(customId)) {
      return {
        _tag: "Problem",
        problem: { reason: "DuplicateCustomId", customId, message: `custom_id ${customId} is used more than once` }
      }
    }
    seen.add(customId)
    const bytes = utf8Length(JSON.stringify({ custom_id: customId, params: request.params }))
    if (ENVELOPE_BYTES + bytes > limits.maxBytes) {
      return {
        _tag: "Problem",
        problem: {
          reason: "RequestTooLarge",
          customId,
          message: `request ${customId} is ${bytes} bytes: a batch holding only it would exceed ${limits.maxBytes} bytes`
        }
      }
    }
    items.push({ request: { custom_id: customId, params: request.params }, bytes })
  }
  return { _tag: "Ok", items }
}

/**
 * Cuts items, in order, into as few batches as the limits allow (each batch is filled until the
 * next item would break the count or the byte limit). Every item fits alone (see {@link check}).
 *
 * @internal
 */
export const chunk = (items: ReadonlyArray<Item>, limits: Limits): Array<Array<Item>> => {
  const batches: Array<Array<Item>> = []
  let current: Array<Item> = []
  let size = ENVELOPE_BYTES
  for (const item of items) {
    const added = current.length === 0 ? item.bytes : item.bytes + 1
    if (current.length > 0 && (current.length >= limits.maxRequests || size + added > limits.maxBytes)) {
      batches.push(current)
      current = []
      size = ENVELOPE_BYTES
      size += item.bytes
    } else {
      size += added
    }
    current.push(item)
  }
  if (current.length > 0) batches.push(current)
  return batches
}
