/**
 * The storm's report: a markdown table and a hand-written SVG chart of goodput over time.
 */
import type { Result, Scenario } from "./storm.js"

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "∞")
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`

/** The scenario, as printed above the table. */
export const scenarioText = (s: Scenario): string =>
  [
    `C = ${s.capacity} concurrent requests on \`${s.model}\` (each of ${
      s.otherModels.map((m) => `\`${m}\``).join(", ")
    } has its own ${s.capacity}), service time L = ${seconds(s.latencyMs)} per successful request ` +
    `(capacity C/L = ${fmt(s.capacity / (s.latencyMs / 1000))} req/s).`,
    `Demand: Poisson arrivals at ${s.overloadFactor}×C/L for ${minutes(s.overloadMs)}, then ${s.drainFactor}×C/L ` +
    `until every request of the overload has finished (at most ${minutes(s.maxDrainMs)} more).`,
    `Each 529 holds ${s.rejectionShare} of a slot for ${seconds(s.rejectionMs)} ` +
    `(a rejection costs 1/${Math.round(s.latencyMs / (s.rejectionShare * s.rejectionMs))} of a served request). ` +
    `Seed ${s.seed}; one fresh simulator per policy; the real SDK over the in-process transport.`,
    "Simulated time runs on a discrete-event Clock (bench/simClock.ts: whole milliseconds, next due sleep once " +
    "every fiber waits; its call log equals TestClock's in bench/simClock.test.ts) because TestClock polls " +
    "setTimeout(0) several times per wake-up and a storm has tens of thousands of them."
  ].join("\n")

/** The markdown table of the storm. */
export const table = (results: ReadonlyArray<Result>): string =>
  [
    "| policy | goodput / C (overload) | of which requested model | attempts / success | given up | p50 ms | p99 ms | drain | requests | errors |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...results.map((r) =>
      `| ${r.name} | ${fmt(r.goodputFraction, 3)} | ${fmt(r.detail.goodputPrimaryFraction, 3)} | ${
        fmt(r.attemptsPerSuccess)
      } | ${r.givenUp} | ${r.p50Ms} | ${r.p99Ms} | ${r.detail.drained ? seconds(r.drainMs) : `not drained in ${seconds(r.drainMs)}`} | ${r.detail.requests} | ${
        Object.entries(r.detail.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "—"
      } |`
    )
  ].join("\n")

/** Where each policy's successes came from, and what it cost the machine to simulate. */
export const detailTable = (results: ReadonlyArray<Result>): string =>
  [
    "| policy | successes by model | attempts by model | 529s | simulated end | clock steps | wall | CPU |",
    "|---|---|---|---|---|---|---|---|",
    ...results.map((r) => {
      const d = r.detail
      const list = (o: Readonly<Record<string, number>>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(", ")
      return `| ${r.name} | ${list(d.successesByModel)} | ${list(d.attemptsByModel)} | ${d.overloaded529} | ${
        minutes(d.endMs)
      } | ${d.clockSteps} | ${seconds(d.wallMs)} | ${seconds(d.cpuMs)} |`
    })
  ].join("\n")

const palette = ["#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#1f77b4", "#8c564b", "#e377c2"]

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A line chart of goodput (fraction of C, per bucket) over simulated time, one line per policy. */
export const svg = (results: ReadonlyArray<Result>, s: Scenario): string => {
  const width = 960
  const height = 420
  const m = { left: 60, right: 200, top: 40, bottom: 50 }
  const w = width - m.left - m.right
  const h = height - m.top - m.bottom
  const maxMinutes = Math.max(...results.map((r) => (r.detail.series.length * s.bucketMs) / 60_000), s.overloadMs / 60_000 + 1)
  const maxY = Math.max(1.2, Math.ceil(Math.max(...results.flatMap((r) => r.detail.series)) * 5) / 5)
  const x = (min: number) => m.left + (min / maxMinutes) * w
  const y = (v: number) => m.top + h - (v / maxY) * h
  const out: Array<string> = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.left}" y="20" font-size="14" font-weight="bold">Goodput over time (successes per ${
      s.bucketMs / 1000
    } s bucket × L / C)</text>`
  )
  // grid and axes
  const yStep = maxY > 2 ? 0.5 : 0.2
  for (let v = 0; v <= maxY + 1e-9; v += yStep) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${m.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`
    )
  }
  const xStep = maxMinutes > 40 ? 10 : 5
  for (let t = 0; t <= maxMinutes + 1e-9; t += xStep) {
    out.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${m.top}" y2="${m.top + h}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${m.top + h + 18}" text-anchor="middle">${t}</text>`
    )
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left + w}" y1="${y(1)}" y2="${y(1)}" stroke="#444" stroke-dasharray="4 4"/>`,
    `<text x="${m.left + w - 4}" y="${y(1) - 4}" text-anchor="end" fill="#444">C</text>`,
    `<line x1="${x(s.overloadMs / 60_000)}" x2="${x(s.overloadMs / 60_000)}" y1="${m.top}" y2="${
      m.top + h
    }" stroke="#444" stroke-dasharray="2 3"/>`,
    `<text x="${x(s.overloadMs / 60_000) + 4}" y="${m.top + 12}" fill="#444">overload ends</text>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#000"/>`,
    `<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#000"/>`,
    `<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle">simulated minutes</text>`,
    `<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">goodput / C</text>`
  )
  results.forEach((r, i) => {
    const color = palette[i % palette.length]!
    const points = r.detail.series
      .map((v, b) => `${x(((b + 0.5) * s.bucketMs) / 60_000).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ")
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`,
      `<line x1="${m.left + w + 16}" x2="${m.left + w + 36}" y1="${m.top + 10 + i * 20}" y2="${
        m.top + 10 + i * 20
      }" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.left + w + 42}" y="${m.top + 14 + i * 20}">${escape(r.name)}</text>`
    )
  })
  out.push("</svg>")
  return out.join("\n") + "\n"
}
