import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, FiberRef, HashSet, Inspectable, Logger, Stream } from "effect"
import { inspect } from "node:util"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as AnthropicError from "../src/AnthropicError.js"
import { API_KEY, errorBody, layer, messageStart, params, respond, sse, sseResponse, stub } from "./stubs.js"

/** Every status of the catalogue, plus answers that echo the Authorization header back. */
const echoKey = (init: RequestInit | undefined): string => new Headers(init?.headers).get("authorization") ?? ""

const scenarios: ReadonlyArray<{ readonly name: string; readonly respond: (init: RequestInit | undefined) => Response | Promise<Response> }> = [
  ...[400, 401, 402, 403, 404, 408, 409, 413, 429, 500, 503, 504, 529].map((status) => ({
    name: `HTTP ${status}`,
    respond: () => respond(status, errorBody("some_error", `failure ${status}`), { "request-id": `req_${status}` })
  })),
  {
    name: "a body whose message echoes the key",
    respond: (init) => respond(401, errorBody("authentication_error", `invalid key: ${echoKey(init)}`))
  },
  {
    name: "a non-JSON body that echoes the key",
    respond: (init) => new Response(`<html>denied for ${echoKey(init)}</html>`, { status: 502 })
  },
  {
    name: "fetch failing with the key in its message",
    respond: (init) => Promise.reject(new TypeError(`Headers.append: "${echoKey(init)}" is an invalid header value`))
  }
]

const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(String(Logger.logfmtLogger.log(options)))
      lines.push(String(Logger.stringLogger.log(options)))
      lines.push(String(Logger.structuredLogger.log(options) && JSON.stringify(Logger.structuredLogger.log(options))))
    })
    yield* effect.pipe(Effect.locally(FiberRef.currentLoggers, HashSet.make(logger)))
    return lines
  })

const renderings = (error: AnthropicError.AnthropicError): ReadonlyArray<string> => [
  error.message,
  String(error),
  error.toString(),
  JSON.stringify(error),
  JSON.stringify(error.toJSON()),
  Inspectable.format(error),
  inspect(error, { depth: 10 }),
  error.stack ?? "",
  Cause.pretty(Cause.fail(error)),
  Cause.pretty(Cause.fail(error), { renderErrorCause: true })
]

describe("the API key never leaks", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () =>
      Effect.gen(function*() {
        const s = stub((call) => scenario.respond(call.init))
        const error = yield* Effect.flatMap(AnthropicClient.AnthropicClient, (client) => Effect.flip(client.messages.create(params)))
          .pipe(Effect.filterOrDieMessage(AnthropicError.isAnthropicError, "expected an API error"))
          .pipe(Effect.provide(layer(s.fetch)))
        // the stub really did receive the key
        assert.strictEqual(echoKey(s.calls[0]!.init), `Bearer ${API_KEY}`)
        for (const text of renderings(error)) {
          assert.notInclude(text, API_KEY)
          assert.notInclude(text, "SECRET")
        }
        const lines = yield* captureLogs(
          Effect.all([Effect.logError(error), Effect.logError("call failed", Cause.fail(error))])
        )
        assert.isAbove(lines.length, 0)
        for (const line of lines) assert.notInclude(line, "SECRET")
      }))
  }

  it.effect("an in-stream error", () =>
    Effect.gen(function*() {
      const s = stub((call) =>
        sseResponse(call, [messageStart, sse("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })])
      )
      const error = yield* Effect.flatMap(AnthropicClient.AnthropicClient, (client) =>
        Effect.flip(Stream.runDrain(client.messages.stream(params)))).pipe(
          Effect.filterOrDieMessage(AnthropicError.isAnthropicError, "expected an API error"),
          Effect.provide(layer(s.fetch))
        )
      for (const text of renderings(error)) assert.notInclude(text, "SECRET")
    }))

  it.effect("the service and the SDK instance print without the key", () =>
    Effect.gen(function*() {
      const s = stub(() => respond(500, errorBody("api_error", "x")))
      const service = yield* AnthropicClient.AnthropicClient.pipe(Effect.provide(layer(s.fetch)))
      for (
        const text of [
          String(service),
          JSON.stringify(service),
          inspect(service, { depth: 10, showHidden: true }),
          Inspectable.format(service),
          inspect(service.unsafeSdk(), { depth: 4, showHidden: true })
        ]
      ) {
        assert.notInclude(text, "SECRET")
      }
      const lines = yield* captureLogs(Effect.log(service))
      for (const line of lines) assert.notInclude(line, "SECRET")
    }))
})
