import { Option } from "effect"

/** @internal The part of the fetch `Headers` interface that ballast reads. */
export interface HeadersLike {
  get(name: string): string | null
}

/** @internal */
export const header = (headers: HeadersLike | null | undefined, name: string): Option.Option<string> => {
  if (headers == null) return Option.none()
  try {
    return Option.fromNullable(headers.get(name))
  } catch {
    return Option.none()
  }
}

/** @internal `x-should-retry: true | false`, as the SDK reads it. Anything else is `None`. */
export const shouldRetry = (headers: HeadersLike | null | undefined): Option.Option<boolean> =>
  Option.flatMap(header(headers, "x-should-retry"), (value) => {
    const normalized = value.trim().toLowerCase()
    return normalized === "true"
      ? Option.some(true)
      : normalized === "false"
      ? Option.some(false)
      : Option.none()
  })
