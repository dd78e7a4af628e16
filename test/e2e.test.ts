/**
 * The end-to-end tests: the unmodified official SDK, inside `AnthropicClient`, against the
 * simulator, in process (on the Effect Clock) and over HTTP on 127.0.0.1.
 *
 * The suites live in `suites/` and are registered from this one test file on purpose: vitest runs
 * every test file in its own process, and loading effect, the SDK and @effect/platform-node costs
 * about 2 s per process, which would more than double the wall time of this folder.
 */
import * as ApiKey from "./suites/ApiKey.js"
import * as BatchCrash from "./suites/BatchCrash.js"
import * as BatchSubmitter from "./suites/BatchSubmitter.js"
import * as Deferred from "./suites/Deferred.js"
import * as Errors from "./suites/Errors.js"
import * as Interruption from "./suites/Interruption.js"
import * as Resilient from "./suites/Resilient.js"
import * as RetryTiming from "./suites/RetryTiming.js"
import * as Streams from "./suites/Streams.js"
import * as Transports from "./suites/Transports.js"

/** Every catalogue status, unknown statuses, raw bodies, resets and in-stream errors → the right tagged error. */
Errors.suite()
/** `Retry.retry` under TestClock and `Random.fixed`: exact attempt times, a 400 once, a deadline. */
RetryTiming.suite()
/** The same fault script gives the same outcome in process and over 127.0.0.1. */
Transports.suite()
/** Interrupting a call or a stream consumer aborts its request, on both transports. */
Interruption.suite()
/** The API key never appears in an error's renderings or in a log line. */
ApiKey.suite()
/** `ResilientClient.layer(policy)`: fallback routes, open circuits skipped, pacing, budgets, limits, presets. */
Resilient.suite()
/** Resilient streams: every stream fault × strategy gives the reply exactly once (or a typed partial failure). */
Streams.suite()
/** BatchSubmitter over the simulator's Message Batches: chunking at the limits, resubmission, resume, 10,000 requests. */
BatchSubmitter.suite()
/** The file journal; a child process submitting over 127.0.0.1 is killed with SIGKILL mid-run and restarted. */
BatchCrash.suite()
/** Deferrable calls (`DeferredClient.layer(Presets.batch)`): windows by size and time, one batch each, typed errors, interruption. */
Deferred.suite()
