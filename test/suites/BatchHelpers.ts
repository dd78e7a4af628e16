/**
 * Shared pieces of the batch suites: requests, a submitter over the in-process simulator with an
 * in-memory journal, and a driver that runs an effect to its end under TestClock.
 */
import { AnthropicClient, BatchJournal, BatchOutcome, BatchSubmitter } from "@ballast/anthropic"
import { InProcess, Simulator } from "@ballast/testing"
import type { Exit } from "effect"
import { Array as Arr, Chunk, Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"

export const MODEL = "claude-opus-4-6"

export const request = (customId: string, content = customId): BatchSubmitter.Request => ({
  custom_id: customId,
  params: { model: MODEL, max_tokens: 64, messages: [{ role: "user", content }] }
})

export const requests = (n: number, prefix = "r"): Array<BatchSubmitter.Request> =>
  Array.from({ length: n }, (_, i) => request(`${prefix}-${i}`))

/** An `AnthropicClient` over the in-process simulator in context (calls run on the caller's Clock). */
export const clientLayer: Layer.Layer<AnthropicClient.AnthropicClient, never, Simulator.Simulator> = Layer.effect(
  AnthropicClient.AnthropicClient,
  Effect.flatMap(InProcess.fetch, (fetch) => AnthropicClient.make({ apiKey: Redacted.make("sk-test"), fetch }))
)

/** A journal in memory whose lines the test can read (and hand to a second run). */
export const memoryJournal = (lines?: ReadonlyArray<string>) =>
  Effect.map(BatchJournal.makeMemory(lines), (journal) => ({
    journal,
    layer: Layer.succeed(BatchJournal.BatchJournal, journal)
  }))

/**
 * Runs `self` to its end under TestClock: whenever it waits on the clock, moves the clock to the next
 * pending wake-up; while it waits on anything else (the SDK's promises), lets real time pass a little.
 */
export const drive = <A, E, R>(self: Effect.Effect<A, E, R>, maxSteps = 100_000): Effect.Effect<A, E | string, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let step = 0; step < maxSteps; step++) {
      const exit: Option.Option<Exit.Exit<A, E>> = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.length > 0) yield* TestClock.setTime(Math.min(...sleeps))
      else yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.fail(`not done after ${maxSteps} steps`)
  })

/** Outcomes by custom_id, failing the test on a duplicate. */
export const byId = (outcomes: Iterable<BatchOutcome.Outcome>): Map<string, BatchOutcome.Outcome> => {
  const map = new Map<string, BatchOutcome.Outcome>()
  for (const outcome of outcomes) {
    if (map.has(outcome.customId)) throw new Error(`two outcomes for ${outcome.customId}`)
    map.set(outcome.customId, outcome)
  }
  return map
}

/** An outcome in a word: `succeeded@2`, `RequestErrored:overloaded_error@3`, `RequestCanceled@1`… */
export const label = (outcome: BatchOutcome.Outcome): string => {
  if (outcome._tag === "Succeeded") return `succeeded@${outcome.attempt}`
  const error = outcome.error
  return error._tag === "RequestErrored"
    ? `${error._tag}:${error.errorType}@${outcome.attempt}`
    : `${error._tag}@${outcome.attempt}`
}

/** How many times the simulator was sent each custom_id, over every batch created. */
export const submissions = Effect.map(Simulator.batches, (batches) => {
  const counts = new Map<string, number>()
  for (const id of batches.flatMap((b) => b.customIds)) counts.set(id, (counts.get(id) ?? 0) + 1)
  return counts
})

export const sizes = Effect.map(Simulator.batches, Arr.map((b) => b.customIds.length))
