/**
 * What became of one request sent through the Message Batches API: a message, or a typed error
 * saying why not. `BatchSubmitter` gives exactly one outcome per `custom_id`; the journal stores
 * them, so every class here is a `Schema` with a JSON form.
 *
 * @since 0.1.0
 */
import type { Message } from "@anthropic-ai/sdk/resources/messages"
import { Predicate, Schema } from "effect"
import * as AnthropicError from "./AnthropicError.js"

const MessageSchema = Schema.Any as Schema.Schema<Message>

/**
 * The request's last result was `errored` with an error the submitter does not resubmit
 * (or it ran out of attempts). `errorType` is the API's `error.type`, e.g. `invalid_request_error`.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestErrored extends Schema.TaggedError<RequestErrored>()("RequestErrored", {
  customId: Schema.String,
  batchId: Schema.String,
  attempt: Schema.Int,
  errorType: Schema.String,
  errorMessage: Schema.String
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `Batch request ${this.customId} errored (${this.errorType}) on attempt ${this.attempt}: ${this.errorMessage}`
  }
}

/**
 * The request was still unprocessed when its batch expired (24 h), on its last attempt.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestExpired extends Schema.TaggedError<RequestExpired>()("RequestExpired", {
  customId: Schema.String,
  batchId: Schema.String,
  attempt: Schema.Int
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `Batch request ${this.customId} expired in ${this.batchId} on attempt ${this.attempt}`
  }
}

/**
 * The request's batch was canceled before the request was processed. Not resubmitted: a cancel
 * is somebody's decision.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestCanceled extends Schema.TaggedError<RequestCanceled>()("RequestCanceled", {
  customId: Schema.String,
  batchId: Schema.String,
  attempt: Schema.Int
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `Batch request ${this.customId} was canceled with ${this.batchId}`
  }
}

/**
 * The API refused to create the batch that carried the request (`400 invalid_request_error` or
 * `413 request_too_large`, after the policy): `error` says why.
 *
 * @since 0.1.0
 * @category Errors
 */
export class RequestRejected extends Schema.TaggedError<RequestRejected>()("RequestRejected", {
  customId: Schema.String,
  attempt: Schema.Int,
  error: AnthropicError.AnthropicError
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `The batch carrying ${this.customId} was refused: ${this.error.message}`
  }
}

/**
 * Why a request has no message.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const RequestFailure = Schema.Union(RequestErrored, RequestExpired, RequestCanceled, RequestRejected)

/**
 * @since 0.1.0
 * @category Models
 */
export type RequestFailure = typeof RequestFailure.Type

/**
 * The request succeeded: `message` is what the Messages API would have returned.
 *
 * @since 0.1.0
 * @category Models
 */
export class Succeeded extends Schema.TaggedClass<Succeeded>()("Succeeded", {
  customId: Schema.String,
  batchId: Schema.String,
  attempt: Schema.Int,
  message: MessageSchema
}) {}

/**
 * The request has no message; `error` says why.
 *
 * @since 0.1.0
 * @category Models
 */
export class Failed extends Schema.TaggedClass<Failed>()("Failed", {
  customId: Schema.String,
  attempt: Schema.Int,
  error: RequestFailure
}) {}

/**
 * The outcome of one request.
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Outcome = Schema.Union(Succeeded, Failed)

/**
 * @since 0.1.0
 * @category Models
 */
export type Outcome = Succeeded | Failed

/**
 * @since 0.1.0
 * @category Guards
 */
export const isSucceeded = (outcome: Outcome): outcome is Succeeded => outcome._tag === "Succeeded"

/**
 * @since 0.1.0
 * @category Guards
 */
export const isFailed = (outcome: Outcome): outcome is Failed => outcome._tag === "Failed"

/**
 * Whether a value is an {@link Outcome} (for instance one of the submitter's events).
 *
 * @since 0.1.0
 * @category Guards
 */
export const isOutcome = (u: unknown): u is Outcome =>
  Predicate.hasProperty(u, "_tag") && (u._tag === "Succeeded" || u._tag === "Failed")
