/**
 * The deferred client's machinery: windows that gather `messages.create` calls, one batch per
 * closed window through the BatchSubmitter, and each caller's result delivered through its own
 * `Deferred`.
 *
 * Window state is plain mutable data, changed only inside single synchronous steps
 * (`Effect.sync`/`Effect.suspend`), so no two fibers see it half-changed.
 *
 * @internal
 */
import type { Message, MessageCreateParamsNonStreaming } from "@anthropic-ai/sdk/resources/messages"
import { Policy, Resilience } from "@ballast/core"
import type { Scope } from "effect"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, FiberId, FiberRef, Option, Stream } from "effect"
import { AnthropicClient } from "../AnthropicClient.js"
import type * as Client from "../AnthropicClient.js"
import * as AnthropicError from "../AnthropicError.js"
import * as BatchJournal from "../BatchJournal.js"
import type * as BatchOutcome from "../BatchOutcome.js"
import * as BatchSubmitter from "../BatchSubmitter.js"
import type * as DeferredClient from "../DeferredClient.js"
import * as RateLimit from "../RateLimit.js"
import * as ResilientClient from "../ResilientClient.js"

/** Window reports kept (the newest). */
const MAX_REPORTS = 1_000

/** @internal */
export const currentMark: FiberRef.FiberRef<Option.Option<boolean>> = FiberRef.unsafeMake(Option.none<boolean>())

/** @internal */
export const customId = (window: number, n: number): string => `w${window}-${n}`

// --- errors ---------------------------------------------------------------------------------

const fields = (errorType: string, message: string): AnthropicError.Fields => ({
  status: Option.none(),
  errorType,
  errorCode: Option.none(),
  message,
  requestId: Option.none(),
  retryAfter: Option.none(),
  shouldRetry: Option.none(),
  rateLimit: RateLimit.empty,
  inStream: false,
  contentEmitted: false,
  raw: Option.none()
})

/** @internal */
export const toClientError = (
  error: BatchOutcome.RequestFailure | BatchSubmitter.SubmitError
): Client.ClientError => {
  switch (error._tag) {
    case "RequestErrored": {
      const Class = AnthropicError.classForType(error.errorType)
      return new Class(fields(
        error.errorType,
        `${error.errorMessage} (batch ${error.batchId}, ${error.customId}, attempt ${error.attempt})`
      ))
    }
    case "RequestRejected":
      return error.error
    case "RequestExpired":
      return new AnthropicError.Timeout(fields("batch_expired", error.message))
    case "RequestCanceled":
      return new AnthropicError.UnknownApiError(fields("batch_canceled", error.message))
    case "BatchInputError":
      return error.reason === "RequestTooLarge"
        ? new AnthropicError.RequestTooLarge(fields("request_too_large", error.message))
        : new AnthropicError.SdkError(fields("batch_error", error.message))
    case "BatchSubmitError":
    case "BatchJournalError":
      return new AnthropicError.SdkError(fields("batch_error", error.message))
    default:
      return error
  }
}

// --- formatting -----------------------------------------------------------------------------

const row = (label: string, text: string) => `  ${label.padEnd(16)}${text}`

/** @internal */
export const format = (self: DeferredClient.Config): string => {
  const s = self.submitter
  const resubmits = [...s.retryErrorTypes, "expired"].join(", ")
  return [
    `Batch preset ${JSON.stringify(self.name)}`,
    row(
      "defers",
      self.defer === "all"
        ? "every messages.create (except calls marked immediate)"
        : "messages.create calls marked deferrable"
    ),
    row("window", `up to ${self.maxSize} calls, or ${Duration.format(self.maxWait)} after its first call`),
    row(
      "poll",
      `after ${Duration.format(s.pollInitial)}, ×${s.pollFactor} each time, at most every ${Duration.format(s.pollMax)}`
    ),
    row("resubmits", `${resubmits}, up to ${s.maxAttempts} attempts per request`),
    row("batch limits", `${s.maxRequestsPerBatch} requests, ${s.maxBytesPerBatch} bytes`),
    row(
      "batch API calls",
      Option.match(self.policy, {
        onNone: () => "as the client below makes them (no policy of its own)",
        onSome: (policy) => Policy.format(policy).split("\n").join(`\n${" ".repeat(18)}`)
      })
    )
  ].join("\n")
}

/** @internal */
export const toJSON = (self: DeferredClient.Config): unknown => {
  const s = self.submitter
  return {
    name: self.name,
    defer: self.defer,
    maxSize: self.maxSize,
    maxWait: Duration.format(self.maxWait),
    policy: Option.match(self.policy, { onNone: () => null, onSome: (policy) => policy.toJSON() }),
    submitter: {
      maxRequestsPerBatch: s.maxRequestsPerBatch,
      maxBytesPerBatch: s.maxBytesPerBatch,
      maxAttempts: s.maxAttempts,
      retryErrorTypes: [...s.retryErrorTypes],
      pollInitial: Duration.format(s.pollInitial),
      pollFactor: s.pollFactor,
      pollMax: Duration.format(s.pollMax),
      adoptWindow: Duration.format(s.adoptWindow)
    }
  }
}

// --- windows --------------------------------------------------------------------------------

interface Entry {
  readonly id: string
  readonly params: MessageCreateParamsNonStreaming
  readonly deferred: Deferred.Deferred<Message, Client.ClientError>
  readonly window: Window
  /** The caller was interrupted. */
  gone: boolean
}

interface Window {
  readonly number: number
  readonly openedAt: number
  readonly entries: Array<Entry>
  /** Ids handed out so far (the next entry's `n`). */
  next: number
  /** Callers still waiting. */
  live: number
  open: boolean
  timer: Fiber.RuntimeFiber<void> | undefined
  /** Completed when every caller of the sent window has gone. */
  readonly abandoned: Deferred.Deferred<void>
  readonly batchIds: Array<string>
}

/** @internal */
export const make = (
  config: DeferredClient.Config
): Effect.Effect<
  { readonly client: Client.AnthropicClient.Service; readonly deferred: DeferredClient.DeferredClient.Service },
  never,
  AnthropicClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const base = yield* AnthropicClient
    const scope = yield* Effect.scope
    const batchClient = Option.isSome(config.policy)
      ? ResilientClient.wrap(base, yield* Resilience.make(config.policy.value))
      : base
    const s = config.submitter
    const submitterOptions: BatchSubmitter.Options = {
      maxRequestsPerBatch: s.maxRequestsPerBatch,
      maxBytesPerBatch: s.maxBytesPerBatch,
      maxAttempts: s.maxAttempts,
      retryErrorTypes: s.retryErrorTypes,
      pollInitial: s.pollInitial,
      pollFactor: s.pollFactor,
      pollMax: s.pollMax,
      adoptWindow: s.adoptWindow
    }

    let current: Window | undefined
    let opened = 0
    const active = new Set<Window>()
    const reports: Array<DeferredClient.WindowReport> = []

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // The layer is going away: nobody will answer the callers still waiting.
        for (const window of active) {
          for (const entry of window.entries) Deferred.unsafeDone(entry.deferred, Effect.interrupt)
        }
        active.clear()
        current = undefined
      })
    )

    const settle = (entry: Entry | undefined, exit: Exit.Exit<Message, Client.ClientError>) => {
      if (entry !== undefined) Deferred.unsafeDone(entry.deferred, exit)
    }

    /** Sends a closed window as one submission; every entry ends settled. */
    const send = (window: Window, entries: ReadonlyArray<Entry>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const byId = new Map(entries.map((entry) => [entry.id, entry]))
        const journal = yield* BatchJournal.makeMemory()
        const submitter = yield* BatchSubmitter.make(submitterOptions).pipe(
          Effect.provideService(AnthropicClient, batchClient),
          Effect.provideService(BatchJournal.BatchJournal, journal)
        )
        const run = submitter.run(entries.map((entry) => ({ custom_id: entry.id, params: entry.params }))).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              switch (event._tag) {
                case "BatchCreated":
                  window.batchIds.push(event.batchId)
                  break
                case "Succeeded":
                  settle(byId.get(event.customId), Exit.succeed(event.message))
                  break
                case "Failed":
                  settle(byId.get(event.customId), Exit.fail(toClientError(event.error)))
                  break
              }
            })
          ),
          Effect.either,
          Effect.map(Option.some)
        )
        const result = yield* Effect.raceFirst(run, Effect.as(Deferred.await(window.abandoned), Option.none()))
        if (Option.isNone(result)) {
          // Every caller has gone: the submission was stopped; nobody wants these batches any more.
          yield* Effect.forEach(window.batchIds, (id) => Effect.ignore(batchClient.messages.batches.cancel(id)), {
            discard: true
          })
        }
        // Whatever has no outcome yet gets the submission's failure (or, defensively, a missing-outcome error).
        const leftover: Client.ClientError = Option.isSome(result) && result.value._tag === "Left"
          ? toClientError(result.value.left)
          : new AnthropicError.SdkError(fields("batch_error", `No outcome for the request in window ${window.number}`))
        for (const entry of entries) settle(entry, Exit.fail(leftover))
      }).pipe(
        Effect.ensuring(Effect.sync(() => active.delete(window))),
        Effect.withSpan("DeferredClient.window", {
          attributes: { "deferred.preset": config.name, "deferred.window": window.number, "deferred.calls": entries.length }
        })
      )

    const close = (window: Window, closedBy: DeferredClient.WindowReport["closedBy"]): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          if (!window.open) return Effect.void
          window.open = false
          if (current === window) current = undefined
          const entries = window.entries.filter((entry) => !entry.gone)
          reports.push({ window: window.number, calls: entries.length, closedBy, openedAt: window.openedAt, closedAt: now })
          if (reports.length > MAX_REPORTS) reports.splice(0, reports.length - MAX_REPORTS)
          const timer = window.timer
          // A window closed by size or flush no longer needs its timer (the timer itself closes by time).
          const stopTimer = closedBy !== "time" && timer !== undefined ? Fiber.interruptFork(timer) : Effect.void
          if (entries.length === 0) {
            active.delete(window)
            return stopTimer
          }
          // Forked interruptibly: a caller's join runs uninterruptibly, and a fiber inherits that.
          return Effect.zipRight(stopTimer, Effect.asVoid(Effect.forkIn(Effect.interruptible(send(window, entries)), scope)))
        }))

    /** Adds a call to the open window (opening one if needed); closes it when full. */
    const join = (
      params: MessageCreateParamsNonStreaming,
      deferred: Deferred.Deferred<Message, Client.ClientError>,
      now: number
    ): Effect.Effect<Entry> =>
      Effect.suspend(() => {
        let window = current
        const fresh = window === undefined
        if (window === undefined) {
          window = {
            number: ++opened,
            openedAt: now,
            entries: [],
            next: 0,
            live: 0,
            open: true,
            timer: undefined,
            abandoned: Deferred.unsafeMake<void>(FiberId.none),
            batchIds: []
          }
          current = window
          active.add(window)
        }
        const entry: Entry = { id: customId(window.number, window.next++), params, deferred, window, gone: false }
        window.entries.push(entry)
        window.live++
        const joined = window
        if (joined.live >= config.maxSize) return Effect.as(close(joined, "size"), entry)
        if (!fresh) return Effect.succeed(entry)
        return Effect.forkIn(Effect.interruptible(Effect.zipRight(Effect.sleep(config.maxWait), close(joined, "time"))), scope).pipe(
          Effect.map((timer) => {
            joined.timer = timer
            return entry
          })
        )
      })

    /** The caller was interrupted: out of the open window, or its result discarded. */
    const leave = (entry: Entry): Effect.Effect<void> =>
      Effect.sync(() => {
        if (entry.gone) return
        entry.gone = true
        const window = entry.window
        window.live--
        if (window.open) {
          const i = window.entries.indexOf(entry)
          if (i >= 0) window.entries.splice(i, 1)
        } else if (window.live === 0) {
          Deferred.unsafeDone(window.abandoned, Effect.void)
        }
      })

    const deferredCreate = (params: MessageCreateParamsNonStreaming): Effect.Effect<Message, Client.ClientError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const deferred = yield* Deferred.make<Message, Client.ClientError>()
          const entry = yield* join(params, deferred, yield* Clock.currentTimeMillis)
          return yield* restore(Deferred.await(deferred)).pipe(Effect.onInterrupt(() => leave(entry)))
        })
      )

    const deferByDefault = config.defer === "all"
    const client: Client.AnthropicClient.Service = {
      ...base,
      messages: {
        ...base.messages,
        create: (params, options) =>
          Effect.flatMap(
            FiberRef.get(currentMark),
            (mark) =>
              (Option.isSome(mark) ? mark.value : deferByDefault)
                ? deferredCreate(params)
                : base.messages.create(params, options)
          )
      }
    }

    const deferred: DeferredClient.DeferredClient.Service = {
      config,
      pending: Effect.sync(() => current?.live ?? 0),
      flush: Effect.suspend(() => (current === undefined ? Effect.void : close(current, "flush"))),
      windows: Effect.sync(() => [...reports])
    }
    return { client, deferred }
  })
