/**
 * The simulator model. Kept imperative on purpose: one call is a few synchronous steps
 * (route, pick a fault, validate, admit) giving a response now or a `Later` one (a latency,
 * waited on the shared `Timer`), so the per-request cost stays in the low microseconds. State is plain mutable data, which is safe because
 * every mutation happens synchronously inside one Effect step.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import * as Catalogue from "../Catalogue.js"
import * as Fault from "../Fault.js"
import type * as Script from "../Script.js"
import type {
  BatchRecord,
  CallRecord,
  CallUsage,
  EventStreamResponse,
  JsonResponse,
  MessagesRequest,
  Options,
  Outcome,
  Service,
  SimRequest,
  SimResponse,
  Source
} from "../Simulator.js"
import * as Batches from "./batches.js"
import { Capacity, configOf } from "./capacity.js"
import * as EventStream from "./eventStream.js"
import * as Messages from "./messages.js"
import * as Models from "./models.js"
import * as Timer from "./timer.js"
import { parseTarget, type Route, routeOf, validate } from "./route.js"

/** @internal */
export { ConnectionDropped } from "./eventStream.js"

interface CallState {
  readonly call: number
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly endpoint: Fault.Endpoint
  model: string | undefined
  stream: boolean
  status: number | undefined
  outcome: Outcome
  errorType: string | undefined
  source: Source
  readonly startedAt: number
  endedAt: number | undefined
  aborted: boolean
  usage: CallUsage | undefined
}

const pad = (n: number): string => (n < 1_000_000 ? String(n).padStart(6, "0") : String(n))

const JSON_TYPE = "application/json"

/** A response due after `latency` ms of the clock; `abort` records that the client went away first. */
interface Later {
  readonly _tag: "Later"
  readonly now: number
  readonly latency: number
  readonly produce: (now: number) => SimResponse
  readonly abort: (now: number) => void
}

/** What one call gets: a response now, or one later. */
type Plan = SimResponse | Later

/** @internal */
export class SimulatorImpl implements Service {
  private count = 0
  private readonly log: Array<CallState> = []
  private readonly timer = Timer.make()
  private steps: ReadonlyArray<Fault.Fault> = []
  private uses: Array<number> = []
  private waiters: Array<{ readonly count: number; readonly deferred: Deferred.Deferred<void> }> = []
  private capacity: Capacity | undefined
  private readonly latency: number
  private readonly maxCalls: number | undefined
  private readonly interval: number
  private readonly ping: boolean
  private readonly reply: (request: MessagesRequest, call: number) => string
  private readonly models: ReadonlyArray<Record<string, unknown> & { readonly id: string }>
  private readonly modelsById: Map<string, Record<string, unknown>>
  private readonly batchModel: Batches.BatchesModel

  constructor(private readonly options: Options) {
    this.latency = options.latency === undefined ? 0 : Duration.toMillis(options.latency)
    this.maxCalls = options.maxCalls === undefined ? undefined : Math.max(1, options.maxCalls)
    this.interval = options.streamInterval === undefined ? 0 : Duration.toMillis(options.streamInterval)
    this.ping = options.ping ?? true
    this.reply = options.reply ?? Messages.defaultReply
    this.models = (options.models ?? Models.defaultModelIds).map(Models.toModelInfo)
    this.modelsById = new Map(this.models.map((m) => [m.id, m]))
    const b = options.batches
    this.batchModel = new Batches.BatchesModel({
      processingMillis: b?.processingTime === undefined ? 60_000 : Duration.toMillis(b.processingTime),
      cancelMillis: b?.cancelTime === undefined ? 10_000 : Duration.toMillis(b.cancelTime),
      maxRequests: b?.maxRequests ?? Batches.MAX_REQUESTS,
      maxBytes: b?.maxBytes ?? Batches.MAX_BYTES
    }, {
      pick: (customId, model) => this.pickBatch(customId, model),
      reply: this.reply,
      hasModel: (model) => this.modelsById.has(model)
    })
    this.load(options.script)
  }

  private load(script: Script.Script | ReadonlyArray<Fault.Fault> | undefined): void {
    const steps = script === undefined ? [] : Array.isArray(script) ? script : (script as Script.Script).steps
    this.steps = steps
    this.uses = steps.map((f) => (f.times === "forever" ? Infinity : f.times ?? 1))
  }

  // ---------------------------------------------------------------------------------------
  // Service

  readonly handle = (request: SimRequest): Effect.Effect<SimResponse> =>
    Effect.clockWith((clock) =>
      Effect.flatMap(Effect.runtime<never>(), (runtime) =>
        Effect.async<SimResponse>((resume) => {
          const abort = this.handleCallback(request, clock, Runtime.runFork(runtime), (response) =>
            resume(Effect.succeed(response)))
          return Effect.sync(abort)
        }))
    )

  /**
   * One call, without a fiber: `handle` runs on it, and the in-process transport calls it
   * directly so in-flight calls cost no fiber each. `respond` gets the response (at
   * once or when its latency has passed on the clock of `fork`'s runtime); the returned
   * function aborts the call (the client went away) and must not be called after `respond`.
   */
  readonly handleCallback = (
    request: SimRequest,
    clock: Clock.Clock,
    fork: Timer.Fork,
    respond: (response: SimResponse) => void
  ): () => void => {
    const plan = this.run(request, clock)
    if (plan._tag !== "Later") {
      respond(plan)
      return () => {}
    }
    const cancel = this.timer.schedule(fork, plan.now, plan.latency, () =>
      respond(plan.produce(clock.unsafeCurrentTimeMillis())))
    return () => {
      cancel()
      plan.abort(clock.unsafeCurrentTimeMillis())
    }
  }

  readonly calls: Effect.Effect<ReadonlyArray<CallRecord>> = Effect.sync(() =>
    (this.maxCalls === undefined ? this.log : this.log.slice(-this.maxCalls)).map(snapshot)
  )

  readonly awaitCalls = (count: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (this.count >= count) return Effect.void
      const deferred = Deferred.unsafeMake<void>(FiberId.none)
      this.waiters.push({ count, deferred })
      return Deferred.await(deferred)
    })

  readonly inFlight: Effect.Effect<number> = Effect.sync(() => this.capacity?.inFlight ?? 0)

  readonly setScript = (script: Script.Script | ReadonlyArray<Fault.Fault>): Effect.Effect<void> =>
    Effect.sync(() => this.load(script))

  readonly batches: Effect.Effect<ReadonlyArray<BatchRecord>> = Effect.clockWith((clock) =>
    Effect.sync(() => this.batchModel.records(clock.unsafeCurrentTimeMillis()))
  )

  // ---------------------------------------------------------------------------------------
  // One call

  private capacityAt(now: number): Capacity {
    if (this.capacity === undefined) this.capacity = new Capacity(configOf(this.options.capacity), now)
    return this.capacity
  }

  private run(request: SimRequest, clock: Clock.Clock): Plan {
    const now = clock.unsafeCurrentTimeMillis()
    const capacity = this.capacityAt(now)
    const n = ++this.count
    const method = request.method.toUpperCase()
    const { path, query } = parseTarget(request.url)
    const route = routeOf(method, path)
    const state: CallState = {
      call: n,
      requestId: "req_sim_" + pad(n),
      method,
      path,
      endpoint: route.endpoint,
      model: route.modelId,
      stream: false,
      status: undefined,
      outcome: "pending",
      errorType: undefined,
      source: "model",
      startedAt: now,
      endedAt: undefined,
      aborted: false,
      usage: undefined
    }
    this.log.push(state)
    if (this.maxCalls !== undefined && this.log.length >= 2 * this.maxCalls) {
      this.log.splice(0, this.log.length - this.maxCalls)
    }
    if (this.waiters.length > 0) this.wake()

    let body: unknown = undefined
    let badJson = false
    if (route.endpoint === "messages" || route.endpoint === "count_tokens") {
      try {
        body = JSON.parse(request.body)
      } catch {
        badJson = true
      }
      if (body !== null && typeof body === "object") {
        const b = body as { model?: unknown; stream?: unknown }
        if (typeof b.model === "string") state.model = b.model
        state.stream = route.endpoint === "messages" && b.stream === true
      }
    }

    // 1. A scripted fault decides first.
    const fault = this.pick(state)
    if (fault !== undefined) {
      switch (fault._tag) {
        case "Status":
          return this.later(state, fault.latency ?? 0, now, undefined, (t) => this.scriptedStatus(state, fault, t))
        case "Raw":
          return this.later(state, fault.latency ?? 0, now, undefined, (t) => this.raw(state, fault, t))
        case "Reset":
          return this.later(state, fault.latency ?? 0, now, undefined, (t) => {
            this.settle(state, undefined, "reset", undefined, "script", t)
            return { _tag: "ConnectionReset" }
          })
      }
    }

    // 2. Request validation.
    if (request.headers.get("x-api-key") === null && request.headers.get("authorization") === null) {
      return this.error(state, now, 401, "authentication_error", "x-api-key header is required", "request")
    }
    switch (route.endpoint) {
      case "unknown":
        return this.error(state, now, 404, "not_found_error", "Not Found", "request")
      case "models":
        return this.later(state, fault?.latency ?? 0, now, undefined, (t) => this.modelsAnswer(state, route, query, t))
      case "batches":
        return this.later(state, fault?.latency ?? 0, now, undefined, (t) => this.batchAnswer(state, request, path, query, t))
    }
    if (badJson) {
      return this.error(state, now, 400, "invalid_request_error", "Request body is not valid JSON.", "request")
    }
    const invalid = validate(route.endpoint, body) ?? Messages.prefillProblem(body as MessagesRequest)
    if (invalid !== undefined) {
      return this.error(state, now, 400, "invalid_request_error", invalid, "request")
    }
    const messages = body as MessagesRequest
    if (!this.modelsById.has(messages.model)) {
      return this.error(state, now, 404, "not_found_error", `model: ${messages.model}`, "request")
    }
    const input = Messages.inputTokens(messages)
    if (route.endpoint === "count_tokens") {
      return this.later(state, fault?.latency ?? 0, now, undefined, (t) =>
        this.json(state, t, 200, `{"input_tokens":${input}}`, "ok", undefined, "model", undefined))
    }

    // 3. The capacity model.
    const text = Messages.afterPrefill(
      messages,
      fault?._tag === "Ok" && fault.reply !== undefined ? fault.reply : this.reply(messages, n)
    )
    const completion = Messages.complete(text, messages.max_tokens, input)
    const pool = capacity.pool(messages.model)
    const admission = pool.admit(now, input + completion.outputTokens)
    if (admission._tag === "Overloaded") {
      return this.error(state, now, 529, "overloaded_error", "Overloaded", "capacity")
    }
    if (admission._tag === "RateLimited") {
      const limit = admission.limit === "requests"
        ? `${pool.config.requestsPerMinute} requests per minute`
        : `${pool.config.tokensPerMinute} tokens per minute`
      return this.error(
        state,
        now,
        429,
        "rate_limit_error",
        `This request would exceed your organization's rate limit of ${limit}. Please try again later.`,
        "capacity",
        { "retry-after": String(admission.retryAfterSeconds) }
      )
    }

    // 4. A normal answer (or a stream fault), after the latency.
    const release = () => pool.release()
    const latency = fault?.latency ?? this.latency
    const id = "msg_sim_" + pad(n)
    if (!state.stream) {
      return this.later(state, latency, now, release, (t) => {
        release()
        state.usage = { inputTokens: completion.inputTokens, outputTokens: completion.outputTokens }
        return this.json(state, t, 200, Messages.messageJson(id, messages.model, completion), "ok", undefined, "model", undefined)
      })
    }
    const streamFault = fault !== undefined && Fault.isStreamFault(fault) ? fault : undefined
    return this.later(state, latency, now, release, (t) => this.eventStream(state, t, clock, id, messages.model, completion, streamFault, release))
  }

  private pick(state: CallState): Fault.Fault | undefined {
    const steps = this.steps
    for (let i = 0; i < steps.length; i++) {
      if (this.uses[i]! <= 0) continue
      const f = steps[i]!
      if (f.endpoint !== undefined && f.endpoint !== state.endpoint) continue
      if (f.model !== undefined && f.model !== state.model) continue
      if (Fault.isStreamFault(f) && !state.stream) continue
      if (Fault.isBatchResult(f)) continue
      this.uses[i]!--
      return f
    }
    return undefined
  }

  /** The first `BatchResult` fault with uses left that matches one batch request. */
  private pickBatch(customId: string, model: string | undefined): Fault.BatchResult | undefined {
    const steps = this.steps
    for (let i = 0; i < steps.length; i++) {
      const f = steps[i]!
      if (f._tag !== "BatchResult" || this.uses[i]! <= 0) continue
      if (f.customId !== undefined && f.customId !== customId) continue
      if (f.model !== undefined && f.model !== model) continue
      this.uses[i]!--
      return f
    }
    return undefined
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.count <= this.count)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => w.count > this.count)
    for (const w of ready) Deferred.unsafeDone(w.deferred, Exit.void)
  }

  /** Answer after `latency` ms; if the client goes away meanwhile, the call is aborted. */
  private later(
    state: CallState,
    latency: number,
    now: number,
    onAbort: (() => void) | undefined,
    produce: (now: number) => SimResponse
  ): Plan {
    if (latency <= 0) return produce(now)
    return {
      _tag: "Later",
      now,
      latency,
      produce,
      abort: (at) => {
        state.aborted = true
        state.endedAt = at
        onAbort?.()
      }
    }
  }

  private settle(
    state: CallState,
    status: number | undefined,
    outcome: Outcome,
    errorType: string | undefined,
    source: Source,
    endedAt: number | undefined
  ): void {
    state.status = status
    state.outcome = outcome
    state.errorType = errorType
    state.source = source
    state.endedAt = endedAt
  }

  private baseHeaders(state: CallState, now: number, contentType: string): Record<string, string> {
    const headers: Record<string, string> = { "content-type": contentType, "request-id": state.requestId }
    if (state.endpoint === "messages") {
      const capacity = this.capacity?.pool(state.model)
      if (capacity !== undefined && capacity.hasRateLimits) capacity.writeHeaders(now, headers)
    }
    return headers
  }

  private json(
    state: CallState,
    now: number,
    status: number,
    body: string,
    outcome: Outcome,
    errorType: string | undefined,
    source: Source,
    extra: Readonly<Record<string, string>> | undefined
  ): JsonResponse {
    this.settle(state, status, outcome, errorType, source, now)
    const headers = this.baseHeaders(state, now, JSON_TYPE)
    if (extra !== undefined) Object.assign(headers, extra)
    return { _tag: "Json", status, headers, body }
  }

  private error(
    state: CallState,
    now: number,
    status: number,
    type: string,
    message: string,
    source: Source,
    extra?: Readonly<Record<string, string>>
  ): JsonResponse {
    const entry = Catalogue.forStatus(status)
    const headers: Record<string, string> = {}
    if (entry.shouldRetry) headers["x-should-retry"] = "true"
    if (Option.isSome(entry.retryAfter)) headers["retry-after"] = String(entry.retryAfter.value)
    if (extra !== undefined) Object.assign(headers, extra)
    const body = Catalogue.body({ type, message, requestId: state.requestId })
    return this.json(state, now, status, body, "error", type, source, headers)
  }

  private scriptedStatus(state: CallState, fault: Fault.Status, now: number): JsonResponse {
    const entry = Catalogue.forStatus(fault.status)
    const type = fault.type ?? entry.type
    const headers: Record<string, string> = {}
    const shouldRetry = fault.shouldRetry === undefined ? (entry.shouldRetry ? true : null) : fault.shouldRetry
    if (shouldRetry !== null) headers["x-should-retry"] = String(shouldRetry)
    const retryAfter = fault.retryAfter === undefined ? Option.getOrNull(entry.retryAfter) : fault.retryAfter
    if (retryAfter !== null) headers["retry-after"] = String(retryAfter)
    if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs)
    if (fault.headers !== undefined) setHeaders(headers, fault.headers)
    const body = Catalogue.body({
      type,
      message: fault.message ?? entry.message,
      requestId: state.requestId,
      errorCode: fault.errorCode
    })
    return this.json(state, now, fault.status, body, "error", type, "script", headers)
  }

  private raw(state: CallState, fault: Fault.Raw, now: number): JsonResponse {
    this.settle(state, fault.status, "raw", undefined, "script", now)
    const headers: Record<string, string> = {
      "content-type": "text/plain; charset=utf-8",
      "request-id": state.requestId
    }
    if (fault.headers !== undefined) setHeaders(headers, fault.headers)
    return { _tag: "Json", status: fault.status, headers, body: fault.body }
  }

  private modelsAnswer(state: CallState, route: Route, query: string, now: number): JsonResponse {
    if (route.modelId !== undefined) {
      const model = this.modelsById.get(route.modelId)
      return model === undefined
        ? this.error(state, now, 404, "not_found_error", `model: ${route.modelId}`, "request")
        : this.json(state, now, 200, JSON.stringify(model), "ok", undefined, "model", undefined)
    }
    const body = Models.listPage(this.models, query)
    return this.json(state, now, 200, body, "ok", undefined, "model", undefined)
  }

  private batchAnswer(state: CallState, request: SimRequest, path: string, query: string, now: number): SimResponse {
    const answer = this.batchModel.handle({
      method: state.method,
      path,
      query,
      body: request.body,
      origin: Batches.originOf(request.url, request.headers.get("host")),
      call: state.call,
      now
    })
    switch (answer._tag) {
      case "Ok":
        return this.json(state, now, 200, answer.body, "ok", undefined, "model", undefined)
      case "Error":
        return this.error(state, now, answer.status, answer.type, answer.message, "request")
      case "Jsonl": {
        this.settle(state, 200, "ok", undefined, "model", now)
        const headers = this.baseHeaders(state, now, "application/binary")
        return { _tag: "EventStream", status: 200, headers, events: Stream.fromIterable(answer.chunks) }
      }
    }
  }

  private eventStream(
    state: CallState,
    now: number,
    clock: Clock.Clock,
    id: string,
    model: string,
    completion: Messages.Completion,
    fault: Fault.StreamError | Fault.StreamDrop | Fault.StreamStall | undefined,
    release: () => void
  ): EventStreamResponse {
    const frames = Messages.streamFrames(id, model, completion, this.ping)
    const headers = this.baseHeaders(state, now, "text/event-stream; charset=utf-8")
    headers["cache-control"] = "no-cache"
    const clockNow = () => clock.unsafeCurrentTimeMillis()
    // What the stream reports: message_start's usage (1 output token), or message_delta's at the end.
    state.usage = fault === undefined
      ? { inputTokens: completion.inputTokens, outputTokens: completion.outputTokens }
      : fault.afterDeltas === "before_message_start"
      ? undefined
      : { inputTokens: completion.inputTokens, outputTokens: 1 }
    switch (fault?._tag) {
      case undefined:
        this.settle(state, 200, "ok", undefined, "model", undefined)
        break
      case "StreamError":
        this.settle(state, 200, "stream_error", fault.errorType ?? "overloaded_error", "script", undefined)
        break
      case "StreamDrop":
        this.settle(state, 200, "dropped", undefined, "script", undefined)
        break
      case "StreamStall":
        this.settle(state, 200, "stalled", undefined, "script", undefined)
        break
    }
    const events = EventStream.make(frames, fault, this.interval, (completed) => {
      release()
      state.endedAt = clockNow()
      if (!completed) state.aborted = true
    }, this.timer.sleep)
    return { _tag: "EventStream", status: 200, headers, events }
  }
}

/** Scripted headers replace the defaults whatever their case (`Retry-After` replaces `retry-after`). */
const setHeaders = (headers: Record<string, string>, extra: Readonly<Record<string, string>>): void => {
  for (const key of Object.keys(extra)) headers[key.toLowerCase()] = extra[key]!
}

const snapshot = (s: CallState): CallRecord => ({
  call: s.call,
  requestId: s.requestId,
  method: s.method,
  path: s.path,
  endpoint: s.endpoint,
  model: Option.fromNullable(s.model),
  stream: s.stream,
  status: Option.fromNullable(s.status),
  outcome: s.outcome,
  errorType: Option.fromNullable(s.errorType),
  source: s.source,
  startedAt: s.startedAt,
  endedAt: Option.fromNullable(s.endedAt),
  aborted: s.aborted,
  usage: Option.fromNullable(s.usage)
})

/** @internal */
export const make = (options?: Options): Effect.Effect<Service> => Effect.sync(() => new SimulatorImpl(options ?? {}))
