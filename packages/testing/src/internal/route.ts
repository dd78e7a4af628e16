/**
 * Routing and minimal request validation.
 *
 * @internal
 */
import type * as Fault from "../Fault.js"

/** @internal Split `https://host/v1/x?y` or `/v1/x?y` into path and query. */
export const parseTarget = (url: string): { readonly path: string; readonly query: string } => {
  let start = 0
  const scheme = url.indexOf("://")
  if (scheme !== -1) {
    start = url.indexOf("/", scheme + 3)
    if (start === -1) return { path: "/", query: "" }
  }
  const q = url.indexOf("?", start)
  let path = q === -1 ? url.slice(start) : url.slice(start, q)
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) path = path.slice(0, -1)
  return { path, query: q === -1 ? "" : url.slice(q + 1) }
}

/** @internal */
export interface Route {
  readonly endpoint: Fault.Endpoint
  readonly modelId: string | undefined
}

/** @internal */
export const routeOf = (method: string, path: string): Route => {
  if (path === "/v1/messages/batches" || path.startsWith("/v1/messages/batches/")) {
    return { endpoint: "batches", modelId: undefined }
  }
  if (method === "POST") {
    if (path === "/v1/messages") return { endpoint: "messages", modelId: undefined }
    if (path === "/v1/messages/count_tokens") return { endpoint: "count_tokens", modelId: undefined }
  } else if (method === "GET") {
    if (path === "/v1/models") return { endpoint: "models", modelId: undefined }
    if (path.startsWith("/v1/models/") && path.indexOf("/", 11) === -1) {
      let id = path.slice(11)
      try {
        id = decodeURIComponent(id)
      } catch {
        // keep the raw segment
      }
      return { endpoint: "models", modelId: id }
    }
  }
  return { endpoint: "unknown", modelId: undefined }
}

/** The first problem with a request body, as the API words it. @internal */
export const validate = (endpoint: "messages" | "count_tokens", body: unknown): string | undefined => {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "Request body must be a JSON object."
  const b = body as Record<string, unknown>
  if (typeof b.model !== "string") return "model: Field required"
  if (endpoint === "messages") {
    const max = b.max_tokens
    if (typeof max !== "number") return "max_tokens: Field required"
    if (!Number.isInteger(max) || max < 1) return "max_tokens: Input should be greater than or equal to 1"
  }
  if (!Array.isArray(b.messages)) return "messages: Field required"
  if (b.messages.length === 0) return "messages: at least one message is required"
  return undefined
}
