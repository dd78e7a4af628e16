/**
 * The submitter's run: resume from the journal, create batches (one create at a time, each
 * planned in the journal first), poll each on its schedule, read and record its results, and
 * resubmit what is worth it, until every `custom_id` has an outcome.
 *
 * Shared state (`State`) is plain mutable data touched only inside synchronous Effect steps.
 *
 * @internal
 */
import type { MessageBatch, MessageBatchIndividualResponse } from "@anthropic-ai/sdk/resources/messages/batches"
import { Clock, Duration, Effect, Mailbox, Option, Schedule, Stream } from "effect"
import { AnthropicClient } from "../AnthropicClient.js"
import * as AnthropicError from "../AnthropicError.js"
import { BatchJournal, type Entry } from "../BatchJournal.js"
import * as BatchOutcome from "../BatchOutcome.js"
import * as Submitter from "../BatchSubmitter.js"
import * as Plan from "./batchPlan.js"
import * as Replay from "./batchReplay.js"

/** Results recorded in the journal per append. */
const RESULTS_PER_APPEND = 500
/** Outcomes are built from values already typed: skip the constructors' schema validation (hot path). */
const unchecked = { disableValidation: true } as const
const LIST_PAGE = 100

type E = Submitter.SubmitError

const mismatch = (batchId: string, message: string) =>
  new Submitter.BatchSubmitError({ reason: "Mismatch", batchId: Option.some(batchId), message })

/** The API refused the batch for its content: its requests fail, the submission goes on. */
const isRefusal = (error: unknown): error is AnthropicError.AnthropicError =>
  AnthropicError.isAnthropicError(error) && (error._tag === "InvalidRequest" || error._tag === "RequestTooLarge")

/** @internal */
export const make = (
  config: Submitter.Config,
  customPoll: Schedule.Schedule<unknown, MessageBatch> | undefined
): Effect.Effect<Submitter.BatchSubmitter.Service, never, AnthropicClient | BatchJournal> =>
  Effect.gen(function*() {
    const client = yield* AnthropicClient
    const journal = yield* BatchJournal
    const poll: Schedule.Schedule<unknown, MessageBatch> = customPoll ?? Submitter.pollSchedule(config)
    const limits: Plan.Limits = { maxRequests: config.maxRequestsPerBatch, maxBytes: config.maxBytesPerBatch }
    const retryTypes = new Set(config.retryErrorTypes)

    const run = (requests: Iterable<Submitter.Request>): Stream.Stream<Submitter.Event, E> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const checked = Plan.check(requests, limits)
        if (checked._tag === "Problem") return yield* Effect.fail(new Submitter.BatchInputError(checked.problem))
        const mailbox = yield* Mailbox.make<Submitter.Event, E>()
        yield* session(checked.items, mailbox).pipe(
          Effect.exit,
          Effect.flatMap((exit) => mailbox.done(exit)),
          Effect.forkScoped
        )
        return Mailbox.toStream(mailbox)
      }))

    /** One run of a submission, from the journal to the last outcome. */
    const session = (input: ReadonlyArray<Plan.Item>, mailbox: Mailbox.Mailbox<Submitter.Event, E>) =>
      Effect.gen(function*() {
        const items = new Map(input.map((item) => [item.request.custom_id, item]))
        const state = Replay.replay(yield* journal.read)
        const createLock = yield* Effect.makeSemaphore(1)
        const emit = (events: Iterable<Submitter.Event>) => mailbox.offerAll(events)

        const itemsOf = (ids: ReadonlyArray<string>, batchId?: string): Effect.Effect<Array<Plan.Item>, E> =>
          Effect.suspend(() => {
            const out: Array<Plan.Item> = []
            for (const id of ids) {
              const item = items.get(id)
              if (item === undefined) {
                return Effect.fail(
                  new Submitter.BatchSubmitError({
                    reason: "MissingRequest",
                    batchId: Option.fromNullable(batchId),
                    message: `The journal needs to submit ${id}, which is not among the requests given`
                  })
                )
              }
              out.push(item)
            }
            return Effect.succeed(out)
          })

        const resolve = (plan: Replay.PlanState, outcomes: ReadonlyArray<BatchOutcome.Outcome>) =>
          Effect.gen(function*() {
            const fresh = outcomes.filter((o) => !state.resolved.has(o.customId))
            if (fresh.length === 0) return
            yield* journal.append(fresh.map((outcome): Entry => ({ _tag: "Resolved", plan: plan.plan, outcome })))
            for (const o of fresh) state.resolved.set(o.customId, o)
            yield* emit(fresh)
          })

        /** Create the planned batch; `None` when the API refused it (its requests are then resolved). */
        const create = (
          plan: Replay.PlanState,
          chunk: ReadonlyArray<Plan.Item>
        ): Effect.Effect<Option.Option<MessageBatch>, E> =>
          client.messages.batches.create({ requests: chunk.map((item) => item.request) }).pipe(
            Effect.matchEffect({
              onSuccess: (batch): Effect.Effect<Option.Option<MessageBatch>, E> =>
                Effect.gen(function*() {
                  yield* journal.append([{ _tag: "Created", plan: plan.plan, batchId: batch.id, at: yield* Clock.currentTimeMillis }])
                  plan.batchId = batch.id
                  yield* emit([
                    new Submitter.BatchCreated({
                      plan: plan.plan,
                      batchId: batch.id,
                      attempt: plan.attempt,
                      requests: chunk.length,
                      adopted: false
                    })
                  ])
                  return Option.some(batch)
                }),
              onFailure: (error): Effect.Effect<Option.Option<MessageBatch>, E> =>
                isRefusal(error)
                  ? Effect.as(
                    resolve(
                      plan,
                      chunk.map((item) =>
                        new BatchOutcome.Failed({
                          customId: item.request.custom_id,
                          attempt: plan.attempt,
                          error: new BatchOutcome.RequestRejected({
                            customId: item.request.custom_id,
                            attempt: plan.attempt,
                            error
                          })
                        })
                      )
                    ),
                    Option.none<MessageBatch>()
                  )
                  : Effect.fail(error)
            }),
            Effect.withSpan("BatchSubmitter.create", { attributes: { "batch.plan": plan.plan, "batch.requests": chunk.length } })
          )

        /** After a crash between a create call and its journal entry: find the batch it made, if any. */
        const adopt = (plan: Replay.PlanState): Effect.Effect<Option.Option<MessageBatch>, E> =>
          Effect.gen(function*() {
            const known = Replay.knownBatchIds(state)
            const from = plan.at - Duration.toMillis(config.adoptWindow)
            let best: MessageBatch | undefined
            let after: string | undefined
            for (;;) {
              const page = yield* client.messages.batches.list(
                after === undefined ? { limit: LIST_PAGE } : { limit: LIST_PAGE, after_id: after }
              )
              let older = false
              for (const batch of page.data) {
                const createdAt = Date.parse(batch.created_at)
                if (createdAt < from) {
                  older = true
                  break
                }
                const c = batch.request_counts
                const total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
                if (known.has(batch.id) || total !== plan.customIds.length) continue
                if (best === undefined || createdAt <= Date.parse(best.created_at)) best = batch
              }
              if (older || !page.hasMore || Option.isNone(page.lastId)) break
              after = page.lastId.value
            }
            if (best === undefined) return Option.none<MessageBatch>()
            const batch = best
            yield* journal.append([{
              _tag: "Created",
              plan: plan.plan,
              batchId: batch.id,
              at: yield* Clock.currentTimeMillis,
              adopted: true
            }])
            plan.batchId = batch.id
            plan.adopted = true
            yield* emit([
              new Submitter.BatchCreated({
                plan: plan.plan,
                batchId: batch.id,
                attempt: plan.attempt,
                requests: plan.customIds.length,
                adopted: true
              })
            ])
            return Option.some(batch)
          }).pipe(Effect.withSpan("BatchSubmitter.adopt", { attributes: { "batch.plan": plan.plan } }))

        /** Poll until the batch has ended. */
        const awaitEnd = (
          plan: Replay.PlanState,
          batchId: string,
          first: Option.Option<MessageBatch>
        ): Effect.Effect<MessageBatch, E> =>
          Effect.gen(function*() {
            const retrieve = Effect.tap(
              client.messages.batches.retrieve(batchId),
              (batch) => emit([new Submitter.BatchPolled({ plan: plan.plan, batch })])
            )
            const driver = yield* Schedule.driver(poll)
            let batch = Option.isSome(first) ? first.value : yield* retrieve
            while (batch.processing_status !== "ended") {
              yield* Effect.catchAll(driver.next(batch), () =>
                Effect.fail(
                  new Submitter.BatchSubmitError({
                    reason: "PollingStopped",
                    batchId: Option.some(batchId),
                    message: `The poll schedule ended while ${batchId} was ${batch.processing_status}`
                  })
                ))
              batch = yield* retrieve
            }
            return batch
          }).pipe(Effect.withSpan("BatchSubmitter.poll", { attributes: { "batch.id": batchId } }))

        /** The outcome of one result line, or `undefined` when it is to be resubmitted. */
        const judge = (
          plan: Replay.PlanState,
          batchId: string,
          line: MessageBatchIndividualResponse
        ): BatchOutcome.Outcome | undefined => {
          const customId = line.custom_id
          const attempt = plan.attempt
          const last = attempt >= config.maxAttempts
          const result = line.result
          switch (result.type) {
            case "succeeded":
              return new BatchOutcome.Succeeded({ customId, batchId, attempt, message: result.message }, unchecked)
            case "errored": {
              const errorType = result.error?.error?.type ?? "api_error"
              if (!last && retryTypes.has(errorType)) return undefined
              return new BatchOutcome.Failed({
                customId,
                attempt,
                error: new BatchOutcome.RequestErrored({
                  customId,
                  batchId,
                  attempt,
                  errorType,
                  errorMessage: result.error?.error?.message ?? ""
                }, unchecked)
              }, unchecked)
            }
            case "expired":
              if (!last) return undefined
              return new BatchOutcome.Failed({
                customId,
                attempt,
                error: new BatchOutcome.RequestExpired({ customId, batchId, attempt }, unchecked)
              }, unchecked)
            case "canceled":
              return new BatchOutcome.Failed({
                customId,
                attempt,
                error: new BatchOutcome.RequestCanceled({ customId, batchId, attempt }, unchecked)
              }, unchecked)
          }
        }

        /** Read the results of an ended batch; record outcomes; return the ids to resubmit. */
        const collect = (plan: Replay.PlanState, batchId: string): Effect.Effect<Array<string>, E> =>
          Effect.gen(function*() {
            const planned = new Set(plan.customIds)
            const seen = new Set<string>()
            const retries: Array<string> = []
            yield* client.messages.batches.results(batchId).pipe(
              Stream.grouped(RESULTS_PER_APPEND),
              Stream.runForEach((chunk) =>
                Effect.suspend((): Effect.Effect<void, E> => {
                  const outcomes: Array<BatchOutcome.Outcome> = []
                  for (const line of chunk) {
                    const id = line.custom_id
                    if (!planned.has(id)) {
                      return Effect.fail(mismatch(batchId, `${batchId} returned ${id}, which was not planned in it`))
                    }
                    if (seen.has(id)) continue
                    seen.add(id)
                    if (state.resolved.has(id)) continue
                    const outcome = judge(plan, batchId, line)
                    if (outcome === undefined) retries.push(id)
                    else outcomes.push(outcome)
                  }
                  return resolve(plan, outcomes)
                })
              )
            )
            if (seen.size !== planned.size) {
              return yield* Effect.fail(
                mismatch(batchId, `${batchId} returned ${seen.size} of the ${planned.size} planned results`)
              )
            }
            yield* journal.append([{ _tag: "Done", plan: plan.plan, batchId }])
            plan.done = true
            // Resubmit in the plan's order, not the order the results came back in.
            const order = new Map(plan.customIds.map((id, i) => [id, i]))
            return retries.sort((a, b) => order.get(a)! - order.get(b)!)
          }).pipe(Effect.withSpan("BatchSubmitter.results", { attributes: { "batch.id": batchId } }))

        /** From a created batch to the end of its retries. */
        const follow = (plan: Replay.PlanState, batchId: string, first: Option.Option<MessageBatch>): Effect.Effect<void, E> =>
          Effect.gen(function*() {
            yield* awaitEnd(plan, batchId, first)
            const retries = yield* collect(plan, batchId)
            if (retries.length > 0) yield* submit(yield* itemsOf(retries, batchId), plan.attempt + 1)
          })

        /** Plan, create and follow one chunk. */
        const launch = (chunk: ReadonlyArray<Plan.Item>, attempt: number): Effect.Effect<void, E> =>
          Effect.gen(function*() {
            const started = yield* createLock.withPermits(1)(Effect.gen(function*() {
              const plan: Replay.PlanState = {
                plan: state.nextPlan,
                attempt,
                customIds: chunk.map((item) => item.request.custom_id),
                at: yield* Clock.currentTimeMillis,
                batchId: undefined,
                adopted: false,
                done: false
              }
              Replay.addPlan(state, plan)
              yield* journal.append([{
                _tag: "Planned",
                plan: plan.plan,
                attempt,
                customIds: plan.customIds,
                at: plan.at
              }])
              return [plan, yield* create(plan, chunk)] as const
            }))
            const [plan, batch] = started
            if (Option.isSome(batch)) yield* follow(plan, batch.value.id, batch)
          })

        const submit = (pending: ReadonlyArray<Plan.Item>, attempt: number): Effect.Effect<void, E> =>
          Effect.forEach(Plan.chunk(pending, limits), (chunk) => launch(chunk, attempt), {
            concurrency: "unbounded",
            discard: true
          })

        /** A plan the journal left open. */
        const resume = (plan: Replay.PlanState): Effect.Effect<void, E> =>
          Effect.gen(function*() {
            if (plan.batchId !== undefined) return yield* follow(plan, plan.batchId, Option.none())
            const batch = yield* createLock.withPermits(1)(Effect.gen(function*() {
              const adopted = yield* adopt(plan)
              if (Option.isSome(adopted)) return adopted
              return yield* create(plan, yield* itemsOf(plan.customIds))
            }))
            if (Option.isSome(batch)) yield* follow(plan, batch.value.id, Option.none())
          })

        // What the journal already knows.
        yield* emit(state.resolved.values())
        const work: Array<Effect.Effect<void, E>> = []
        for (const plan of state.plans.values()) {
          if (plan.done || plan.customIds.every((id) => state.resolved.has(id))) continue
          work.push(resume(plan))
        }
        const fresh: Array<Plan.Item> = []
        const retries = new Map<number, Array<Plan.Item>>()
        for (const [id, latest] of state.latest) {
          if (!latest.done || state.resolved.has(id)) continue
          const [item] = yield* itemsOf([id], latest.batchId)
          const attempt = latest.attempt + 1
          const group = retries.get(attempt) ?? []
          group.push(item!)
          retries.set(attempt, group)
        }
        for (const item of input) {
          if (!state.latest.has(item.request.custom_id) && !state.resolved.has(item.request.custom_id)) fresh.push(item)
        }
        work.push(submit(fresh, 1))
        for (const [attempt, group] of retries) work.push(submit(group, attempt))
        yield* Effect.all(work, { concurrency: "unbounded", discard: true })
      }).pipe(Effect.withSpan("BatchSubmitter.submit", { attributes: { "batch.requests": input.length } }))

    return {
      config,
      run,
      submit: (requests) => Stream.filter(run(requests), BatchOutcome.isOutcome)
    }
  })
