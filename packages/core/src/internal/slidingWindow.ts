/**
 * Two counters over a sliding window of time, kept in a ring of buckets.
 *
 * The window is cut into `buckets` buckets of `window / buckets` milliseconds each, aligned to the
 * epoch. An event counts from the moment it is added until the bucket it fell into leaves the window,
 * that is for between `window − width` and `window` (the full window for events at a bucket's start).
 * Each call costs O(1) amortised: moving to a later bucket clears the buckets passed over, at most
 * `buckets` of them however long the window sat idle.
 *
 * A window shorter than 1 ms is taken as 1 ms.
 *
 * Not synchronised: callers touch it only inside one synchronous block (an `Effect.sync`), which no
 * other fiber can interleave with.
 *
 * @internal
 */
export class SlidingWindow {
  /** Default number of buckets per window. */
  static readonly defaultBuckets = 10

  readonly width: number
  private readonly a: Float64Array
  private readonly b: Float64Array
  private index = -Infinity
  /** Sum of the first counter over the window (as of the last `advance`). */
  sumA = 0
  /** Sum of the second counter over the window (as of the last `advance`). */
  sumB = 0

  constructor(readonly windowMillis: number, readonly buckets: number = SlidingWindow.defaultBuckets) {
    this.width = Math.max(windowMillis, 1) / buckets
    this.a = new Float64Array(buckets)
    this.b = new Float64Array(buckets)
  }

  /** Moves the window so that it ends at `now`, dropping the buckets that left it. */
  advance(now: number): void {
    const next = Math.floor(now / this.width)
    if (next <= this.index) return
    const n = this.buckets
    if (next - this.index >= n) {
      this.a.fill(0)
      this.b.fill(0)
      this.sumA = 0
      this.sumB = 0
    } else {
      for (let i = this.index + 1; i <= next; i++) {
        const slot = i % n
        this.sumA -= this.a[slot]!
        this.sumB -= this.b[slot]!
        this.a[slot] = 0
        this.b[slot] = 0
      }
    }
    this.index = next
  }

  /** Adds to the counters of the current bucket (call `advance` first). */
  add(a: number, b: number): void {
    const slot = ((this.index % this.buckets) + this.buckets) % this.buckets
    this.a[slot]! += a
    this.b[slot]! += b
    this.sumA += a
    this.sumB += b
  }

  /** Empties the window. */
  clear(): void {
    this.a.fill(0)
    this.b.fill(0)
    this.sumA = 0
    this.sumB = 0
  }
}
