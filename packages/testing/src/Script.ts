/**
 * Scripts: faults on a timeline of calls.
 *
 * The simulator numbers calls 1, 2, 3… in arrival order. Each call is answered by the
 * **first fault of the script that still has uses left and matches the call** (its
 * `endpoint`, `model` and, for stream faults, `stream: true`); that fault loses one use.
 * A call that no fault matches is answered normally (success, or whatever the capacity
 * model and request validation say).
 *
 * ```ts
 * // calls 1–2 → 529, call 3 → 429 with retry-after 3 s, then success
 * Script.make([
 *   Fault.overloaded({ times: 2 }),
 *   Fault.rateLimited({ retryAfter: "3 seconds" })
 * ])
 * ```
 *
 * Faults with different filters form independent timelines; faults with the same filter
 * run in order. `Fault.batchResult` faults never answer HTTP calls: they decide the outcome of
 * the requests inside Message Batches, one use per batch request, in submission order. A script is plain data: {@link fromJson} reads the JSON form
 * (`{ "steps": [...] }` or a bare array of faults).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Fault from "./Fault.js"

/**
 * A script: an ordered list of faults.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Script {
  readonly steps: ReadonlyArray<Fault.Fault>
}

/**
 * The schema of a script (JSON form `{ "steps": [...] }`).
 *
 * @since 0.1.0
 * @category Schemas
 */
export const Script: Schema.Schema<Script, { readonly steps: ReadonlyArray<typeof Fault.Fault.Encoded> }> = Schema
  .Struct({ steps: Schema.Array(Fault.Fault) })

/**
 * A script from a list of faults.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (steps: Iterable<Fault.Fault>): Script => ({ steps: Array.from(steps) })

/**
 * The empty script: every call is answered normally.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const empty: Script = { steps: [] }

/**
 * Append faults to a script.
 *
 * @since 0.1.0
 * @category Combinators
 */
export const append: {
  (...steps: ReadonlyArray<Fault.Fault>): (self: Script) => Script
} = (...steps) => (self) => ({ steps: [...self.steps, ...steps] })

const decodeScript = Schema.decodeUnknownEither(Script)
const decodeSteps = Schema.decodeUnknownEither(Schema.Array(Fault.Fault))

/**
 * Decode a script from unknown input: `{ steps: [...] }` or a bare array of faults.
 *
 * @since 0.1.0
 * @category Decoding
 */
export const decodeUnknown = (input: unknown): Either.Either<Script, ParseResult.ParseError> =>
  Array.isArray(input) ? Either.map(decodeSteps(input), (steps) => ({ steps })) : decodeScript(input)

/**
 * Parse a script from JSON text.
 *
 * @since 0.1.0
 * @category Decoding
 */
export const fromJson = (json: string): Either.Either<Script, ParseResult.ParseError | SyntaxError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (error) {
    return Either.left(error as SyntaxError)
  }
  return decodeUnknown(parsed)
}

/**
 * The JSON form of a script.
 *
 * @since 0.1.0
 * @category Encoding
 */
export const toJson = (script: Script): string => JSON.stringify(Schema.encodeSync(Script)(script), null, 2)
