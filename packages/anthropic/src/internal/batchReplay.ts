/**
 * Rebuilds what a submission had done from its journal. Pure.
 *
 * @internal
 */
import type * as BatchJournal from "../BatchJournal.js"
import type * as BatchOutcome from "../BatchOutcome.js"

/** @internal One planned batch. Mutable: the submitter updates it as the run goes. */
export interface PlanState {
  readonly plan: number
  readonly attempt: number
  readonly customIds: ReadonlyArray<string>
  /** Clock time (ms) the plan was written, just before the create call. */
  readonly at: number
  batchId: string | undefined
  adopted: boolean
  /** Every result has been recorded. */
  done: boolean
}

/** @internal */
export interface State {
  readonly plans: Map<number, PlanState>
  /** The final outcome of each resolved `custom_id`, in the order they were recorded. */
  readonly resolved: Map<string, BatchOutcome.Outcome>
  /** The last plan holding each `custom_id`. */
  readonly latest: Map<string, PlanState>
  nextPlan: number
}

/** @internal */
export const empty = (): State => ({ plans: new Map(), resolved: new Map(), latest: new Map(), nextPlan: 1 })

/** @internal Records a new plan in the state. */
export const addPlan = (state: State, plan: PlanState): void => {
  state.plans.set(plan.plan, plan)
  for (const id of plan.customIds) state.latest.set(id, plan)
  if (plan.plan >= state.nextPlan) state.nextPlan = plan.plan + 1
}

/** @internal */
export const replay = (entries: ReadonlyArray<BatchJournal.Entry>): State => {
  const state = empty()
  for (const entry of entries) {
    switch (entry._tag) {
      case "Planned":
        addPlan(state, {
          plan: entry.plan,
          attempt: entry.attempt,
          customIds: entry.customIds,
          at: entry.at,
          batchId: undefined,
          adopted: false,
          done: false
        })
        break
      case "Created": {
        const plan = state.plans.get(entry.plan)
        if (plan !== undefined) {
          plan.batchId = entry.batchId
          plan.adopted = entry.adopted ?? false
        }
        break
      }
      case "Resolved":
        if (!state.resolved.has(entry.outcome.customId)) state.resolved.set(entry.outcome.customId, entry.outcome)
        break
      case "Done": {
        const plan = state.plans.get(entry.plan)
        if (plan !== undefined) plan.done = true
        break
      }
    }
  }
  return state
}

/** @internal Batch ids the journal knows (never to be adopted for another plan). */
export const knownBatchIds = (state: State): Set<string> => {
  const ids = new Set<string>()
  for (const plan of state.plans.values()) if (plan.batchId !== undefined) ids.add(plan.batchId)
  return ids
}
