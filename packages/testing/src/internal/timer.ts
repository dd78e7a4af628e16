/**
 * Simulated waits that end at the same `Clock` instant share one `Effect.sleep`.
 *
 * `TestClock` wakes its sleepers one at a time and waits for the program to settle after
 * each (a few milliseconds of wall time), so 500 simulated calls that all answer at
 * t = 100 ms would cost 500 such steps. Here they cost one: the first wait due at an instant
 * forks a fiber that sleeps until then and runs every callback registered for that instant.
 * Waiters are plain callbacks, not fibers, which keeps thousands of in-flight simulated calls
 * cheap; cancelling one never disturbs the others.
 *
 * The sleeping fiber runs on the runtime handed to {@link Timer.schedule}, so its `Clock`
 * is that runtime's (the test's `TestClock`).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"

export type Fork = (effect: Effect.Effect<void>) => unknown

export interface Timer {
  /** Call `f` once the clock of `fork`'s runtime reaches `now + millis`; returns a canceller. */
  readonly schedule: (fork: Fork, now: number, millis: number, f: () => void) => () => void
  /** Sleep for `millis` on the current `Clock`, sharing the wake-up with every wait due at the same instant. */
  readonly sleep: (millis: number) => Effect.Effect<void>
}

export const make = (): Timer => {
  const due = new Map<number, Set<() => void>>()
  const fire = (at: number) =>
    Effect.sync(() => {
      const callbacks = due.get(at)
      due.delete(at)
      if (callbacks !== undefined) for (const f of callbacks) f()
    })
  const schedule = (fork: Fork, now: number, millis: number, f: () => void): () => void => {
    const at = now + millis
    let callbacks = due.get(at)
    if (callbacks === undefined) {
      callbacks = new Set()
      due.set(at, callbacks)
      fork(Effect.zipRight(Effect.sleep(millis), fire(at)))
    }
    callbacks.add(f)
    const registered = callbacks
    return () => {
      registered.delete(f)
    }
  }
  const sleep = (millis: number): Effect.Effect<void> =>
    Effect.flatMap(Effect.zip(Clock.currentTimeMillis, Effect.runtime<never>()), ([now, runtime]) =>
      Effect.async<void>((resume) => {
        const cancel = schedule(Runtime.runFork(runtime), now, millis, () => resume(Effect.void))
        return Effect.sync(cancel)
      }))
  return { schedule, sleep }
}
