/**
 * The machinery of `Resilience`: the attempt pipeline, the retry loop of one step and the walk down
 * the fallback chain.
 *
 * @internal
 */
import type { Schedule, Scope } from "effect"
import {
  Cause,
  Clock,
  Duration,
  Effect,
  Metric,
  Option,
  Predicate,
  PubSub,
  Stream
} from "effect"
import * as AdaptiveConcurrency from "../AdaptiveConcurrency.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as Classification from "../Classification.js"
import * as Pacing from "../Pacing.js"
import * as Policy from "../Policy.js"
import type * as Resilience from "../Resilience.js"
import { AttemptTimeout, DeadlineExceeded, Event, metrics } from "../Resilience.js"
import * as Retry from "../Retry.js"
import * as RetryBudget from "../RetryBudget.js"

const stateValue = (state: CircuitBreaker.State): number =>
  state._tag === "Closed" ? 0 : state._tag === "HalfOpen" ? 0.5 : 1

const isCircuitOpen = (u: unknown): u is CircuitBreaker.CircuitOpen => Predicate.isTagged(u, "CircuitOpen")

/** Failures after which a call may move to the next step: the server's trouble, not the request's. */
const mayFallBack = (error: unknown): boolean => {
  if (isCircuitOpen(error)) return true
  // shed by this key's own limiter: another key (model) has its own queue and capacity
  if (Predicate.isTagged(error, "LoadShed")) return true
  if (Predicate.isTagged(error, "DeadlineExceeded") || Predicate.isTagged(error, "RetryBudgetExhausted")) return false
  const kind = Classification.classify(error).kind
  return kind === "Overloaded" || kind === "RateLimited" || kind === "Transient"
}

type StepResult<A> =
  | { readonly _tag: "Served"; readonly value: A; readonly attempts: number }
  | {
    readonly _tag: "Left"
    readonly reason: Resilience.LeftReason
    readonly error: unknown
    readonly attempts: number
  }

/** Reads `status` and `requestId` from provider errors that have them, for span attributes. */
const errorAttributes = (error: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (Predicate.hasProperty(error, "_tag")) out["error.tag"] = error._tag
  if (Predicate.hasProperty(error, "status") && typeof error.status === "number") out["http.status"] = error.status
  if (Predicate.hasProperty(error, "requestId")) {
    const id = error.requestId
    if (Option.isOption(id) && Option.isSome(id)) out["request_id"] = id.value
    else if (typeof id === "string") out["request_id"] = id
  }
  return out
}

/** The tracer effect runs with when nobody installed one: its spans go nowhere. */
const defaultTracer = Effect.runSync(Effect.tracer)

/**
 * Runs `effect` in a span. Spans are made only when a tracer is installed (e.g. OpenTelemetry): with
 * effect's default tracer nobody receives them, and making one costs more than the rest of a
 * policy's happy path.
 */
const span = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withSpan(
    Effect.tapError(effect, (error) => Effect.annotateCurrentSpan(errorAttributes(error))),
    name,
    { attributes, captureStackTrace: false }
  )

/** Records a scheduled retry as an event of the current call span. */
const annotateDelay = (attempt: number, step: Retry.Step<unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Option.isNone(span) ? Effect.void : Effect.map(Clock.currentTimeNanos, (nanos) => {
      {
        span.value.event("ballast.retry", nanos, {
          "ballast.attempt": attempt,
          "ballast.delay_ms": Duration.toMillis(step.delay),
          "ballast.reason": step.reason
        })
      }
    }))

/** @internal */
export const make = (policy: Policy.Policy): Effect.Effect<Resilience.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tagged = <T, I, O>(metric: Metric.Metric<T, I, O>) => Metric.tagged(metric, "policy", policy.name)
    const m = {
      attempts: tagged(metrics.attempts),
      retries: tagged(metrics.retries),
      giveUps: tagged(metrics.giveUps),
      fallbacks: tagged(metrics.fallbacks),
      budget: tagged(metrics.budgetLevel),
      limit: tagged(metrics.concurrencyLimit)
    }

    const budget = Option.isSome(policy.budget)
      ? Option.some(yield* RetryBudget.make(policy.budget.value))
      : Option.none<RetryBudget.RetryBudget>()
    const breakers = Option.isSome(policy.breaker)
      ? Option.some(yield* CircuitBreaker.makeKeyed(policy.breaker.value))
      : Option.none<CircuitBreaker.Keyed>()
    const scope = yield* Effect.scope
    // the limiter of each key made so far (read directly on the hot path)
    const made = new Map<string, AdaptiveConcurrency.AdaptiveConcurrency>()
    const limiters = Option.map(policy.concurrency, (config): Resilience.Limiters => {
      return {
        get: (key) =>
          Effect.suspend(() => {
            const existing = made.get(key)
            if (existing !== undefined) return Effect.succeed(existing)
            return Effect.flatMap(AdaptiveConcurrency.make(config), (limiter) => {
              const raced = made.get(key)
              if (raced !== undefined) return Effect.succeed(raced)
              made.set(key, limiter)
              const gauge = Metric.tagged(m.limit, "key", key)
              return limiter.changes.pipe(
                Stream.runForEach((n) => Metric.set(gauge, n)),
                Effect.forkIn(scope),
                Effect.as(limiter)
              )
            })
          }),
        all: Effect.sync(() => new Map(made))
      }
    })
    const pacer = policy.pacing ? Option.some(yield* Pacing.make) : Option.none<Pacing.Pacer>()

    const hub = yield* PubSub.unbounded<Resilience.Event>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(hub))
    const publish = (event: Resilience.Event) => PubSub.publish(hub, event)

    if (Option.isSome(breakers)) {
      yield* breakers.value.changes.pipe(
        Stream.runForEach((t) => Metric.set(Metric.tagged(tagged(metrics.breakerState), "key", t.key), stateValue(t.to))),
        Effect.forkScoped
      )
    }

    const attemptTimeout = policy.attemptTimeout
    const deadline = policy.deadline

    // the breaker of a key, once made, is looked up without an Effect step
    const breakerOf = new Map<string, CircuitBreaker.CircuitBreaker>()

    /** One attempt through pacing, breaker, limiter and timeout. */
    const attemptOnce = <A, E, R>(
      call: (attempt: Resilience.Attempt) => Effect.Effect<A, E, R>,
      attempt: Resilience.Attempt,
      scoped: boolean,
      tracing: boolean
    ): Effect.Effect<A, unknown, R> => {
      let effect: Effect.Effect<A, unknown, R> = Effect.suspend(() => {
        m.attempts.unsafeUpdate(1, [])
        return call(attempt)
      })
      if (Option.isSome(attemptTimeout)) {
        const timeout = attemptTimeout.value
        effect = Effect.timeoutFail(effect, { duration: timeout, onTimeout: () => new AttemptTimeout({ timeout }) })
      }
      if (Option.isSome(limiters)) {
        // one limiter per key: capacity is per model. scoped: a success keeps its permit until the
        // caller's scope closes (an open stream)
        const inner = effect
        const through = (limiter: AdaptiveConcurrency.AdaptiveConcurrency) =>
          scoped ? (limiter.runScoped(inner) as Effect.Effect<A, unknown, R>) : limiter.run(inner)
        const known = made.get(attempt.key)
        effect = known !== undefined ? through(known) : Effect.flatMap(limiters.value.get(attempt.key), through)
      }
      if (Option.isSome(breakers)) {
        const inner = effect
        const known = breakerOf.get(attempt.key)
        effect = known !== undefined ? known.run(inner) : Effect.flatMap(breakers.value.get(attempt.key), (breaker) => {
          breakerOf.set(attempt.key, breaker)
          return breaker.run(inner)
        })
      }
      if (Option.isSome(pacer)) effect = Effect.zipRight(pacer.value.wait, effect)
      if (!tracing) return effect
      return span(effect, "ballast.attempt", {
        "ballast.policy": policy.name,
        "ballast.key": attempt.key,
        "ballast.attempt": attempt.attempt,
        "ballast.step": attempt.step
      })
    }

    /** The time a call started, read from the Clock only when something needs it. */
    interface CallState {
      /** Whether a tracer is installed (decided once per call). */
      readonly tracing: boolean
      startedAt: number | undefined
      /** The classification the last budget withdrawal was for: a success refunds exactly that. */
      charged: Classification.Classification | undefined
      readonly deadlineAt: number | undefined
    }

    /** The retry loop of one step of the chain. The schedule is made at the first failure. */
    const runStep = <A, E, R>(
      call: (attempt: Resilience.Attempt) => Effect.Effect<A, E, R>,
      step: Policy.FallbackStep,
      index: number,
      isLast: boolean,
      callState: CallState,
      scoped: boolean
    ): Effect.Effect<StepResult<A>, never, R> => {
      let schedule: Schedule.Schedule<Retry.Decision<unknown>, unknown> | undefined
      const onFailure = (n: number, state_: unknown, error: unknown): Effect.Effect<StepResult<A>, never, R> => {
        if (isCircuitOpen(error) && !isLast) {
          return Effect.succeed({ _tag: "Left", reason: "circuit-open", error, attempts: n - 1 })
        }
        if (Predicate.isTagged(error, "LoadShed") && !isLast) {
          return Effect.succeed({ _tag: "Left", reason: "load-shed", error, attempts: n - 1 })
        }
        // This failure may just have opened the step's circuit: move on now rather than wait to be refused.
        if (Option.isSome(breakers) && !isLast) {
          const keyed = breakers.value
          return Effect.flatMap(Effect.flatMap(keyed.get(step.key), (breaker) => breaker.state), (state) =>
            state._tag === "Open"
              ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
                Effect.as(
                  publish(Event.AttemptFailed({
                    key: step.key,
                    attempt: n,
                    error,
                    classification: Classification.classify(error),
                    at: now
                  })),
                  { _tag: "Left", reason: "circuit-open", error, attempts: n } as const
                ))
              : decide(n, state_, error))
        }
        return decide(n, state_, error)
      }
      const decide = (n: number, state: unknown, error: unknown): Effect.Effect<StepResult<A>, never, R> =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (callState.startedAt === undefined) callState.startedAt = now
          if (schedule === undefined) {
            const settings = Policy.retryFor(policy, step)
            schedule = Retry.schedule<unknown>({
              maxRetries: settings.maxRetries,
              base: settings.base,
              factor: settings.factor,
              cap: settings.cap,
              jitter: settings.jitter,
              honourRetryAfter: settings.honourRetryAfter,
              maxRetryAfter: settings.maxRetryAfter,
              startedAt: callState.startedAt,
              deadlineAt: callState.deadlineAt
            })
          }
          return Effect.flatMap(schedule.step(now, error, state ?? schedule.initial), ([next, decision]) => {
            const failed = publish(
              Event.AttemptFailed({ key: step.key, attempt: n, error, classification: decision.classification, at: now })
            )
            if (Retry.isGiveUp(decision)) {
              return Effect.as(failed, { _tag: "Left", reason: decision.reason, error, attempts: n } as const)
            }
            const askBudget: Effect.Effect<boolean> = Option.isNone(budget) || isCircuitOpen(error)
              ? Effect.succeed(true)
              : Effect.tap(
                budget.value.tryRetry(decision.classification),
                (ok) =>
                  Effect.map(budget.value.level, (level) => {
                    if (ok) callState.charged = decision.classification
                    m.budget.unsafeUpdate(level, [])
                  })
              )
            return Effect.zipRight(
              failed,
              Effect.flatMap(askBudget, (ok): Effect.Effect<StepResult<A>, never, R> => {
                if (!ok) {
                  return Effect.map(
                    Option.isSome(budget) ? budget.value.level : Effect.succeed(0),
                    (level) => ({
                      _tag: "Left",
                      reason: "budget",
                      error: new RetryBudget.RetryBudgetExhausted({ error, level }),
                      attempts: n
                    } as const)
                  )
                }
                m.retries.unsafeUpdate(1, [])
                return publish(
                  Event.RetryScheduled({ key: step.key, attempt: n, delay: decision.delay, reason: decision.reason, at: now })
                ).pipe(
                  Effect.zipRight(annotateDelay(n, decision)),
                  Effect.zipRight(Effect.sleep(decision.delay)),
                  Effect.zipRight(Effect.suspend(() => loop(n + 1, next)))
                )
              })
            )
          })
        })
      const loop = (n: number, state: unknown): Effect.Effect<StepResult<A>, never, R> =>
        Effect.matchCauseEffect(attemptOnce(call, { key: step.key, attempt: n, step: index }, scoped, callState.tracing), {
          onSuccess: (value): Effect.Effect<StepResult<A>> => {
            const served: StepResult<A> = { _tag: "Served", value, attempts: n }
            return Option.isSome(budget)
              ? Effect.as(budget.value.onSuccess(callState.charged ?? false), served)
              : Effect.succeed(served)
          },
          onFailure: (cause) => {
            const failure = Cause.failureOption(cause)
            return Option.isNone(failure)
              ? Effect.failCause(cause as Cause.Cause<never>)
              : onFailure(n, state, failure.value)
          }
        })
      return loop(1, undefined)
    }

    const runWith = <A, E, R>(
      call: (attempt: Resilience.Attempt) => Effect.Effect<A, E, R>,
      options: Resilience.RunOptions | undefined,
      scoped: boolean,
      unwrap = false
    ): Effect.Effect<Resilience.Routed<A>, E | Resilience.PolicyError<E>, R> => {
      const key = options?.key ?? "default"
      const steps = options?.fallback === false || policy.fallback.length === 0
        ? [new Policy.FallbackStep({ key, retry: Option.none() })]
        : Policy.chain(policy, key)
      const walkFrom = (callState: CallState) => {
        const route: Array<Resilience.RouteStep> = []
        const walk = (index: number): Effect.Effect<Resilience.Routed<A>, unknown, R> =>
          Effect.flatMap(runStep(call, steps[index]!, index, index === steps.length - 1, callState, scoped), (result) => {
            const step = steps[index]!
            if (result._tag === "Served") {
              // `apply` wants the bare value: no route to build on the happy path
              if (unwrap && result.attempts === 1 && index === 0) {
                return Effect.succeed(result.value as unknown as Resilience.Routed<A>)
              }
              route.push({ key: step.key, attempts: result.attempts, outcome: "served", error: Option.none() })
              const routed = unwrap
                ? result.value as unknown as Resilience.Routed<A>
                : { value: result.value, key: step.key, route }
              if (result.attempts === 1 && index === 0) return Effect.succeed(routed)
              return Effect.flatMap(Clock.currentTimeMillis, (now) =>
                Effect.as(
                  publish(
                    Event.Succeeded({
                      key: step.key,
                      attempts: result.attempts,
                      elapsed: now - (callState.startedAt ?? now),
                      at: now
                    })
                  ),
                  routed
                ))
            }
            route.push({ key: step.key, attempts: result.attempts, outcome: result.reason, error: Option.some(result.error) })
            const next = steps[index + 1]
            if (next === undefined || !mayFallBack(result.error)) {
              return Effect.flatMap(Clock.currentTimeMillis, (now) => {
                m.giveUps.unsafeUpdate(1, [])
                return publish(
                  Event.GaveUp({ key: step.key, attempts: result.attempts, reason: result.reason, error: result.error, at: now })
                ).pipe(Effect.zipRight(Effect.fail(result.error)))
              })
            }
            // a refusal by an open circuit or a full queue sent nothing: it costs no budget
            const askBudget = Option.isNone(budget) || isCircuitOpen(result.error) ||
                Predicate.isTagged(result.error, "LoadShed")
              ? Effect.succeed(true)
              : Effect.tap(budget.value.tryRetry(Classification.classify(result.error)), (ok) => {
                if (ok) callState.charged = Classification.classify(result.error)
              })
            return Effect.flatMap(askBudget, (ok) => {
              if (!ok) {
                return Effect.flatMap(Option.isSome(budget) ? budget.value.level : Effect.succeed(0), (level) =>
                  Effect.fail(new RetryBudget.RetryBudgetExhausted({ error: result.error, level })))
              }
              return Effect.flatMap(Clock.currentTimeMillis, (now) => {
                m.fallbacks.unsafeUpdate(1, [])
                return publish(Event.FellBack({ from: step.key, to: next.key, reason: result.reason, at: now })).pipe(
                  Effect.zipRight(walk(index + 1))
                )
              })
            })
          })
        return Option.isSome(budget) ? Effect.zipRight(budget.value.onRequest, walk(0)) : walk(0)
      }
      const body = (tracing: boolean): Effect.Effect<Resilience.Routed<A>, unknown, R> => {
        if (Option.isNone(deadline)) {
          return Effect.suspend(() =>
            walkFrom({ tracing, startedAt: undefined, deadlineAt: undefined, charged: undefined })
          )
        }
        const limit = deadline.value
        return Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
          Effect.timeoutFail(
            walkFrom({ tracing, startedAt, deadlineAt: startedAt + Duration.toMillis(limit), charged: undefined }),
            { duration: limit, onTimeout: () => new DeadlineExceeded({ deadline: limit }) }
          )).pipe(
            Effect.tapError((error) =>
              Predicate.isTagged(error, "DeadlineExceeded")
                ? Effect.flatMap(Clock.currentTimeMillis, (now) => {
                  m.giveUps.unsafeUpdate(1, [])
                  return publish(Event.GaveUp({ key, attempts: 0, reason: "deadline-exceeded", error, at: now }))
                })
                : Effect.void
            )
          )
      }
      return Effect.tracerWith((tracer) =>
        tracer === defaultTracer
          ? body(false)
          : span(body(true), "ballast.call", { "ballast.policy": policy.name, "ballast.key": key })
      ) as Effect.Effect<Resilience.Routed<A>, E | Resilience.PolicyError<E>, R>
    }

    const run = <A, E, R>(
      call: (attempt: Resilience.Attempt) => Effect.Effect<A, E, R>,
      options?: Resilience.RunOptions
    ) => runWith(call, options, false)

    const runScoped = <A, E, R>(
      call: (attempt: Resilience.Attempt) => Effect.Effect<A, E, R>,
      options?: Resilience.RunOptions
    ): Effect.Effect<Resilience.Routed<A>, E | Resilience.PolicyError<E>, R | Scope.Scope> =>
      runWith<A, E, R | Scope.Scope>(call, options, true)

    const apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Resilience.PolicyError<E>, R> =>
      runWith(() => self, { fallback: false }, false, true) as unknown as Effect.Effect<
        A,
        E | Resilience.PolicyError<E>,
        R
      >

    return {
      policy,
      run,
      runScoped,
      apply,
      events: Stream.fromPubSub(hub),
      budget,
      breakers,
      concurrency: limiters,
      pacer
    } satisfies Resilience.Service
  })
