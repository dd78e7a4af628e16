/**
 * The machinery of `Pacing`: the latest state of each window and the gates callers wait on.
 *
 * Callers blocked until the same instant share one gate: a `Deferred` opened by one sleeping fiber,
 * so a thousand paced calls cost one timer, not a thousand (and `TestClock` wakes them in one step).
 * A gate opens early when an observation shows its instant no longer blocks; its callers then look
 * again. All state changes happen inside single synchronous Effect steps.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type { Pacer, Window } from "../Pacing.js"

interface Gate {
  readonly at: number
  readonly opened: Deferred.Deferred<void>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** @internal */
export const make: Effect.Effect<Pacer> = Effect.sync(() => {
  const windows = new Map<string, Window>()
  const gates = new Map<number, Gate>()

  const hasExhausted = (): boolean => {
    for (const w of windows.values()) if (w.remaining <= 0) return true
    return false
  }

  /** Forgets windows whose reset has passed; returns the instant every used-up window has reset by, or 0. */
  const blockedUntil = (now: number): number => {
    let until = 0
    for (const [name, w] of windows) {
      if (w.resetAt <= now) windows.delete(name)
      else if (w.remaining <= 0 && w.resetAt > until) until = w.resetAt
    }
    return until
  }

  const open = (gate: Gate): void => {
    if (gates.get(gate.at) === gate) gates.delete(gate.at)
    Deferred.unsafeDone(gate.opened, Exit.void)
  }

  const observe = (observed: ReadonlyArray<Window>): Effect.Effect<void> =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        for (const w of observed) {
          if (Number.isNaN(w.resetAt)) continue
          windows.set(w.name, { name: w.name, remaining: w.remaining, resetAt: w.resetAt })
        }
        const until = blockedUntil(clock.unsafeCurrentTimeMillis())
        for (const gate of gates.values()) {
          if (gate.at > until) {
            open(gate)
            gate.fiber?.unsafeInterruptAsFork(FiberId.none)
          }
        }
      })
    )

  /** Waits for the gate of the current blocking instant; `false` when nothing blocks. */
  const waitOnce: Effect.Effect<boolean> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const until = blockedUntil(now)
      if (until === 0) return Effect.succeed(false)
      const existing = gates.get(until)
      if (existing !== undefined) return Effect.as(restore(Deferred.await(existing.opened)), true)
      const gate: Gate = { at: until, opened: Deferred.unsafeMake<void>(FiberId.none), fiber: undefined }
      gates.set(until, gate)
      const sleeper = Effect.zipRight(Effect.sleep(until - now), Effect.sync(() => open(gate)))
      return Effect.flatMap(Effect.forkDaemon(Effect.interruptible(sleeper)), (fiber) => {
        gate.fiber = fiber
        return Effect.as(restore(Deferred.await(gate.opened)), true)
      })
    })
  )

  const wait: Effect.Effect<void> = Effect.suspend(() =>
    hasExhausted() ? Effect.flatMap(waitOnce, (waited) => (waited ? wait : Effect.void)) : Effect.void
  )

  const state: Effect.Effect<ReadonlyArray<Window>> = Effect.map(Clock.currentTimeMillis, (now) => {
    blockedUntil(now)
    return Array.from(windows.values())
  })

  const delay: Effect.Effect<Duration.Duration> = Effect.map(Clock.currentTimeMillis, (now) => {
    const until = blockedUntil(now)
    return until === 0 ? Duration.zero : Duration.millis(until - now)
  })

  return { observe, wait, state, delay }
})
