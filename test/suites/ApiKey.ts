/**
 * The API key never appears in an error's message, `String(...)`, JSON form, `Cause.pretty` or a
 * log line, for an error of every kind the simulator produces, while the simulator did receive it.
 */
import type { AnthropicError } from "@ballast/anthropic"
import { Catalogue, Fault, Simulator } from "@ballast/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, FiberRef, HashSet, Inspectable, Layer, Logger } from "effect"
import { API_KEY, consume, inProcessClient, loopbackClient, params } from "../utils.js"

/** Pieces of the key: a partial leak (a prefix cut, a suffix) is a leak too. */
const fragments = [API_KEY, API_KEY.slice(0, 24), "BALLASTe2eSECRET", API_KEY.slice(-16)]

const assertNoKey = (text: string, where: string) => {
  for (const fragment of fragments) assert.notInclude(text, fragment, where)
}

/**
 * The simulator from `options`, with its `handle` spied on: `authorizations` gets the
 * Authorization header of every request the simulator answered.
 */
const spiedSimulator = (options: Simulator.Options) => {
  const authorizations: Array<string | null> = []
  const layer = Layer.effect(
    Simulator.Simulator,
    Effect.map(Simulator.make(options), (simulator): Simulator.Service => ({
      handle: (request) =>
        Effect.suspend(() => {
          authorizations.push(request.headers.get("authorization"))
          return simulator.handle(request)
        }),
      calls: simulator.calls,
      awaitCalls: simulator.awaitCalls,
      inFlight: simulator.inFlight,
      setScript: simulator.setScript
    }))
  )
  return { authorizations, layer }
}

/** Every rendering of an error a user might print. */
const renderings = (error: AnthropicError.AnthropicError): ReadonlyArray<readonly [string, string]> => [
  ["message", error.message],
  ["String", String(error)],
  ["toString", error.toString()],
  ["JSON.stringify", JSON.stringify(error)],
  ["Inspectable.format", Inspectable.format(error)],
  ["stack", error.stack ?? ""],
  ["Cause.pretty", Cause.pretty(Cause.fail(error))],
  ["Cause.pretty with causes", Cause.pretty(Cause.fail(error), { renderErrorCause: true })]
]

/** The lines that string, logfmt and JSON loggers write for the logs of `effect`. */
const logLines = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(Logger.stringLogger.log(options))
      lines.push(Logger.logfmtLogger.log(options))
      lines.push(Logger.jsonLogger.log(options))
    })
    yield* effect.pipe(Effect.locally(FiberRef.currentLoggers, HashSet.make(logger)))
    return lines
  })

const assertNeverLeaks = (error: AnthropicError.AnthropicError) =>
  Effect.gen(function*() {
    for (const [where, text] of renderings(error)) assertNoKey(text, `${error._tag}: ${where}`)
    const lines = yield* logLines(Effect.all([
      Effect.logError(error),
      Effect.logError("call failed", Cause.fail(error)),
      Effect.fail(error).pipe(Effect.tapErrorCause(Effect.logError), Effect.ignore)
    ]))
    assert.strictEqual(lines.length, 9, "three log records, three formats each")
    assert.include(lines[0]!, error._tag, "the log line does show the error")
    for (const line of lines) assertNoKey(line, `${error._tag}: log line`)
  })

/** Registers the suite (see `e2e.test.ts`). */
export const suite = (): void => {
  describe("the API key never leaks", () => {
    const echo = `the key you sent: ${API_KEY}`
    const script: ReadonlyArray<Fault.Fault> = [
      ...Catalogue.entries.map((entry) => Fault.status(entry.status)),
      Fault.status(418),
      // the server echoes the key back: in the message, in a non-JSON body, in a header
      Fault.status(401, { message: echo }),
      Fault.raw(502, `<html>${echo}</html>`, { headers: { "x-echo": API_KEY } }),
      Fault.reset()
    ]

    it.effect("every error of the catalogue, an unknown status, echoed keys and a reset, in process", () => {
      const spy = spiedSimulator({ script })
      return Effect.gen(function*() {
        const client = yield* inProcessClient
        const errors: Array<AnthropicError.AnthropicError> = []
        for (let i = 0; i < script.length; i++) {
          const error = yield* Effect.flip(client.messages.create(params()))
          errors.push(error)
          yield* assertNeverLeaks(error)
        }
        assert.deepStrictEqual(errors.map((e) => e._tag), [
          "InvalidRequest",
          "AuthenticationFailed",
          "BillingError",
          "PermissionDenied",
          "NotFound",
          "RequestTimeout",
          "Conflict",
          "RequestTooLarge",
          "RateLimited",
          "ApiError",
          "ServiceUnavailable",
          "GatewayTimeout",
          "Overloaded",
          "UnknownApiError",
          "AuthenticationFailed",
          "UnknownApiError",
          "ConnectionFailed"
        ])
        // The echoes did reach the client (with the key taken out of them)...
        assert.include(errors[14]!.message, "the key you sent:")
        assert.include(errors[15]!.message, "<html>the key you sent:")
        // ...and the test means something only if the key did travel to the simulator.
        assert.strictEqual(spy.authorizations.length, script.length)
        for (const authorization of spy.authorizations) assert.strictEqual(authorization, `Bearer ${API_KEY}`)
      }).pipe(Effect.provide(spy.layer))
    })

    it.scopedLive("over HTTP: an echoed key, a reset and an in-stream overload", () => {
      const http = spiedSimulator({
        script: [
          Fault.status(401, { message: echo }),
          Fault.raw(502, `<html>${echo}</html>`),
          Fault.reset(),
          Fault.streamError({ afterDeltas: 1, message: echo })
        ]
      })
      return Effect.gen(function*() {
        const client = yield* loopbackClient
        const errors = [
          yield* Effect.flip(client.messages.create(params())),
          yield* Effect.flip(client.messages.create(params())),
          yield* Effect.flip(client.messages.create(params())),
          yield* Effect.flip((yield* consume(client)).result)
        ]
        assert.deepStrictEqual(
          errors.map((e) => e._tag),
          ["AuthenticationFailed", "UnknownApiError", "ConnectionFailed", "Overloaded"]
        )
        for (const error of errors) yield* assertNeverLeaks(error)
        assert.include(errors[3]!.message, "the key you sent:")
        assert.deepStrictEqual(http.authorizations, Array(4).fill(`Bearer ${API_KEY}`))
      }).pipe(Effect.provide(http.layer))
    })
  })
}
