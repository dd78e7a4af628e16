/**
 * The SSE body of a streaming answer, with stream faults and timing.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Catalogue from "../Catalogue.js"
import type * as Fault from "../Fault.js"
import * as Messages from "./messages.js"

/** @internal */
export class ConnectionDropped extends Data.TaggedError("ConnectionDropped")<{}> {}

/**
 * The events of one stream. `interval` ms separate consecutive events; `onEnd` runs once
 * when the stream ends, is interrupted or fails, with whether the server finished it
 * (a drop counts as finished by the server; an interruption does not).
 *
 * @internal
 */
export const make = (
  frames: Messages.StreamFrames,
  fault: Fault.StreamError | Fault.StreamDrop | Fault.StreamStall | undefined,
  interval: number,
  onEnd: (completed: boolean) => void,
  sleep: (millis: number) => Effect.Effect<void> = Effect.sleep
): Stream.Stream<string, ConnectionDropped> => {
  let completed = false
  const done = Stream.execute(Effect.sync(() => {
    completed = true
  }))
  let seq: Array<string>
  let tail: Stream.Stream<string, ConnectionDropped>
  if (fault === undefined) {
    seq = [frames.start, ...frames.blockStart, ...frames.deltas, ...frames.end]
    tail = done
  } else {
    const at = fault.afterDeltas
    seq = at === "before_message_start"
      ? []
      : at === 0
      ? [frames.start]
      : [frames.start, ...frames.blockStart, ...frames.deltas.slice(0, at)]
    switch (fault._tag) {
      case "StreamError": {
        const type = fault.errorType ?? "overloaded_error"
        const message = fault.message ?? Option.match(Catalogue.byType(type), {
          onNone: () => "Internal server error.",
          onSome: (e) => e.message
        })
        seq.push(Messages.frame("error", JSON.stringify({ type: "error", error: { type, message } })))
        tail = done
        break
      }
      case "StreamDrop": {
        if (fault.truncate === true) {
          // Half of the frame that would come next, then a clean end of the body.
          const rest = [...frames.blockStart, ...frames.deltas, ...frames.end]
          const next = at === "before_message_start" ? frames.start : rest[at === 0 ? 0 : frames.blockStart.length + at]
          const half = next === undefined ? "" : next.slice(0, Math.ceil(next.length / 2))
          tail = Stream.concat(half.length > 0 ? Stream.succeed(half) : Stream.empty, done)
          break
        }
        tail = Stream.suspend(() => {
          completed = true
          return Stream.fail(new ConnectionDropped())
        })
        break
      }
      case "StreamStall": {
        const every = fault.pingEvery
        tail = every === undefined || every <= 0
          ? Stream.never
          : Stream.repeatEffect(Effect.as(sleep(every), Messages.pingFrame))
        break
      }
    }
  }
  const body: Stream.Stream<string> = interval <= 0 || seq.length <= 1
    ? Stream.fromIterable(seq)
    : Stream.concat(
      Stream.succeed(seq[0]!),
      Stream.mapEffect(Stream.fromIterable(seq.slice(1)), (f) => Effect.as(sleep(interval), f))
    )
  let ended = false
  return Stream.concat(body, tail).pipe(
    Stream.ensuring(Effect.sync(() => {
      if (ended) return
      ended = true
      onEnd(completed)
    }))
  )
}
