/**
 * The machinery of `StreamRecovery.stream`: legs, attempts, timers, recovery decisions.
 *
 * A *leg* is one runner call: its attempts are HTTP streams, read until their first content
 * event (that part is buffered, so a failure there is invisible to the consumer); the attempt
 * that gets there stays open and the consumer reads the rest of it. Each leg has its own scope
 * (given to the runner, so permits live as long as the leg's HTTP stream) and each attempt a child
 * scope of it, closed as soon as the attempt fails, which aborts its request.
 *
 * @internal
 */
import type { Message, MessageParam, RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages"
import { Classification } from "@ballast/core"
import { Chunk, Duration, Effect, ExecutionStrategy, Exit, Option, Predicate, Scope, Stream } from "effect"
import * as Client from "../AnthropicClient.js"
import type * as AnthropicError from "../AnthropicError.js"
import * as StreamRecovery from "../StreamRecovery.js"
import * as Accumulate from "./accumulate.js"
import * as StallWatch from "./stallWatch.js"
import * as Stitch from "./stitch.js"

type Event = StreamRecovery.Event
type AttemptError = StreamRecovery.AttemptError
type RawPull = Effect.Effect<Chunk.Chunk<RawMessageStreamEvent>, Option.Option<StreamRecovery.ClientError>>

interface Settings<X> {
  readonly strategy: StreamRecovery.Strategy
  readonly idle: number
  readonly content: number
  readonly maxRecoveries: number
  readonly runner: StreamRecovery.Runner<X>
  readonly requestOptions: Client.RequestOptions | undefined
}

const settings = <X>(options: StreamRecovery.Options<X> | undefined): Settings<X> => ({
  strategy: options?.strategy ?? StreamRecovery.defaults.strategy,
  idle: Duration.toMillis(options?.idleTimeout ?? StreamRecovery.defaults.idleTimeout),
  content: Duration.toMillis(options?.contentTimeout ?? StreamRecovery.defaults.contentTimeout),
  maxRecoveries: Math.max(0, options?.maxRecoveries ?? StreamRecovery.defaults.maxRecoveries),
  runner: options?.runner ?? (StreamRecovery.retryRunner() as StreamRecovery.Runner<X>),
  requestOptions: options?.requestOptions
})

/** The mutable record behind an `AttemptRecord`. */
interface Record {
  readonly attempt: number
  readonly model: string
  readonly mode: StreamRecovery.AttemptRecord["mode"]
  requestId: Option.Option<string>
  usage: Option.Option<Accumulate.Usage>
  error: Option.Option<AttemptError>
}

/** What the next leg sends and how its events join the consumer's message. */
interface Plan {
  readonly mode: StreamRecovery.AttemptRecord["mode"]
  readonly params: StreamRecovery.Params
  /** A fresh translator per attempt (a stitch has state). */
  readonly translate: () => Stitch.Translate
  /** Emitted as soon as the recovery is decided. */
  readonly marker: Option.Option<StreamRecovery.Restarted | StreamRecovery.Continued>
}

/** An attempt past its first content: its connection, the events read so far, the rest to read. */
interface Opened {
  readonly scope: Scope.CloseableScope
  readonly pull: RawPull
  readonly translate: Stitch.Translate
  readonly record: Record
  readonly buffered: ReadonlyArray<Event>
  readonly ended: boolean
  readonly watch: StallWatch.StallWatch
}

const isPing = (event: { readonly type: string }): boolean => event.type === "ping"

/** Whether an event is content for the content timer (`message_start` and pings are not). */
const isProgress = (event: { readonly type: string }): boolean => event.type !== "message_start" && !isPing(event)

/** The API refused the prefilled request (400): the model or the request does not allow prefill. */
const isPrefillRefusal = (error: unknown): error is AnthropicError.InvalidRequest =>
  Predicate.isTagged(error, "InvalidRequest")

const thinkingEnabled = (params: StreamRecovery.Params): boolean =>
  params.thinking !== undefined && params.thinking.type !== "disabled"

/** `params` with `text` appended to the assistant's answer (the request's own prefill, if it has one). */
const withPrefill = (params: StreamRecovery.Params, text: string): StreamRecovery.Params => {
  if (text.length === 0) return params
  const messages = params.messages
  const last = messages[messages.length - 1]
  if (last?.role !== "assistant") {
    return { ...params, messages: [...messages, { role: "assistant", content: text }] }
  }
  const content: MessageParam["content"] = typeof last.content === "string"
    ? last.content + text
    : [...last.content, { type: "text", text }]
  return { ...params, messages: [...messages.slice(0, -1), { role: "assistant", content }] }
}

class Machine<X> {
  private readonly acc = new Accumulate.Accumulator()
  private readonly records: Array<Record> = []
  private pending: Array<Event> = []
  private leg: { readonly scope: Scope.CloseableScope; readonly opened: Opened } | undefined = undefined
  private plan: Plan
  private emitted = false
  private done = false
  /** The model whose stream was last opened: a continuation goes on with the model that wrote the prefix. */
  private servedModel: string | undefined = undefined
  private recoveries = 0
  private prefillRefused = false
  /** The consumer's message when the last recovery began (a restart then discards it). */
  private lastPartial: Option.Option<Message> = Option.none()

  constructor(
    private readonly client: Client.AnthropicClient.Service,
    private readonly params: StreamRecovery.Params,
    private readonly settings: Settings<X>,
    private readonly scope: Scope.Scope
  ) {
    this.plan = { mode: "initial", params, translate: () => Stitch.identity, marker: Option.none() }
  }

  /** The consumer's pull. */
  readonly next: Effect.Effect<Chunk.Chunk<Event>, Option.Option<StreamRecovery.Failure<X>>> = Effect.suspend(() => {
    if (this.pending.length > 0) {
      const out = this.pending
      this.pending = []
      return Effect.succeed(Chunk.unsafeFromArray(out))
    }
    if (this.done) return Effect.fail(Option.none())
    return Effect.zipRight(this.leg === undefined ? this.open() : this.read(this.leg), this.next)
  })

  // -------------------------------------------------------------------------------------------
  // Emitting

  private emit(events: ReadonlyArray<Event>): void {
    for (const event of events) {
      this.pending.push(event)
      switch (event.type) {
        case "restarted":
          this.acc.reset()
          break
        case "continued":
        case "summary":
          break
        default:
          this.acc.apply(event)
          if (event.type !== "message_start") this.emitted = true
      }
    }
  }

  private total(): Accumulate.Usage {
    let total = Accumulate.zero
    for (const r of this.records) if (Option.isSome(r.usage)) total = Accumulate.add(total, r.usage.value)
    return total
  }

  private attempts(): ReadonlyArray<StreamRecovery.AttemptRecord> {
    return this.records.map((r) => ({ ...r }))
  }

  private message(total: Accumulate.Usage): Option.Option<Message> {
    return Option.map(
      Option.fromNullable(this.acc.snapshot()),
      (message) => ({ ...message, usage: Accumulate.withTotal(message.usage, total) })
    )
  }

  private finish(legScope: Scope.CloseableScope): Effect.Effect<void> {
    this.leg = undefined
    this.done = true
    return Effect.flatMap(Scope.close(legScope, Exit.void), () =>
      Effect.sync(() => {
        const usage = this.total()
        const message = this.message(usage)
        if (Option.isNone(message)) return
        this.emit([{
          type: "summary",
          message: message.value,
          text: this.acc.text,
          usage,
          attempts: this.attempts(),
          recoveries: this.recoveries
        }])
      }))
  }

  private failure(error: AttemptError | X): StreamRecovery.Failure<X> {
    if (!this.emitted) return error
    const usage = this.total()
    return new StreamRecovery.MidStreamFailure<AttemptError | X>({
      error,
      strategy: this.settings.strategy,
      partial: Option.orElse(
        this.message(usage),
        () => Option.map(this.lastPartial, (m) => ({ ...m, usage: Accumulate.withTotal(m.usage, usage) }))
      ),
      usage,
      attempts: this.attempts(),
      recoveries: this.recoveries
    })
  }

  // -------------------------------------------------------------------------------------------
  // Legs

  /** Runs the next leg through the runner until its first content. */
  private open(): Effect.Effect<void, Option.Option<StreamRecovery.Failure<X>>> {
    const plan = this.plan
    return Effect.gen(this, function*() {
      const legScope = yield* Scope.fork(this.scope, ExecutionStrategy.sequential)
      const result = yield* this.settings.runner(
        (attempt) => this.attempt(attempt, plan, legScope),
        { key: plan.mode === "continue" && this.servedModel !== undefined ? this.servedModel : plan.params.model }
      ).pipe(Scope.extend(legScope), Effect.either)
      if (result._tag === "Left") {
        const error = result.left
        yield* Scope.close(legScope, Exit.fail(error))
        if (plan.mode === "continue" && isPrefillRefusal(error)) {
          this.prefillRefused = true
          this.recover(this.restart(Option.match(plan.marker, { onNone: () => error, onSome: (m) => m.error })))
          return
        }
        return yield* Effect.fail(Option.some(this.failure(error)))
      }
      const opened = result.right
      this.servedModel = this.records[this.records.length - 1]?.model
      this.leg = { scope: legScope, opened }
      this.emit(opened.buffered)
      if (opened.ended) yield* this.finish(legScope)
    })
  }

  /** One HTTP attempt, read until its first content (or its end). */
  private attempt(
    attempt: StreamRecovery.Attempt,
    plan: Plan,
    legScope: Scope.Scope
  ): Effect.Effect<Opened, AttemptError> {
    const model = attempt.key.length > 0 ? attempt.key : plan.params.model
    const record: Record = {
      attempt: this.records.length + 1,
      model,
      mode: plan.mode,
      requestId: Option.none(),
      usage: Option.none(),
      error: Option.none()
    }
    this.records.push(record)
    return Effect.flatMap(Scope.fork(legScope, ExecutionStrategy.sequential), (scope) =>
      Effect.gen(this, function*() {
        const response = yield* Scope.extend(
          this.client.messages.streamWithResponse({ ...plan.params, model }, this.settings.requestOptions),
          scope
        )
        record.requestId = response.requestId
        const pull = yield* Scope.extend(Stream.toPull(response.value), scope)
        const watch = yield* Scope.extend(
          StallWatch.make({ idle: this.settings.idle, content: this.settings.content, requestId: response.requestId }),
          scope
        )
        const opened: Opened = { scope, pull, translate: plan.translate(), record, buffered: [], ended: false, watch }
        const buffered: Array<Event> = []
        while (true) {
          const chunk = yield* this.pull(opened)
          if (Option.isNone(chunk)) return { ...opened, buffered, ended: true }
          let content = false
          for (const event of chunk.value) {
            for (const out of this.translate(opened, event)) {
              buffered.push(out)
              if (out.type !== "message_start") content = true
            }
          }
          if (content) {
            watch.contentEmitted()
            return { ...opened, buffered }
          }
        }
      }).pipe(
        Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : Scope.close(scope, exit))),
        Effect.tapError((error) => Effect.sync(() => (record.error = Option.some(error))))
      )).pipe(
        Effect.withSpan("StreamRecovery.attempt", {
          attributes: { "gen_ai.request.model": model, "ballast.attempt": record.attempt, "ballast.mode": plan.mode }
        })
      )
  }

  /** Tracks usage and translates one raw event of an attempt onto the consumer's message. */
  private translate(opened: Opened, event: RawMessageStreamEvent): ReadonlyArray<Event> {
    if (isPing(event)) return []
    const record = opened.record
    if (event.type === "message_start") record.usage = Option.some(Accumulate.fromMessage(event.message.usage))
    else if (event.type === "message_delta") {
      record.usage = Option.some(Accumulate.withDelta(Option.getOrElse(record.usage, () => Accumulate.zero), event.usage))
    }
    return opened.translate(event)
  }

  /** The next chunk of an attempt (`None` at its end), or `StreamStalled` (see `StallWatch`). */
  private pull(opened: Opened): Effect.Effect<Option.Option<Chunk.Chunk<RawMessageStreamEvent>>, AttemptError> {
    return opened.watch.read(
      opened.pull.pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) => (Option.isNone(error) ? Effect.succeed(Option.none()) : Effect.fail(error.value)))
      )
    ).pipe(
      Effect.tap((chunk) => {
        if (Option.isSome(chunk) && Chunk.some(chunk.value, isProgress)) opened.watch.progress()
      })
    )
  }

  /** Reads the open leg after its first content; on failure, decides the recovery. */
  private read(leg: { readonly scope: Scope.CloseableScope; readonly opened: Opened }) {
    return Effect.gen(this, function*() {
      const result = yield* Effect.either(this.pull(leg.opened))
      if (result._tag === "Right") {
        if (Option.isNone(result.right)) return yield* this.finish(leg.scope)
        const out: Array<Event> = []
        for (const event of result.right.value) out.push(...this.translate(leg.opened, event))
        this.emit(out)
        return
      }
      const error = result.left
      leg.opened.record.error = Option.some(error)
      this.leg = undefined
      yield* Scope.close(leg.scope, Exit.fail(error))
      const retryable = Classification.classify(error).retryable
      if (this.settings.strategy === "fail" || !retryable || this.recoveries >= this.settings.maxRecoveries) {
        return yield* Effect.fail(Option.some(this.failure(error)))
      }
      this.recoveries += 1
      this.recover(this.settings.strategy === "continue" ? this.continuation(error) : this.restart(error))
    })
  }

  /** Sets the next leg's plan and tells the consumer at once. */
  private recover(plan: Plan): void {
    const snapshot = this.acc.snapshot()
    if (snapshot !== undefined) this.lastPartial = Option.some(snapshot)
    this.plan = plan
    if (Option.isSome(plan.marker)) this.emit([plan.marker.value])
  }

  // -------------------------------------------------------------------------------------------
  // Plans

  private restart(error: AttemptError): Plan {
    return {
      mode: "restart",
      params: this.params,
      translate: () => Stitch.identity,
      marker: Option.some({ type: "restarted", recovery: this.recoveries, error })
    }
  }

  /** A continuation by prefill when the message allows it, else a restart. */
  private continuation(error: AttemptError): Plan {
    const acc = this.acc
    if (this.prefillRefused || thinkingEnabled(this.params) || !acc.started || !acc.textOnly) return this.restart(error)
    const text = acc.text
    const prefill = text.trimEnd()
    const where: Stitch.Where = {
      openIndex: acc.openIndex,
      openIsText: acc.openIndex !== undefined,
      blockCount: acc.blockCount,
      strip: text.slice(prefill.length)
    }
    return {
      mode: "continue",
      params: withPrefill(this.params, prefill),
      translate: () => Stitch.make(where),
      marker: Option.some({ type: "continued", recovery: this.recoveries, error, prefill })
    }
  }
}

/** @internal */
export const stream = <X = never>(
  params: StreamRecovery.Params,
  options?: StreamRecovery.Options<X>
): Stream.Stream<Event, StreamRecovery.Failure<X>, Client.AnthropicClient> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const client = yield* Client.AnthropicClient
      const scope = yield* Effect.scope
      const machine = new Machine(client, params, settings(options), scope)
      return Stream.repeatEffectChunkOption(machine.next)
    })
  ).pipe(
    Stream.withSpan("StreamRecovery.stream", {
      attributes: { "gen_ai.system": "anthropic", "gen_ai.request.model": params.model }
    })
  )
