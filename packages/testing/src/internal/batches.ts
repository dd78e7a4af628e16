/**
 * The Message Batches model of the simulator (see `Simulator.BatchOptions`).
 *
 * A batch's state is a function of the clock: nothing runs in the background. Each request
 * gets a finish time at creation; the batch ends at the earliest of its last finish, its
 * expiry (24 h) and its cancel time plus `cancelMillis`; each answer renders the batch as it is
 * at the call's `now`. So a batch costs no fiber and no timer, and `TestClock.adjust` moves it.
 *
 * @internal
 */
import * as Option from "effect/Option"
import * as Catalogue from "../Catalogue.js"
import type * as Fault from "../Fault.js"
import type { BatchRecord, MessagesRequest } from "../Simulator.js"
import * as Messages from "./messages.js"
import { validate } from "./route.js"

/** @internal */
export const MAX_REQUESTS = 100_000
/** @internal 256 MB, read as MiB. */
export const MAX_BYTES = 256 * 1024 * 1024
/** @internal */
export const EXPIRY_MILLIS = 24 * 60 * 60 * 1000
/** @internal Results are downloadable for 29 days after creation. */
export const RETENTION_MILLIS = 29 * 24 * 60 * 60 * 1000
/** @internal The API's `custom_id` rule. */
export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/

const PREFIX = "/v1/messages/batches"
const LINES_PER_CHUNK = 500

/** @internal */
export interface Config {
  readonly processingMillis: number
  readonly cancelMillis: number
  readonly maxRequests: number
  readonly maxBytes: number
}

/** @internal What one batch call answers. */
export type Answer =
  | { readonly _tag: "Ok"; readonly body: string }
  | { readonly _tag: "Error"; readonly status: number; readonly type: string; readonly message: string }
  | { readonly _tag: "Jsonl"; readonly chunks: Iterable<string> }

/** @internal */
export interface Deps {
  /** The scripted outcome of one batch request (consumes a use of the fault), if any. */
  readonly pick: (customId: string, model: string | undefined) => Fault.BatchResult | undefined
  readonly reply: (request: MessagesRequest, call: number) => string
  readonly hasModel: (model: string) => boolean
}

/** @internal One call, as the batch model sees it. */
export interface Call {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly body: string
  /** Scheme and host the client used, for `results_url`. */
  readonly origin: string
  readonly call: number
  readonly now: number
}

type Status = "in_progress" | "canceling" | "ended"
type ResultType = "succeeded" | "errored" | "canceled" | "expired"

interface Entry {
  readonly customId: string
  readonly params: MessagesRequest
  /** Clock time the request finishes; `Infinity`: never (it expires or is canceled). */
  readonly finishAt: number
  readonly planned: Fault.BatchResult | undefined
}

interface Batch {
  readonly id: string
  readonly number: number
  readonly call: number
  readonly createdAt: number
  readonly expiresAt: number
  readonly entries: ReadonlyArray<Entry>
  /** When the last request finishes (`Infinity` if one never does). */
  readonly doneAt: number
  cancelAt: number | undefined
  deleted: boolean
  /** The final results, computed once the batch has ended. */
  results: ReadonlyArray<ResultType> | undefined
}

const pad = (n: number): string => (n < 1_000_000 ? String(n).padStart(6, "0") : String(n))

const iso = (millis: number): string => new Date(millis).toISOString()

const error = (status: number, type: string, message: string): Answer => ({ _tag: "Error", status, type, message })

const notFound = (id: string): Answer => error(404, "not_found_error", `message_batch ${id} not found`)

/** FNV-1a: a fixed order of results that is not the submission order. */
const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  u !== null && typeof u === "object" && !Array.isArray(u)

/** @internal */
export class BatchesModel {
  private readonly all: Array<Batch> = []
  private readonly byId = new Map<string, Batch>()

  constructor(private readonly config: Config, private readonly deps: Deps) {}

  handle(call: Call): Answer {
    const rest = call.path.slice(PREFIX.length)
    if (rest === "") {
      if (call.method === "POST") return this.create(call)
      if (call.method === "GET") return this.list(call)
      return notFound("")
    }
    const parts = rest.slice(1).split("/")
    const id = safeDecode(parts[0]!)
    const batch = this.byId.get(id)
    if (batch === undefined || batch.deleted) return notFound(id)
    const action = parts.length === 1 ? "" : parts.slice(1).join("/")
    if (action === "" && call.method === "GET") return this.ok(batch, call)
    if (action === "" && call.method === "DELETE") return this.delete(batch, call.now)
    if (action === "cancel" && call.method === "POST") return this.cancel(batch, call)
    if (action === "results" && call.method === "GET") return this.results(batch, call.now)
    return error(404, "not_found_error", "Not Found")
  }

  records(now: number): ReadonlyArray<BatchRecord> {
    return this.all.map((b) => ({
      id: b.id,
      call: b.call,
      createdAt: b.createdAt,
      customIds: b.entries.map((e) => e.customId),
      processingStatus: this.status(b, now),
      endsAt: this.endAt(b),
      canceled: b.cancelAt !== undefined,
      deleted: b.deleted
    }))
  }

  // ---------------------------------------------------------------------------------------
  // Calls

  private create(call: Call): Answer {
    if (Buffer.byteLength(call.body, "utf8") > this.config.maxBytes) {
      return error(413, "request_too_large", `Request exceeds the maximum size of ${this.config.maxBytes} bytes.`)
    }
    let body: unknown
    try {
      body = JSON.parse(call.body)
    } catch {
      return error(400, "invalid_request_error", "Request body is not valid JSON.")
    }
    if (!isRecord(body)) return error(400, "invalid_request_error", "Request body must be a JSON object.")
    const requests = body.requests
    if (!Array.isArray(requests)) return error(400, "invalid_request_error", "requests: Field required")
    if (requests.length === 0) {
      return error(400, "invalid_request_error", "requests: List should have at least 1 item after validation, not 0")
    }
    if (requests.length > this.config.maxRequests) {
      return error(
        400,
        "invalid_request_error",
        `requests: List should have at most ${this.config.maxRequests} items after validation, not ${requests.length}`
      )
    }
    const seen = new Set<string>()
    for (let i = 0; i < requests.length; i++) {
      const item: unknown = requests[i]
      if (!isRecord(item)) return error(400, "invalid_request_error", `requests.${i}: Input should be an object`)
      const customId = item.custom_id
      if (typeof customId !== "string") {
        return error(400, "invalid_request_error", `requests.${i}.custom_id: Field required`)
      }
      if (!CUSTOM_ID.test(customId)) {
        return error(
          400,
          "invalid_request_error",
          `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`
        )
      }
      if (seen.has(customId)) {
        return error(
          400,
          "invalid_request_error",
          `requests.${i}.custom_id: Duplicate custom_id '${customId}': each must be unique within the batch`
        )
      }
      seen.add(customId)
      const invalid = validate("messages", item.params)
      if (invalid !== undefined) {
        return error(400, "invalid_request_error", `requests.${i}.params.${invalid}`)
      }
      if ((item.params as Record<string, unknown>).stream === true) {
        return error(400, "invalid_request_error", `requests.${i}.params.stream: streaming is not supported in batches`)
      }
    }

    const now = call.now
    const n = requests.length
    const processing = this.config.processingMillis
    const entries: Array<Entry> = []
    let doneAt = now
    for (let i = 0; i < n; i++) {
      const item = requests[i] as { readonly custom_id: string; readonly params: MessagesRequest }
      const planned = this.deps.pick(item.custom_id, item.params.model)
      const finishAt = planned?.result === "expired"
        ? Infinity
        : planned?.latency !== undefined
        ? now + planned.latency
        : now + Math.ceil((processing * (i + 1)) / n)
      if (finishAt > doneAt) doneAt = finishAt
      entries.push({ customId: item.custom_id, params: item.params, finishAt, planned })
    }
    const number = this.all.length + 1
    const batch: Batch = {
      id: "msgbatch_sim_" + pad(number),
      number,
      call: call.call,
      createdAt: now,
      expiresAt: now + EXPIRY_MILLIS,
      entries,
      doneAt,
      cancelAt: undefined,
      deleted: false,
      results: undefined
    }
    this.all.push(batch)
    this.byId.set(batch.id, batch)
    return this.ok(batch, call)
  }

  private list(call: Call): Answer {
    const params = new URLSearchParams(call.query)
    const limit = Math.min(1000, Math.max(1, Number(params.get("limit") ?? 20) || 20))
    const after = params.get("after_id")
    const before = params.get("before_id")
    // Newest first.
    const batches: Array<Batch> = []
    for (let i = this.all.length - 1; i >= 0; i--) if (!this.all[i]!.deleted) batches.push(this.all[i]!)
    let start = 0
    let end = batches.length
    if (after !== null) start = batches.findIndex((b) => b.id === after) + 1
    if (before !== null) {
      end = Math.max(0, batches.findIndex((b) => b.id === before))
      start = Math.max(0, end - limit)
    }
    const page = batches.slice(start, Math.min(end, start + limit))
    const data = page.map((b) => this.render(b, call.now, call.origin)).join(",")
    const first = page.length > 0 ? JSON.stringify(page[0]!.id) : "null"
    const last = page.length > 0 ? JSON.stringify(page[page.length - 1]!.id) : "null"
    const hasMore = before !== null ? start > 0 : start + page.length < end
    return { _tag: "Ok", body: `{"data":[${data}],"has_more":${hasMore},"first_id":${first},"last_id":${last}}` }
  }

  private cancel(batch: Batch, call: Call): Answer {
    const status = this.status(batch, call.now)
    if (status === "ended") {
      return error(400, "invalid_request_error", `message_batch ${batch.id} has already ended and cannot be canceled`)
    }
    if (batch.cancelAt === undefined) batch.cancelAt = call.now
    return this.ok(batch, call)
  }

  private delete(batch: Batch, now: number): Answer {
    if (this.status(batch, now) !== "ended") {
      return error(
        400,
        "invalid_request_error",
        `message_batch ${batch.id} is still processing; cancel it and wait until it has ended before deleting it`
      )
    }
    batch.deleted = true
    return { _tag: "Ok", body: `{"id":${JSON.stringify(batch.id)},"type":"message_batch_deleted"}` }
  }

  private results(batch: Batch, now: number): Answer {
    if (this.status(batch, now) !== "ended") {
      return error(400, "invalid_request_error", `message_batch ${batch.id} is still processing; results are not available yet`)
    }
    if (now >= batch.createdAt + RETENTION_MILLIS) {
      return error(404, "not_found_error", `The results of message_batch ${batch.id} are no longer available`)
    }
    const results = this.final(batch)
    const order = batch.entries.map((_, i) => i)
    const keys = batch.entries.map((e) => hash(e.customId))
    order.sort((a, b) => keys[a]! - keys[b]! || a - b)
    return { _tag: "Jsonl", chunks: this.lines(batch, results, order) }
  }

  private *lines(batch: Batch, results: ReadonlyArray<ResultType>, order: ReadonlyArray<number>): Generator<string> {
    let chunk = ""
    let count = 0
    for (const i of order) {
      chunk += this.line(batch, i, results[i]!) + "\n"
      if (++count === LINES_PER_CHUNK) {
        yield chunk
        chunk = ""
        count = 0
      }
    }
    if (chunk !== "") yield chunk
  }

  private line(batch: Batch, index: number, type: ResultType): string {
    const entry = batch.entries[index]!
    const id = JSON.stringify(entry.customId)
    switch (type) {
      case "succeeded": {
        const params = entry.params
        const text = entry.planned?.reply ?? this.deps.reply(params, batch.call)
        const completion = Messages.complete(text, params.max_tokens, Messages.inputTokens(params))
        const message = Messages.messageJson(`msg_sim_b${pad(batch.number)}_${pad(index + 1)}`, params.model, completion)
          .replace("\"service_tier\":\"standard\"", "\"service_tier\":\"batch\"")
        return `{"custom_id":${id},"result":{"type":"succeeded","message":${message}}}`
      }
      case "errored": {
        const { message, type: errorType } = this.errorOf(entry)
        return `{"custom_id":${id},"result":{"type":"errored","error":{"type":"error","error":{"type":${
          JSON.stringify(errorType)
        },"message":${JSON.stringify(message)}},"request_id":null}}}`
      }
      case "canceled":
      case "expired":
        return `{"custom_id":${id},"result":{"type":"${type}"}}`
    }
  }

  private errorOf(entry: Entry): { readonly type: string; readonly message: string } {
    const planned = entry.planned
    if (planned?.result === "errored") {
      const type = planned.errorType ?? "api_error"
      const message = planned.message ?? Option.match(Catalogue.byType(type), { onNone: () => type, onSome: (e) => e.message })
      return { type, message }
    }
    return { type: "not_found_error", message: `model: ${entry.params.model}` }
  }

  // ---------------------------------------------------------------------------------------
  // State at a time

  private endAt(batch: Batch): number {
    const cancelEnd = batch.cancelAt === undefined ? Infinity : batch.cancelAt + this.config.cancelMillis
    return Math.min(batch.doneAt, batch.expiresAt, cancelEnd)
  }

  private status(batch: Batch, now: number): Status {
    if (now >= this.endAt(batch)) return "ended"
    return batch.cancelAt === undefined ? "in_progress" : "canceling"
  }

  /** Each request's result; only meaningful once the batch has ended. */
  private final(batch: Batch): ReadonlyArray<ResultType> {
    if (batch.results !== undefined) return batch.results
    const end = this.endAt(batch)
    const canceled = batch.cancelAt !== undefined && batch.cancelAt + this.config.cancelMillis <= batch.expiresAt
    const results = batch.entries.map((entry): ResultType => {
      if (entry.finishAt > end) return canceled ? "canceled" : "expired"
      const planned = entry.planned?.result
      if (planned !== undefined && planned !== "succeeded") return planned
      return this.deps.hasModel(entry.params.model) ? "succeeded" : "errored"
    })
    batch.results = results
    return results
  }

  private render(batch: Batch, now: number, origin: string): string {
    const status = this.status(batch, now)
    const n = batch.entries.length
    const counts = { processing: n, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
    let endedAt = "null"
    let resultsUrl = "null"
    if (status === "ended") {
      counts.processing = 0
      for (const result of this.final(batch)) counts[result]++
      endedAt = JSON.stringify(iso(this.endAt(batch)))
      resultsUrl = JSON.stringify(`${origin}${PREFIX}/${batch.id}/results`)
    }
    const archived = now >= batch.createdAt + RETENTION_MILLIS
      ? JSON.stringify(iso(batch.createdAt + RETENTION_MILLIS))
      : "null"
    const cancelInitiated = batch.cancelAt === undefined ? "null" : JSON.stringify(iso(batch.cancelAt))
    return `{"id":"${batch.id}","type":"message_batch","processing_status":"${status}","request_counts":` +
      `{"processing":${counts.processing},"succeeded":${counts.succeeded},"errored":${counts.errored},` +
      `"canceled":${counts.canceled},"expired":${counts.expired}},"ended_at":${endedAt},` +
      `"created_at":"${iso(batch.createdAt)}","expires_at":"${iso(batch.expiresAt)}","archived_at":${archived},` +
      `"cancel_initiated_at":${cancelInitiated},"results_url":${resultsUrl}}`
  }

  private ok(batch: Batch, call: Call): Answer {
    return { _tag: "Ok", body: this.render(batch, call.now, call.origin) }
  }
}

const safeDecode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** @internal Scheme and host a request was sent to (`results_url` points back there). */
export const originOf = (url: string, host: string | null): string => {
  const scheme = url.indexOf("://")
  if (scheme !== -1) {
    const slash = url.indexOf("/", scheme + 3)
    return slash === -1 ? url : url.slice(0, slash)
  }
  return host === null ? "https://api.anthropic.com" : `http://${host}`
}
