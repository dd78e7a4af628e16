/**
 * Runs a bench entry against ballast as users run it: the packages compiled by `tsc` from their
 * `tsconfig.build.json` into `dist/`, loaded by a plain `node` child process.
 *
 * Why not in this process: `pnpm bench` runs under tsx, whose esbuild transform keeps function names
 * by wrapping every function expression in a `__name(fn, "name")` call. A closure created per call
 * (most of an Effect pipeline) then costs a call and a `defineProperty` more each time, which
 * inflates a wrapper's per-call cost severalfold, while a published package such as cockatiel runs as
 * plain JavaScript. Figures of a wrapper's overhead are taken here instead.
 *
 * Steps: `tsc -b` of `@ballast/core` and `@ballast/anthropic` into `dist/` (incremental: a no-op when
 * up to date, so `pnpm bench` needs no manual build step); esbuild bundles the entry (without
 * `keepNames`) into `node_modules/.cache/ballast-bench/`, with `@ballast/core/*` left as imports of
 * `packages/core/dist/*.js` (what the published package resolves to) and `@ballast/anthropic/*` taken
 * from `packages/anthropic/dist/` (bundled only so that its own `@ballast/core` imports reach the same
 * `dist/`); every other package stays an import; `node` (no loader: `execArgv: []`) runs the bundle,
 * which sends one result over IPC.
 */
import { execFile, fork } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { promisify } from "node:util"
import * as esbuild from "esbuild"

const root = path.resolve(import.meta.dirname, "..")
const outDir = path.join(root, "node_modules", ".cache", "ballast-bench")
const run = promisify(execFile)

/** The published packages an entry may import, built in this order by `tsc -b`. */
const packages = ["core", "anthropic"] as const

/** `tsc -b` of each package's `tsconfig.build.json`; returns the wall time in ms. */
export const buildPackages = async (): Promise<number> => {
  const start = performance.now()
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  try {
    await run(process.execPath, [
      tsc,
      "-b",
      ...packages.map((p) => path.join(root, "packages", p, "tsconfig.build.json"))
    ], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`tsc -b (packages to dist/) failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`, { cause: error })
  }
  return performance.now() - start
}

const distFile = (pkg: string, subpath: string): string => {
  const file = path.join(root, "packages", pkg, "dist", `${subpath === "" ? "index" : subpath}.js`)
  if (!fs.existsSync(file)) throw new Error(`${file} missing: did the build of @ballast/${pkg} run?`)
  return file
}

/** Resolves `@ballast/<pkg>[/<Module>]` to `dist/`; leaves every other package to node. */
const ballastFromDist: esbuild.Plugin = {
  name: "ballast-from-dist",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const m = /^@ballast\/(core|anthropic)(?:\/(.+))?$/.exec(args.path)
      if (m === null) return { path: args.path, external: true }
      const file = distFile(m[1]!, m[2] ?? "")
      // core: a plain import of the built file, as a user's code would load it (one module instance)
      if (m[1] === "core") return { path: `./${path.relative(outDir, file).split(path.sep).join("/")}`, external: true }
      return { path: file }
    })
  }
}

/** Bundles `entry` (a path relative to bench/) for `node`; returns the bundle's path. */
export const bundle = async (entry: string): Promise<string> => {
  const outfile = path.join(outDir, `${path.basename(entry, ".ts")}.mjs`)
  await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "es2022", // as tsconfig.base.json
    keepNames: false,
    sourcemap: false,
    logLevel: "warning",
    plugins: [ballastFromDist]
  })
  return outfile
}

/**
 * Builds the packages, bundles `entry` and runs it in a child `node` process; resolves with the one
 * message the child sends over IPC.
 */
export const runCompiled = async <A>(entry: string): Promise<{ readonly result: A; readonly buildMs: number }> => {
  const buildMs = await buildPackages()
  const file = await bundle(entry)
  const env = { ...process.env }
  delete env["NODE_OPTIONS"] // a loader there (tsx) would transform dist/ again
  const result = await new Promise<A>((resolve, reject) => {
    let message: { value: A } | undefined
    const child = fork(file, [], { execArgv: [], env, stdio: ["ignore", "inherit", "inherit", "ipc"] })
    child.on("message", (m) => {
      message = { value: m as A }
    })
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0 && message !== undefined
        ? resolve(message.value)
        : reject(new Error(`${entry}: node ${file} exited with ${code}`)))
  })
  return { result, buildMs }
}
