/**
 * The in-process transport: a `fetch` that runs `Simulator.handle` on a captured Runtime.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type { EventStreamResponse, Service, SimRequest, SimResponse } from "../Simulator.js"
import * as LightResponse from "./lightResponse.js"
import { SimulatorImpl } from "./simulator.js"

/** @internal */
export interface FetchOptions {
  readonly responses: "light" | "native"
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new DOMException("This operation was aborted", "AbortError")

/** What undici's fetch rejects with when the peer resets the connection. */
const connectionReset = (): TypeError =>
  new TypeError("fetch failed", {
    cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })
  })

/** What undici's body stream errors with when the peer closes mid-body. */
const terminated = (): TypeError =>
  new TypeError("terminated", {
    cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })
  })

const bodyText = (body: unknown): string | Promise<string> => {
  if (body === undefined || body === null) return ""
  if (typeof body === "string") return body
  if (body instanceof Uint8Array) return decoder.decode(body)
  if (body instanceof ArrayBuffer) return decoder.decode(new Uint8Array(body))
  if (body instanceof URLSearchParams) return body.toString()
  return new Response(body as BodyInit).text()
}

/** @internal */
export const make = (
  simulator: Service,
  runtime: Runtime.Runtime<never>,
  options: FetchOptions
): typeof globalThis.fetch => {
  const runFork = Runtime.runFork(runtime)
  const clock = Runtime.runSync(runtime)(Effect.clock)
  const light = options.responses === "light"

  // Calls wait on plain callbacks, not one fiber each, when the simulator is the built-in one.
  const fast = simulator instanceof SimulatorImpl ? simulator : undefined

  const send = (request: SimRequest, url: string, signal: AbortSignal | null | undefined): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal))
        return
      }
      let settled = false
      let onAbort: (() => void) | undefined
      const respond = (response: SimResponse) => {
        if (settled) return
        settled = true
        if (onAbort) signal!.removeEventListener("abort", onAbort)
        switch (response._tag) {
          case "Json":
            return resolve(
              light
                ? LightResponse.make(response.status, response.headers, url, response.body)
                : new Response(response.body, { status: response.status, headers: response.headers })
            )
          case "ConnectionReset":
            return reject(connectionReset())
          case "EventStream":
            return resolve(eventStream(response, signal))
        }
      }
      let cancel: () => void
      if (fast !== undefined) {
        cancel = fast.handleCallback(request, clock, runFork, respond)
      } else {
        const fiber = runFork(simulator.handle(request))
        fiber.addObserver((exit: Exit.Exit<SimResponse>) => {
          if (Exit.isSuccess(exit)) return respond(exit.value)
          if (settled) return
          settled = true
          if (onAbort) signal!.removeEventListener("abort", onAbort)
          reject(Cause.squash(exit.cause))
        })
        cancel = () => fiber.unsafeInterruptAsFork(FiberId.none)
      }
      if (signal && !settled) {
        onAbort = () => {
          if (settled) return
          settled = true
          cancel()
          reject(abortReason(signal))
        }
        signal.addEventListener("abort", onAbort, { once: true })
      }
    })

  const eventStream = (response: EventStreamResponse, signal: AbortSignal | null | undefined): Response => {
    let done = false
    let dropped: TypeError | undefined
    let fiber: Fiber.RuntimeFiber<void, unknown> | undefined
    let onAbort: (() => void) | undefined
    const finish = () => {
      done = true
      if (onAbort) signal!.removeEventListener("abort", onAbort)
    }
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        const f = runFork(
          Stream.runForEachChunk(response.events, (chunk) =>
            Effect.sync(() => {
              if (done) return
              const frames = Chunk.toReadonlyArray(chunk)
              controller.enqueue(encoder.encode(frames.length === 1 ? frames[0]! : frames.join("")))
            }))
        )
        fiber = f
        if (signal) {
          onAbort = () => {
            if (done) return
            finish()
            f.unsafeInterruptAsFork(FiberId.none)
            controller.error(abortReason(signal))
          }
          signal.addEventListener("abort", onAbort, { once: true })
        }
        f.addObserver((exit) => {
          if (done) return
          finish()
          if (Exit.isSuccess(exit)) controller.close()
          else if (Cause.isInterruptedOnly(exit.cause)) controller.error(new DOMException("aborted", "AbortError"))
          else if ((controller.desiredSize ?? 0) > 0) controller.error(terminated())
          // Erroring now would discard the frames still queued: wait until they are read.
          else dropped = terminated()
        })
      },
      pull(controller) {
        if (dropped !== undefined) controller.error(dropped)
      },
      cancel() {
        if (done) return
        finish()
        fiber?.unsafeInterruptAsFork(FiberId.none)
      }
    })
    return new Response(readable, { status: response.status, headers: response.headers })
  }

  return (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let url: string
    let method: string | undefined = init?.method
    let headers: unknown = init?.headers
    let body: unknown = init?.body
    if (typeof input === "string") url = input
    else if (input instanceof URL) url = input.href
    else {
      url = input.url
      method ??= input.method
      headers ??= input.headers
      if (body === undefined && input.body !== null) body = input.clone().text()
    }
    const lookup = headers instanceof Headers ? headers : new Headers(headers as HeadersInit | undefined)
    const text = body instanceof Promise ? body : bodyText(body)
    const signal = init?.signal ?? (typeof input === "object" && input instanceof Request ? input.signal : undefined)
    if (typeof text === "string") {
      return send({ method: method ?? "GET", url, headers: lookup, body: text }, url, signal)
    }
    return (text as Promise<string>).then((t) => send({ method: method ?? "GET", url, headers: lookup, body: t }, url, signal))
  }
}
