/**
 * The loopback transport: the simulator served over HTTP on 127.0.0.1, built on
 * `@effect/platform`'s `HttpServer` and `@effect/platform-node`'s `NodeHttpServer`.
 *
 * ```ts
 * const { url } = yield* Server.start()          // needs Scope and Simulator
 * const client = new Anthropic({ apiKey: "test", baseURL: url, maxRetries: 0 })
 * ```
 *
 * The server answers with the same {@link Simulator} model as the in-process transport:
 * JSON responses, SSE streams written frame by frame, a destroyed socket for a scripted
 * reset or a dropped stream. A client that disconnects before its response is complete
 * interrupts the simulated call, which the call log shows as `aborted: true`.
 * Latencies sleep on the `Clock` of the Effect that started the server.
 *
 * @since 0.1.0
 */
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as Simulator from "./Simulator.js"

/**
 * Where the server listens.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Address {
  /** `http://127.0.0.1:<port>`: pass it as the SDK's `baseURL`. */
  readonly url: string
  readonly host: string
  readonly port: number
}

/**
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Port to listen on. Default: 0 (the system picks a free port; read it from {@link Address}). */
  readonly port?: number | undefined
  /** Interface to listen on. Default: `127.0.0.1`. */
  readonly host?: string | undefined
}

/**
 * The address of a running simulator server.
 *
 * @since 0.1.0
 * @category Tags
 */
export class Server extends Context.Tag("@ballast/testing/Server")<Server, Address>() {}

const encoder = new TextEncoder()

const headerLookup = (headers: Readonly<Record<string, string>>): Simulator.HeaderLookup => ({
  get: (name) => headers[name.toLowerCase()] ?? null
})

const dropConnection = (node: Http.ServerResponse): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const socket = node.socket
    if (socket === null || socket.destroyed) return resume(Effect.void)
    socket.end(() => {
      socket.destroy()
      resume(Effect.void)
    })
  })

/**
 * The HTTP app serving a simulator (usable with any `HttpServer`).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const app = (
  simulator: Simulator.Service
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* Effect.orElseSucceed(request.text, () => "")
    // The platform runs apps uninterruptibly; opt in so a client disconnect interrupts the call.
    const response = yield* Effect.interruptible(simulator.handle({
      method: request.method,
      url: request.url,
      headers: headerLookup(request.headers),
      body
    }))
    switch (response._tag) {
      case "Json":
        return HttpServerResponse.text(response.body, { status: response.status, headers: response.headers })
      case "ConnectionReset": {
        NodeHttpServerRequest.toServerResponse(request).destroy()
        return yield* Effect.never
      }
      case "EventStream": {
        const node = NodeHttpServerRequest.toServerResponse(request)
        const events = Stream.concat(
          // Send the 200 headers now, even if no event follows for a while.
          Stream.execute(Effect.sync(() => node.flushHeaders())),
          response.events.pipe(
            Stream.map((frame) => encoder.encode(frame)),
            Stream.catchAll(() =>
              // The connection drops: flush what was written, close the socket mid-body.
              Stream.concat(Stream.execute(dropConnection(node)), Stream.never)
            )
          )
        )
        return HttpServerResponse.stream(events, { status: response.status, headers: response.headers })
      }
    }
  })

/**
 * Start a server for the {@link Simulator} in context; it stops when the scope closes.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const start = (
  options?: Options
): Effect.Effect<Address, HttpServerError.ServeError, Scope.Scope | Simulator.Simulator> =>
  Effect.gen(function*() {
    const simulator = yield* Simulator.Simulator
    const host = options?.host ?? "127.0.0.1"
    const node = Http.createServer()
    const server = yield* NodeHttpServer.make(() => node, { port: options?.port ?? 0, host })
    // Runs before the platform's `server.close()`: don't wait for clients' keep-alive sockets.
    yield* Effect.addFinalizer(() => Effect.sync(() => node.closeAllConnections()))
    yield* server.serve(app(simulator))
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { url: `http://${host}:${port}`, host, port }
  })

/**
 * A server for the {@link Simulator} in context.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerServer = (options?: Options): Layer.Layer<Server, HttpServerError.ServeError, Simulator.Simulator> =>
  Layer.scoped(Server, start(options))

/**
 * A simulator and a server for it.
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = (
  options?: Options & { readonly simulator?: Simulator.Options | undefined }
): Layer.Layer<Server | Simulator.Simulator, HttpServerError.ServeError> =>
  layerServer(options).pipe(Layer.provideMerge(Simulator.layer(options?.simulator)))
