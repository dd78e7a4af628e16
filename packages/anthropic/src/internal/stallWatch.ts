/**
 * The stall timers of one attempt, as a watchdog: one fiber that sleeps until the earliest
 * deadline, re-checks, and fails the pending read with `StreamStalled` once a deadline has
 * passed. Deadlines only move later, so the watchdog wakes at the exact instant of a stall
 * (exact under `TestClock`) and sets one timer per timeout period rather than one per event.
 *
 * Only time spent waiting for the server counts: while the consumer is busy nothing is pending,
 * and a slow consumer is no stall.
 *
 * @internal
 */
import { Clock, Duration, Effect, Fiber, type Option, type Scope } from "effect"
import * as Recovery from "../StreamRecovery.js"

/** @internal */
export interface StallWatch {
  /** Runs one read of the stream, failing with `StreamStalled` when a deadline passes first. */
  readonly read: <A, E>(self: Effect.Effect<A, E>) => Effect.Effect<A, E | Recovery.StreamStalled>
  /** Content arrived: the content timer starts again. */
  readonly progress: () => void
  /** The attempt has sent content to the consumer (reported by a later stall). */
  readonly contentEmitted: () => void
}

/** @internal */
export const make = (options: {
  readonly idle: number
  readonly content: number
  readonly requestId: Option.Option<string>
}): Effect.Effect<StallWatch, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { content, idle } = options
    /** The fiber of the pending read, interrupted by a stall. */
    let reader: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
    let stalled: Recovery.StreamStalled | undefined = undefined
    /** When the pending read started; `undefined` when nothing is pending. */
    let waitingSince: number | undefined = undefined
    /** Time spent in finished reads since the last content. */
    let waited = 0
    let emitted = false

    const stall = (reason: "idle" | "content") =>
      Effect.suspend(() => {
        stalled = new Recovery.StreamStalled({
          reason,
          timeout: Duration.millis(reason === "idle" ? idle : content),
          requestId: options.requestId,
          contentEmitted: emitted
        })
        return reader === undefined ? Effect.void : Fiber.interruptFork(reader)
      })

    const watchdog: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (waitingSince === undefined) {
        // A read starting now would have these deadlines; a later one, later deadlines.
        const left = Math.min(idle, content - waited)
        return Effect.zipRight(Effect.sleep(Duration.millis(left > 0 ? left : idle)), watchdog)
      }
      const current = now - waitingSince
      const contentLeft = content - waited - current
      const idleLeft = idle - current
      if (contentLeft <= 0 && contentLeft <= idleLeft) return stall("content")
      if (idleLeft <= 0) return stall("idle")
      return Effect.zipRight(Effect.sleep(Duration.millis(Math.min(idleLeft, contentLeft))), watchdog)
    })
    yield* Effect.forkScoped(watchdog)

    const read = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | Recovery.StreamStalled> =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        waitingSince = start
        const fiber = yield* Effect.fork(self)
        reader = fiber
        const exit = yield* Fiber.await(fiber).pipe(
          Effect.ensuring(Effect.map(Clock.currentTimeMillis, (end) => {
            reader = undefined
            waited += end - start
            waitingSince = undefined
          }))
        )
        if (stalled !== undefined) return yield* Effect.fail(stalled)
        return yield* exit
      })

    return {
      read,
      progress: () => {
        waited = 0
      },
      contentEmitted: () => {
        emitted = true
      }
    }
  })
