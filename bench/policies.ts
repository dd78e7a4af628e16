/**
 * The policies the storm compares, all from `@ballast/anthropic`, each applied with
 * `ResilientClient.layer(policy)` over the plain SDK client.
 */
import * as Presets from "@ballast/anthropic/Presets"
import * as ResilientClient from "@ballast/anthropic/ResilientClient"
import * as Policy from "@ballast/core/Policy"
import { Layer } from "effect"
import type { PolicyUnderTest } from "./storm.js"

/** The SDK's defaults with 10 retries instead of 2 (the "retry harder" reflex). */
export const sdkCompatibleRetries10: Policy.Policy = Presets.sdkCompatible.pipe(
  Policy.withRetry({ maxRetries: 10 }),
  Policy.named("sdkCompatibleRetries10")
)

/** Capped exponential backoff without jitter, 10 retries: the classic synchronized storm. */
export const exponentialNoJitter: Policy.Policy = Policy.make({
  name: "exponentialNoJitter",
  retry: { maxRetries: 10, base: "500 millis", factor: 2, cap: "8 seconds", jitter: "none" }
})

const under = (policy: Policy.Policy, description: string): PolicyUnderTest => ({
  name: policy.name,
  description,
  apply: (base) => ResilientClient.layer(policy).pipe(Layer.provide(base))
})

export const all: ReadonlyArray<PolicyUnderTest> = [
  under(Presets.sdkCompatible, "`Presets.sdkCompatible`: the SDK 1.14 defaults (2 retries, 0.5·2ⁿ s ≤ 8 s, −≤25 % jitter)"),
  under(sdkCompatibleRetries10, "`sdkCompatible` with `Policy.withRetry({ maxRetries: 10 })`"),
  under(exponentialNoJitter, "`Policy.make`: 10 retries, 0.5·2ⁿ s ≤ 8 s, `jitter: \"none\"`"),
  under(Presets.background, "`Presets.background`"),
  under(Presets.interactive, "`Presets.interactive`")
]
