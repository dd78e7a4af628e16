import { Clock, Data, Duration, Effect, Either, Fiber, Option, Ref, TestClock } from "effect"
import * as Classification from "../src/Classification.js"

/** A failure that carries its own classification, as provider errors do. */
export class TestError extends Data.TaggedError("TestError")<{
  readonly kind: Classification.Kind
  /** The attempt (1-based) that produced this error. */
  readonly attempt: number
  readonly retryAfter: Option.Option<Duration.Duration>
}> implements Classification.Classifiable {
  get [Classification.TypeId](): Classification.Classification {
    return Classification.make(this.kind, { retryAfter: this.retryAfter })
  }
}

export const overloaded = (attempt: number) =>
  new TestError({ kind: "Overloaded", attempt, retryAfter: Option.none() })

export const rateLimited = (attempt: number, retryAfter: Duration.DurationInput) =>
  new TestError({ kind: "RateLimited", attempt, retryAfter: Option.some(Duration.decode(retryAfter)) })

export const permanent = (attempt: number) =>
  new TestError({ kind: "Permanent", attempt, retryAfter: Option.none() })

/**
 * An attempt that records the Clock time at which it starts, optionally takes `duration(n)` to run,
 * then fails with `error(n)` (n = 1-based attempt number).
 */
export const failing = <E>(
  error: (attempt: number) => E,
  duration: (attempt: number) => Duration.DurationInput = () => Duration.zero
) =>
  Effect.gen(function*() {
    const starts = yield* Ref.make<ReadonlyArray<number>>([])
    const attempt = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const n = (yield* Ref.updateAndGet(starts, (s) => [...s, now])).length
      yield* Effect.sleep(duration(n))
      return yield* Effect.fail(error(n))
    })
    return { starts, attempt }
  })

/**
 * Forks `self`, lets the TestClock run far ahead, and returns its result, the Clock time `t0` at which
 * it started and the time at which it completed, relative to `t0`.
 */
export const runTimed = <A, E>(self: Effect.Effect<A, E>, horizon: Duration.DurationInput = "1 day") =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    const fiber = yield* self.pipe(Effect.either, Effect.zip(Clock.currentTimeMillis), Effect.fork)
    yield* TestClock.adjust(horizon)
    const [result, endedAt] = yield* Fiber.join(fiber)
    return { result, t0, endedAt: endedAt - t0 }
  })

export const leftOrThrow = <A, E>(either: Either.Either<A, E>): E => {
  if (Either.isLeft(either)) return either.left
  throw new Error("expected a failure")
}
