/**
 * Readable text and plain JSON for policy values.
 *
 * @internal
 */
import { Duration, Option, Predicate } from "effect"
import type { Policy, RetrySettings } from "../Policy.js"

const isPlainData = (u: object): boolean => !Array.isArray(u) && !Duration.isDuration(u) && !Option.isOption(u)

/** A compact one-line description of any config value. @internal */
export const value = (u: unknown): string => {
  if (Duration.isDuration(u)) return Duration.format(u)
  if (Option.isOption(u)) return Option.isNone(u) ? "none" : value(u.value)
  if (Array.isArray(u)) return `[${u.map(value).join(", ")}]`
  if (typeof u === "string") return JSON.stringify(u)
  if (Predicate.isObject(u) && isPlainData(u)) {
    const record = u as Record<string, unknown>
    const name = typeof record["_tag"] === "string" ? record["_tag"] : u.constructor?.name ?? ""
    const fields = Object.keys(record)
      .filter((k) => k !== "_tag")
      .map((k) => `${k}: ${value(record[k])}`)
    return `${name === "Object" ? "" : name}(${fields.join(", ")})`
  }
  return String(u)
}

/** Plain JSON: durations as their formatted text, options as the value or `null`. @internal */
export const toJSON = (u: unknown): unknown => {
  if (Duration.isDuration(u)) return Duration.format(u)
  if (Option.isOption(u)) return Option.isNone(u) ? null : toJSON(u.value)
  if (Array.isArray(u)) return u.map(toJSON)
  if (typeof u === "number" && !Number.isFinite(u)) return String(u)
  if (Predicate.isObject(u) && isPlainData(u)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(u)) out[k] = toJSON(v)
    return out
  }
  return u
}

/** @internal */
export const retry = (r: RetrySettings): string => {
  const retries = r.maxRetries === 1 ? "1 retry" : `${r.maxRetries} retries`
  const backoff = `${r.jitter} jitter from ${Duration.format(r.base)} ×${r.factor} up to ${Duration.format(r.cap)}`
  const hint = r.honourRetryAfter ? `Retry-After honoured up to ${Duration.format(r.maxRetryAfter)}` : "Retry-After ignored"
  return `${retries}, ${backoff}, ${hint}`
}

const row = (label: string, text: string) => `  ${label.padEnd(16)}${text}`

/** @internal */
export const policy = (p: Policy): string =>
  [
    `Policy ${JSON.stringify(p.name)}`,
    row("retry", retry(p.retry)),
    row("budget", value(p.budget)),
    row("breaker", value(p.breaker)),
    row("concurrency", value(p.concurrency)),
    row("pacing", p.pacing ? "on" : "off"),
    row("attempt timeout", value(p.attemptTimeout)),
    row("deadline", value(p.deadline)),
    row(
      "fallback",
      p.fallback.length === 0
        ? "none"
        : p.fallback
          .map((s) => Option.match(s.retry, { onNone: () => s.key, onSome: (r) => `${s.key} (${retry(r)})` }))
          .join(" → ")
    )
  ].join("\n")
