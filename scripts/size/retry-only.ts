/**
 * The smallest real use of @ballast/core: a retry schedule around an effect, imported from the
 * package entry. Bundled by `pnpm size`; it must not pull in the simulator, the SDK or the policy
 * engine (the package is `sideEffects: false`, so unused modules of the entry drop out).
 */
import { Retry } from "@ballast/core"
import { Data, Effect } from "effect"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly attempt: number }> {}

let attempt = 0
const call = Effect.suspend(() => {
  attempt += 1
  return attempt < 3 ? Effect.fail(new Unavailable({ attempt })) : Effect.succeed(`ok after ${attempt} attempts`)
})

const policy = Retry.schedule<Unavailable>({ base: "10 millis", maxRetries: 5, jitter: "full" })

Effect.runPromise(call.pipe(Effect.retry(policy))).then(console.log)
