/**
 * The published packages of the workspace and the steps that turn them into tarballs: build
 * (`tsc -b` of each `tsconfig.build.json` into `dist/`) and pack (`pnpm pack`, which applies
 * `publishConfig` and replaces `catalog:` / `workspace:` ranges).
 *
 * Every package under `packages/` that is not `"private": true` (and has `src/index.ts` and a
 * `tsconfig.build.json`) is published; its public modules are the top-level `src/*.ts` files that its
 * `exports` map does not set to `null`.
 */
import { type ChildProcess, execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The pinned package manager, run the way the README tells users to run it. */
export const pnpm = ["npx", "-y", "pnpm@12.4.2"] as const

export interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly sideEffects?: boolean | ReadonlyArray<string>
  readonly exports?: Record<string, unknown>
  readonly bin?: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>
  readonly publishConfig?: {
    readonly exports?: Record<string, unknown>
    readonly bin?: Record<string, string>
  }
}

export interface Package {
  readonly dir: string
  readonly manifest: Manifest
  /** Module names (`Retry`, `AnthropicClient`, ...) reachable as `<name>/<Module>` once published. */
  readonly modules: ReadonlyArray<string>
}

const run = promisify(execFile)
const running = new Set<ChildProcess>()

/** Stops the commands `exec` started that are still running (for a script stopped by a signal). */
export const stopCommands = (): void => {
  for (const child of running) child.kill("SIGTERM")
}

/** Runs a command, failing with its output when it exits non-zero. */
export const exec = async (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}
): Promise<string> => {
  const pending = run(command, args, {
    cwd: options.cwd ?? root,
    env: options.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024
  })
  running.add(pending.child)
  try {
    const { stdout, stderr } = await pending
    return stdout + stderr
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(
      `${command} ${args.join(" ")} (in ${options.cwd ?? root}) failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`,
      { cause: error }
    )
  } finally {
    running.delete(pending.child)
  }
}

const readJson = <A>(file: string): A => JSON.parse(fs.readFileSync(file, "utf8")) as A

/** Subpaths a package closes with `null` (`./internal/*`, `./bin`, ...), as module-name tests. */
const closed = (exports: Record<string, unknown> | undefined): (name: string) => boolean => {
  const patterns = Object.entries(exports ?? {})
    .filter(([, target]) => target === null)
    .map(([key]) => new RegExp(`^${key.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace("*", ".*")}$`))
  return (name) => patterns.some((p) => p.test(`./${name}`))
}

export const publicPackages = (): ReadonlyArray<Package> =>
  fs.readdirSync(path.join(root, "packages"))
    .map((name) => path.join(root, "packages", name))
    .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
    .map((dir) => ({ dir, manifest: readJson<Manifest>(path.join(dir, "package.json")) }))
    .filter(({ manifest }) => manifest.private !== true)
    .filter(({ dir, manifest }) => {
      // a package being set up (manifest committed before its sources) is not publishable yet
      const ready = fs.existsSync(path.join(dir, "src/index.ts")) && fs.existsSync(path.join(dir, "tsconfig.build.json"))
      if (!ready) console.warn(`skipping ${manifest.name}: no src/index.ts or tsconfig.build.json yet`)
      return ready
    })
    .map(({ dir, manifest }) => {
      const isClosed = closed(manifest.publishConfig?.exports ?? manifest.exports)
      const modules = fs.readdirSync(path.join(dir, "src"))
        .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
        .map((file) => file.slice(0, -3))
        .filter((name) => name !== "index" && !isClosed(name))
        .sort()
      return { dir, manifest, modules }
    })

const walk = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)]
    )
    : []

/** What `tsc` emits for one source file, relative to `dist/`. */
const outputsOf = (source: string): ReadonlyArray<string> => {
  const base = source.slice(0, -3)
  return [`${base}.js`, `${base}.js.map`, `${base}.d.ts`, `${base}.d.ts.map`]
}

/**
 * Builds every published package into its `dist/` (incremental `tsc -b`), removes outputs whose
 * source is gone, gives bin scripts a `node` shebang, and checks that every public module has its
 * JavaScript and declaration file.
 */
export const build = async (): Promise<ReadonlyArray<Package>> => {
  const packages = publicPackages()
  await exec(path.join(root, "node_modules/.bin/tsc"), [
    "-b",
    ...packages.map((p) => path.join(p.dir, "tsconfig.build.json"))
  ])
  for (const p of packages) {
    const dist = path.join(p.dir, "dist")
    const expected = new Set(
      walk(path.join(p.dir, "src"))
        .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
        .flatMap((file) => outputsOf(path.relative(path.join(p.dir, "src"), file)))
    )
    for (const file of walk(dist)) {
      const rel = path.relative(dist, file)
      if (!expected.has(rel) && !rel.endsWith(".tsbuildinfo")) fs.rmSync(file)
    }
    for (const target of Object.values(p.manifest.publishConfig?.bin ?? {})) {
      const file = path.join(p.dir, target)
      const text = fs.readFileSync(file, "utf8")
      const body = text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text
      fs.writeFileSync(file, `#!/usr/bin/env node\n${body}`)
      fs.chmodSync(file, 0o755)
    }
    const missing = ["index", ...p.modules].flatMap((m) =>
      [`${m}.js`, `${m}.d.ts`].filter((f) => !fs.existsSync(path.join(dist, f)))
    )
    if (missing.length > 0) throw new Error(`${p.manifest.name}: build did not produce ${missing.join(", ")}`)
  }
  return packages
}

export interface Tarball {
  readonly name: string
  readonly file: string
  readonly pkg: Package
}

/** Builds, then packs every published package into `destination` with the pinned pnpm. */
export const pack = async (destination: string): Promise<ReadonlyArray<Tarball>> => {
  const packages = await build()
  fs.mkdirSync(destination, { recursive: true })
  const tarballs: Array<Tarball> = []
  for (const pkg of packages) {
    const before = new Set(fs.readdirSync(destination))
    await exec(pnpm[0], [...pnpm.slice(1), "pack", "--pack-destination", destination], { cwd: pkg.dir })
    const created = fs.readdirSync(destination).filter((f) => f.endsWith(".tgz") && !before.has(f))
    const expected = `${pkg.manifest.name.replace("@", "").replace("/", "-")}-${pkg.manifest.version}.tgz`
    if (!created.includes(expected) && !fs.existsSync(path.join(destination, expected))) {
      throw new Error(`pnpm pack of ${pkg.manifest.name} did not write ${expected}`)
    }
    tarballs.push({ name: pkg.manifest.name, file: path.join(destination, expected), pkg })
  }
  return tarballs
}
