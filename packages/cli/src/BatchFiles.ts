/**
 * The files of `ballast batch`: the requests it reads and the outcome lines it writes.
 *
 * **Input** (`requests.jsonl`): one request per line, exactly as the Message Batches API takes it —
 * `{"custom_id": "q-1", "params": {"model": …, "max_tokens": …, "messages": […]}}`. Blank lines are
 * skipped. A line that is not JSON, or not shaped like a request, is refused with its line number.
 *
 * **Output** (`results.jsonl`): one line per `custom_id`, in the shape of the API's own results
 * file — `{"custom_id", "result": {"type": "succeeded", "message"} | {"type": "errored", "error"} |
 * {"type": "expired"} | {"type": "canceled"}}` — plus `batch_id` (the batch whose result it is;
 * `null` when the batch create was refused) and `attempt` (1 unless the request was resubmitted).
 * A request whose batch create was refused (400/413) is `errored` with `"rejected": true`.
 *
 * @since 0.1.0
 */
import type { BatchOutcome, BatchSubmitter } from "@ballast/anthropic"
import { Either, Predicate, Schema } from "effect"

/**
 * The requests file has a line that is not a request.
 *
 * @since 0.1.0
 * @category Errors
 */
export class InputError extends Schema.TaggedError<InputError>()("InputError", {
  line: Schema.Int,
  message: Schema.String
}) {}

const problem = (line: number, message: string) => Either.left(new InputError({ line, message: `line ${line}: ${message}` }))

/**
 * Parses one line of the requests file (`line` is its 1-based number, for the error).
 *
 * @since 0.1.0
 * @category Parsing
 */
export const parseLine = (text: string, line: number): Either.Either<BatchSubmitter.Request, InputError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return problem(line, "not JSON")
  }
  if (!Predicate.isRecord(json)) return problem(line, "expected an object {\"custom_id\", \"params\"}")
  if (typeof json["custom_id"] !== "string") return problem(line, "\"custom_id\" must be a string")
  const params = json["params"]
  if (!Predicate.isRecord(params)) return problem(line, "\"params\" must be an object (a Messages request)")
  if (typeof params["model"] !== "string") return problem(line, "\"params.model\" must be a string")
  if (typeof params["max_tokens"] !== "number") return problem(line, "\"params.max_tokens\" must be a number")
  if (!Array.isArray(params["messages"])) return problem(line, "\"params.messages\" must be an array")
  if (params["stream"] === true) return problem(line, "\"params.stream\" cannot be true in a batch")
  return Either.right(json as unknown as BatchSubmitter.Request)
}

/**
 * Parses a whole requests file: every request, or the first bad line.
 *
 * @since 0.1.0
 * @category Parsing
 */
export const parse = (text: string): Either.Either<Array<BatchSubmitter.Request>, InputError> => {
  const out: Array<BatchSubmitter.Request> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === "") continue
    const parsed = parseLine(line, i + 1)
    if (Either.isLeft(parsed)) return Either.left(parsed.left)
    out.push(parsed.right)
  }
  return Either.right(out)
}

/**
 * The output line of one outcome (without the newline).
 *
 * @since 0.1.0
 * @category Encoding
 */
export const outcomeLine = (outcome: BatchOutcome.Outcome): string => JSON.stringify(outcomeJson(outcome))

/**
 * The output record of one outcome, as plain JSON.
 *
 * @since 0.1.0
 * @category Encoding
 */
export const outcomeJson = (outcome: BatchOutcome.Outcome): Record<string, unknown> => {
  const custom_id = outcome.customId
  const attempt = outcome.attempt
  if (outcome._tag === "Succeeded") {
    return { custom_id, result: { type: "succeeded", message: outcome.message }, batch_id: outcome.batchId, attempt }
  }
  const error = outcome.error
  switch (error._tag) {
    case "RequestErrored":
      return {
        custom_id,
        result: { type: "errored", error: { type: "error", error: { type: error.errorType, message: error.errorMessage } } },
        batch_id: error.batchId,
        attempt
      }
    case "RequestExpired":
      return { custom_id, result: { type: "expired" }, batch_id: error.batchId, attempt }
    case "RequestCanceled":
      return { custom_id, result: { type: "canceled" }, batch_id: error.batchId, attempt }
    case "RequestRejected":
      return {
        custom_id,
        result: {
          type: "errored",
          error: { type: "error", error: { type: error.error.errorType, message: error.error.message } }
        },
        batch_id: null,
        attempt,
        rejected: true
      }
  }
}

/**
 * The kind of an outcome, as the progress display and summaries count it.
 *
 * @since 0.1.0
 * @category Models
 */
export type Kind = "succeeded" | "errored" | "expired" | "canceled" | "rejected"

/**
 * @since 0.1.0
 * @category Models
 */
export const kindOf = (outcome: BatchOutcome.Outcome): Kind => {
  if (outcome._tag === "Succeeded") return "succeeded"
  switch (outcome.error._tag) {
    case "RequestErrored":
      return "errored"
    case "RequestExpired":
      return "expired"
    case "RequestCanceled":
      return "canceled"
    case "RequestRejected":
      return "rejected"
  }
}
