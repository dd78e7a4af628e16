/**
 * What a batch journal says about its submission, for `ballast batch status`. Pure.
 *
 * @internal
 */
import type { BatchJournal } from "@ballast/anthropic"
import * as BatchFiles from "../BatchFiles.js"

/** @internal */
export interface PlanSummary {
  readonly plan: number
  readonly attempt: number
  readonly requests: number
  batchId: string | undefined
  adopted: boolean
  done: boolean
  resolved: number
}

/** @internal */
export interface Summary {
  readonly plans: ReadonlyArray<PlanSummary>
  /** Distinct custom_ids planned. */
  readonly planned: number
  readonly resolved: number
  readonly outcomes: Record<BatchFiles.Kind, number>
}

/** @internal */
export const summarize = (entries: ReadonlyArray<BatchJournal.Entry>): Summary => {
  const plans = new Map<number, PlanSummary>()
  const ids = new Set<string>()
  const resolved = new Set<string>()
  const outcomes: Record<BatchFiles.Kind, number> = { succeeded: 0, errored: 0, expired: 0, canceled: 0, rejected: 0 }
  for (const entry of entries) {
    switch (entry._tag) {
      case "Planned":
        plans.set(entry.plan, {
          plan: entry.plan,
          attempt: entry.attempt,
          requests: entry.customIds.length,
          batchId: undefined,
          adopted: false,
          done: false,
          resolved: 0
        })
        for (const id of entry.customIds) ids.add(id)
        break
      case "Created": {
        const plan = plans.get(entry.plan)
        if (plan !== undefined) {
          plan.batchId = entry.batchId
          plan.adopted = entry.adopted ?? false
        }
        break
      }
      case "Resolved": {
        if (resolved.has(entry.outcome.customId)) break
        resolved.add(entry.outcome.customId)
        outcomes[BatchFiles.kindOf(entry.outcome)]++
        const plan = plans.get(entry.plan)
        if (plan !== undefined) plan.resolved++
        break
      }
      case "Done": {
        const plan = plans.get(entry.plan)
        if (plan !== undefined) plan.done = true
        break
      }
    }
  }
  return { plans: [...plans.values()], planned: ids.size, resolved: resolved.size, outcomes }
}

/** @internal The custom_ids a journal has planned. */
export const plannedIds = (entries: ReadonlyArray<BatchJournal.Entry>): Set<string> => {
  const ids = new Set<string>()
  for (const entry of entries) if (entry._tag === "Planned") for (const id of entry.customIds) ids.add(id)
  return ids
}
