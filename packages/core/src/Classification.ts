/**
 * Provider-neutral classification of failures.
 *
 * Every error that a resilience policy may see can say what kind of failure it is,
 * whether it is worth retrying and how long the server asked the client to wait.
 * Provider packages (such as `@ballast/anthropic`) implement {@link Classifiable} on
 * their errors; `@ballast/core` decides with {@link classify} and never imports a provider.
 *
 * @since 0.1.0
 */
import { Duration, Option, Predicate } from "effect"

/**
 * @since 0.1.0
 * @category Symbols
 */
export const TypeId: unique symbol = Symbol.for("@ballast/core/Classification")

/**
 * @since 0.1.0
 * @category Symbols
 */
export type TypeId = typeof TypeId

/**
 * What kind of failure an error is.
 *
 * - `Overloaded`: the server is over capacity (HTTP 529, `overloaded_error`, 503).
 * - `RateLimited`: this client exceeded a limit (HTTP 429); usually carries a Retry-After.
 * - `Transient`: a failure that may pass on its own (500, 504, 408, 409, connection reset, timeout).
 * - `Permanent`: retrying cannot help (invalid request, authentication, not found, ...).
 *
 * @since 0.1.0
 * @category Models
 */
export type Kind = "Overloaded" | "RateLimited" | "Transient" | "Permanent"

/**
 * The verdict on one failure.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Classification {
  readonly kind: Kind
  /** Whether a retry may succeed. Server hints (such as `x-should-retry`) are already applied. */
  readonly retryable: boolean
  /** How long the server asked the client to wait before trying again, if it said. */
  readonly retryAfter: Option.Option<Duration.Duration>
}

/**
 * An error that knows its own {@link Classification}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Classifiable {
  readonly [TypeId]: Classification
}

/**
 * Builds a classification. `retryable` defaults to `true` for every kind but `Permanent`.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (
  kind: Kind,
  options?: {
    readonly retryable?: boolean | undefined
    readonly retryAfter?: Option.Option<Duration.Duration> | undefined
  }
): Classification => ({
  kind,
  retryable: options?.retryable ?? kind !== "Permanent",
  retryAfter: options?.retryAfter ?? Option.none()
})

/**
 * The classification given to values that do not implement {@link Classifiable}:
 * an unknown failure is not retried.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const unknown: Classification = make("Permanent")

/**
 * @since 0.1.0
 * @category Guards
 */
export const isClassifiable = (u: unknown): u is Classifiable => Predicate.hasProperty(u, TypeId)

/**
 * The classification of any value: its own when it is {@link Classifiable}, {@link unknown} otherwise.
 *
 * @since 0.1.0
 * @category Classification
 */
export const classify = (u: unknown): Classification => (isClassifiable(u) ? u[TypeId] : unknown)

/**
 * Whether a retry of this failure may succeed.
 *
 * @since 0.1.0
 * @category Classification
 */
export const isRetryable = (u: unknown): boolean => classify(u).retryable

/**
 * Whether this failure says the server is over capacity.
 *
 * @since 0.1.0
 * @category Classification
 */
export const isOverloaded = (u: unknown): boolean => classify(u).kind === "Overloaded"

/**
 * Whether this failure says the client exceeded a rate limit.
 *
 * @since 0.1.0
 * @category Classification
 */
export const isRateLimited = (u: unknown): boolean => classify(u).kind === "RateLimited"

/**
 * The wait the server asked for, if any.
 *
 * @since 0.1.0
 * @category Classification
 */
export const retryAfter = (u: unknown): Option.Option<Duration.Duration> => classify(u).retryAfter
