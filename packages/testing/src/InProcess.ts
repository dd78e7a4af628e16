/**
 * The in-process transport: a `fetch` function to hand to the official SDK.
 *
 * ```ts
 * const fetch = yield* InProcess.fetch
 * const client = new Anthropic({ apiKey: "test", fetch, maxRetries: 0 })
 * ```
 *
 * The function captures the Runtime of the Effect that built it, so every simulated
 * latency sleeps on *that* fiber's `Clock`: under `TestClock` a 2-second call stays pending
 * until the test adjusts the clock by 2 seconds. Aborting `init.signal` interrupts the
 * simulated call (the call log shows `aborted: true`) and rejects with an `AbortError`
 * `DOMException`, or errors a streaming body, like the real `fetch`. A scripted connection
 * reset rejects with undici's `TypeError("fetch failed")`; a dropped stream errors the body
 * with `TypeError("terminated")`.
 *
 * JSON responses are light `Response` objects by default (see {@link Options}); streams are
 * native `Response`s over a `ReadableStream` fed as the simulated stream runs.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as internal from "./internal/fetch.js"
import { Simulator } from "./Simulator.js"

/**
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * `"light"` (default): complete responses are light objects that pass
   * `instanceof Response` and implement `text()`, `json()`, `clone()`… but have
   * `body === null` — several times cheaper than undici's `Response`, which matters when
   * pushing tens of thousands of requests per second through the SDK.
   * `"native"`: every response is a real `Response`.
   */
  readonly responses?: "light" | "native" | undefined
}

/**
 * A `fetch` served by the {@link Simulator} in context, with the given options.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeFetch = (options?: Options): Effect.Effect<typeof globalThis.fetch, never, Simulator> =>
  Effect.map(
    Effect.zip(Simulator, Effect.runtime<never>()),
    ([simulator, runtime]) => internal.make(simulator, runtime, { responses: options?.responses ?? "light" })
  )

/**
 * A `fetch` served by the {@link Simulator} in context (light responses).
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fetch: Effect.Effect<typeof globalThis.fetch, never, Simulator> = makeFetch()
