/**
 * Sleeps that end at the same `Clock` instant share one `Effect.sleep`.
 *
 * `TestClock` wakes its sleepers one at a time and waits for the program to settle after
 * each (a few milliseconds of wall time), so 500 simulated calls that all answer at
 * t = 100 ms would cost 500 such steps. Coalesced, they cost one: the first call due at an
 * instant forks a daemon fiber that sleeps until then and completes a `Deferred` that every
 * call due at that instant awaits. Interrupting one waiter never disturbs the others.
 *
 * The daemon sleeps on the `Clock` of the fiber that created it, so a timer must only be
 * used from one clock (one simulator per test, as in every example).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

export interface Timer {
  /** Sleep for `millis` on the current `Clock`, sharing the wake-up with every sleep due at the same instant. */
  readonly sleep: (millis: number) => Effect.Effect<void>
}

export const make = (): Timer => {
  const due = new Map<number, Deferred.Deferred<void>>()
  const sleep = (millis: number): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const at = now + millis
      const existing = due.get(at)
      if (existing !== undefined) return Deferred.await(existing)
      const deferred = Deferred.unsafeMake<void>(FiberId.none)
      due.set(at, deferred)
      return Effect.sleep(millis).pipe(
        Effect.ensuring(Effect.sync(() => {
          due.delete(at)
          Deferred.unsafeDone(deferred, Exit.void)
        })),
        Effect.forkDaemon,
        Effect.zipRight(Deferred.await(deferred))
      )
    })
  return { sleep }
}
