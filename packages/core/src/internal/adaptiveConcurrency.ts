/**
 * The state machine of `AdaptiveConcurrency`: the limit estimate, the permits in use, a FIFO queue
 * of waiters and the timer that sheds waiters after `queueTimeout`.
 *
 * Every method is synchronous and is called from inside one Effect step (an `uninterruptibleMask`
 * body, a `flatMap` continuation or an `Effect.async` register function). JavaScript runs one such
 * step at a time, so each method is atomic: the state is a plain mutable object rather than a `Ref`
 * of immutable snapshots, which keeps an uncontended call free of allocations.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

/** @internal */
export interface Settings {
  readonly initial: number
  readonly min: number
  readonly max: number
  readonly increase: number
  readonly decrease: number
  readonly queue: number
  /** Milliseconds, or `undefined` for waiters that wait as long as it takes. */
  readonly queueTimeout: number | undefined
}

/** What a finished call tells the limiter. @internal */
export const Outcome = {
  /** The call succeeded: the limit may grow. */
  Success: 0,
  /** The server signalled overload (`Overloaded`, `RateLimited`, `Transient`): the limit may be cut. */
  Overload: 1,
  /** A permanent failure, a defect or an interruption: only the permit is returned. */
  Neutral: 2
} as const

/** @internal */
export type Outcome = typeof Outcome[keyof typeof Outcome]

/** @internal */
export type Reason = "QueueFull" | "QueueTimeout"

/** A waiter's lifecycle. Only `Waiting` waiters are linked in the queue. */
const State = {
  /** Created; its register function has not run (the caller may be interrupted before it does). */
  Idle: 0,
  Waiting: 1,
  /** Holds a permit, counted in `inFlight`, whether or not its fiber has resumed yet. */
  Admitted: 2,
  /** Refused (queue full) or shed after `queueTimeout`: holds nothing. */
  Shed: 3,
  /** Left the queue after its fiber was interrupted. */
  Cancelled: 4
} as const

/** A call waiting for a permit: a node of the intrusive FIFO list. @internal */
export class Waiter {
  state: number = State.Idle
  /** The generation at admission (see {@link Limiter.generation}). */
  generation = 0
  /** Clock time (ms) after which the waiter is shed. */
  deadline = Infinity
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  resume: ((effect: Effect.Effect<void, any>) => void) | undefined = undefined
}

/** A deadline this close (ms) counts as due: one microsecond. */
const dueEpsilonMillis = 0.001

interface Timer {
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** @internal */
export class Limiter<E> {
  /** The limit estimate, in `[min, max]`; the number of permits is its whole part. */
  estimate: number
  permits: number
  inFlight = 0
  queued = 0
  /**
   * Incremented by every cut. A call remembers the generation in which it was admitted; its
   * failure cuts the limit only if no cut happened since, so one burst of failures cuts once.
   */
  generation = 0
  private head: Waiter | undefined = undefined
  private tail: Waiter | undefined = undefined
  private timer: Timer | undefined = undefined

  constructor(
    readonly settings: Settings,
    /** Builds the failure of a shed waiter from the state at that moment. */
    private readonly shed: (reason: Reason, limit: number, inFlight: number, queued: number) => E,
    /** Called with the new number of permits whenever it changes. */
    private readonly onChange: (permits: number) => void
  ) {
    this.estimate = settings.initial
    this.permits = Math.floor(settings.initial)
  }

  /** The fast path: takes a permit when one is free and nobody is queued ahead. */
  tryAcquire(): boolean {
    if (this.head === undefined && this.inFlight < this.permits) {
      this.inFlight++
      return true
    }
    return false
  }

  /**
   * The slow path, from the register function of the waiter's `Effect.async`: admits at once if a
   * permit is free, refuses if the queue is full, and queues otherwise. `now` and `runtime` are needed
   * only when a queue timeout is set.
   */
  enqueue(
    waiter: Waiter,
    resume: (effect: Effect.Effect<void, E>) => void,
    now: number,
    runtime: Runtime.Runtime<never> | undefined
  ): void {
    waiter.resume = resume
    if (this.tryAcquire()) {
      waiter.state = State.Admitted
      waiter.generation = this.generation
      resume(Effect.void)
      return
    }
    if (this.queued >= this.settings.queue) {
      waiter.state = State.Shed
      resume(Effect.fail(this.shed("QueueFull", this.permits, this.inFlight, this.queued)))
      return
    }
    waiter.state = State.Waiting
    this.link(waiter)
    const timeout = this.settings.queueTimeout
    if (timeout !== undefined && runtime !== undefined) {
      waiter.deadline = now + timeout
      if (this.timer === undefined) this.startTimer(runtime)
    }
  }

  /**
   * After a wait that did not end in admission being used (interrupted, or shed): leaves the queue,
   * or returns a permit that was handed over while the fiber was being interrupted.
   */
  abandon(waiter: Waiter): void {
    switch (waiter.state) {
      case State.Waiting: {
        waiter.state = State.Cancelled
        this.unlink(waiter)
        this.stopTimerIfIdle()
        return
      }
      case State.Admitted: {
        waiter.state = State.Cancelled
        this.complete(waiter.generation, Outcome.Neutral)
        return
      }
    }
  }

  /** A call admitted in `generation` finished: adjust the limit, return the permit, admit waiters. */
  complete(generation: number, outcome: Outcome): void {
    const s = this.settings
    if (outcome === Outcome.Success) {
      if (this.inFlight * 2 >= this.estimate && this.estimate < s.max) {
        this.estimate = Math.min(s.max, this.estimate + s.increase / this.estimate)
      }
    } else if (outcome === Outcome.Overload && generation === this.generation) {
      this.estimate = Math.max(s.min, this.estimate * s.decrease)
      this.generation++
    }
    this.inFlight--
    const permits = Math.floor(this.estimate)
    if (permits !== this.permits) {
      this.permits = permits
      this.onChange(permits)
    }
    this.drain()
  }

  /** Admits queued waiters in order while permits are free. */
  private drain(): void {
    let admitted = false
    while (this.head !== undefined && this.inFlight < this.permits) {
      const waiter = this.head
      this.unlink(waiter)
      waiter.state = State.Admitted
      waiter.generation = this.generation
      this.inFlight++
      admitted = true
      waiter.resume!(Effect.void)
    }
    if (admitted) this.stopTimerIfIdle()
  }

  private link(waiter: Waiter): void {
    waiter.prev = this.tail
    waiter.next = undefined
    if (this.tail === undefined) this.head = waiter
    else this.tail.next = waiter
    this.tail = waiter
    this.queued++
  }

  private unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    this.queued--
  }

  /**
   * One timer per limiter, not one per waiter: every waiter gets the same timeout and joins the queue
   * in order, so deadlines grow from head to tail and the timer only ever sleeps until the head's.
   * It runs on the runtime (and so the `Clock`) of the waiter that started it, as a root fiber, so it
   * outlives that waiter; it stops when the queue empties.
   */
  private startTimer(runtime: Runtime.Runtime<never>): void {
    const timer: Timer = { fiber: undefined }
    this.timer = timer
    const loop: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (this.timer !== timer) return Effect.void
      this.expire(now)
      const head = this.head
      if (head === undefined) {
        this.timer = undefined
        return Effect.void
      }
      // Whole milliseconds, rounded up: the sleep ends at or after the deadline. A fractional sleep is
      // rounded to the nearest nanosecond by `Duration`, can end a hair early, and the next sleep
      // (under a nanosecond) is zero: the loop would spin without the clock moving.
      return Effect.zipRight(Effect.sleep(Duration.millis(Math.ceil(head.deadline - now))), loop)
    })
    // interruptible even when the waiter that starts it is not, so that it can be stopped
    timer.fiber = Runtime.runFork(runtime)(Effect.interruptible(loop))
  }

  private stopTimerIfIdle(): void {
    if (this.head === undefined && this.timer !== undefined) {
      const timer = this.timer
      this.timer = undefined
      timer.fiber?.unsafeInterruptAsFork(FiberId.none)
    }
  }

  /**
   * Sheds the waiters at the head whose deadline has come (within {@link dueEpsilonMillis}, so that a
   * Clock that keeps time in nanoseconds and wakes a hair early does not cost another millisecond).
   */
  private expire(now: number): void {
    while (this.head !== undefined && this.head.deadline - now <= dueEpsilonMillis) {
      const waiter = this.head
      const error = this.shed("QueueTimeout", this.permits, this.inFlight, this.queued)
      this.unlink(waiter)
      waiter.state = State.Shed
      waiter.resume!(Effect.fail(error))
    }
  }
}
