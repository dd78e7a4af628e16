/**
 * `pnpm size`: minified esbuild bundles (ESM, platform node) of two programs, against the built
 * packages exactly as published (`@ballast/*` resolve to `dist/` through the `publishConfig` exports):
 *
 * - `scripts/size/retry-only.ts`: a retry schedule from `@ballast/core`. Fails if the bundle contains
 *   the simulator (`@ballast/testing`), the SDK, `@ballast/anthropic` or `@effect/platform`.
 * - `examples/quickstart/main.ts`: the demo (SDK + client + retry + loopback simulator).
 *
 * Prints bytes (minified and gzipped) and the share of each package in each bundle.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { build, root } from "./lib/packages.js"

const packages = await build()
const byName = new Map(packages.map((p) => [p.manifest.name, p]))

/** `@ballast/<pkg>[/<Module>]` → that package's `dist/<Module>.js`, as the published exports map does. */
const published: esbuild.Plugin = {
  name: "ballast-published",
  setup(b) {
    b.onResolve({ filter: /^@ballast\/[^/]+(\/.*)?$/ }, (args) => {
      const [scope, name, ...rest] = args.path.split("/")
      const pkg = byName.get(`${scope}/${name}`)
      if (pkg === undefined) return undefined
      const module = rest.length === 0 ? "index" : rest.join("/")
      // a plugin-resolved file gets no package.json lookup: pass on the manifest's own `sideEffects`
      const file = path.join(pkg.dir, "dist", `${module}.js`)
      return pkg.manifest.sideEffects === false ? { path: file, sideEffects: false } : { path: file }
    })
  }
}

/** The package an input file belongs to (`effect`, `@anthropic-ai/sdk`, `@ballast/core`, ...). */
const owner = (input: string): string => {
  const nm = input.lastIndexOf("node_modules/")
  if (nm >= 0) {
    const parts = input.slice(nm + "node_modules/".length).split("/")
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const pkg = packages.find((p) => path.resolve(root, input).startsWith(p.dir + path.sep))
  return pkg?.manifest.name ?? path.relative(root, path.resolve(root, input))
}

const measure = async (entry: string) => {
  const result = await esbuild.build({
    entryPoints: [path.join(root, entry)],
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [published]
  })
  const bytes = result.outputFiles[0]!.contents
  const output = Object.values(result.metafile.outputs)[0]!
  const shares = new Map<string, number>()
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    shares.set(owner(input), (shares.get(owner(input)) ?? 0) + bytesInOutput)
  }
  const inputs = Object.entries(output.inputs)
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .map(([input]) => path.resolve(root, input))
  return { entry, bytes: bytes.byteLength, gzip: zlib.gzipSync(bytes).byteLength, shares, inputs }
}

const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`

const results = [await measure("scripts/size/retry-only.ts"), await measure("examples/quickstart/main.ts")]
for (const r of results) {
  console.log(`${r.entry}: ${kB(r.bytes)} minified, ${kB(r.gzip)} gzipped`)
  for (const [name, n] of [...r.shares].sort((a, b) => b[1] - a[1]).filter(([, n]) => n > 0)) {
    console.log(`  ${name.padEnd(32)} ${kB(n).padStart(9)}`)
  }
}

/** `file` and every module it imports by relative path, transitively (the built JavaScript). */
const closure = (file: string, seen = new Set<string>()): Set<string> => {
  if (seen.has(file)) return seen
  seen.add(file)
  for (const [, spec] of fs.readFileSync(file, "utf8").matchAll(/(?:from|import)\s*"(\.{1,2}\/[^"]+)"/g)) {
    closure(path.resolve(path.dirname(file), spec!), seen)
  }
  return seen
}

const [retryOnly] = results
const forbidden = ["@ballast/testing", "@ballast/anthropic", "@anthropic-ai/sdk", "@effect/platform"]
const leaked = [...retryOnly!.shares.keys()].filter((name) => forbidden.includes(name))
const coreDist = path.join(byName.get("@ballast/core")!.dir, "dist")
const allowed = closure(path.join(coreDist, "Retry.js"))
const extra = retryOnly!.inputs.filter((f) => f.startsWith(coreDist + path.sep) && !allowed.has(f))
if (leaked.length > 0 || extra.length > 0) {
  console.error(
    `retry-only bundle pulls in ${[...leaked, ...extra.map((f) => path.relative(root, f))].join(", ")}` +
      ` (only @ballast/core/Retry and what it imports should be there)`
  )
  process.exit(1)
}
console.log(`retry-only: no simulator, SDK, @ballast/anthropic or other @ballast/core modules (${allowed.size} core files)`)
