/**
 * The published form, end to end: every package is built and packed (`pnpm pack`, which applies
 * `publishConfig`), the tarballs are installed into a fresh project outside the workspace together
 * with only the peer dependencies they declare (at the versions the workspace pins), and a program
 * there is type-checked with `tsc` and run with `node`: a `messages.create` through `Retry.retry`
 * against the loopback simulator, plus an import of every public module subpath.
 *
 * The scratch project's packages live outside its `node_modules` (`virtualStoreDir`) and nothing is
 * hoisted, so a package can only load what it declares: a missing export, declaration file or
 * dependency declaration fails here. The imports of the published files are also checked against
 * their declared dependencies, and a retry-only program is bundled from the installed packages to
 * check that it does not pull in the SDK, the simulator or unrelated modules.
 *
 * Slow (a pack, an install, a type check): about 30–60 s on 2 cores.
 */
import { assert, describe, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import ts from "typescript"
import { afterAll, beforeAll } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const run = promisify(execFile)

/** Runs a command; its stdout, or an error with both streams. */
const exec = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  // the outer `pnpm test` describes its own package to children; the scratch project is not it
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) =>
      !k.startsWith("npm_package_") && !k.startsWith("npm_lifecycle_") && k !== "PNPM_PACKAGE_NAME" &&
      k !== "pnpm_config_verify_deps_before_run"
    )
  )
  try {
    const { stdout } = await run(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}${e.stderr ?? e.message}`, {
      cause: error
    })
  }
}

/** The exact versions of the workspace's default catalog (`pnpm-workspace.yaml`). */
const catalog = (): Map<string, string> => {
  const lines = fs.readFileSync(path.join(root, "pnpm-workspace.yaml"), "utf8").split("\n")
  const start = lines.findIndex((l) => /^catalog:\s*$/.test(l))
  const versions = new Map<string, string>()
  for (const line of lines.slice(start + 1)) {
    const match = /^\s+"?([^":\s]+)"?:\s*(\S+)\s*$/.exec(line)
    if (match === null) break
    versions.set(match[1]!, match[2]!)
  }
  return versions
}

interface Tarball {
  readonly name: string
  readonly file: string
}

interface Manifest {
  readonly name: string
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const walk = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]
  )

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
}

/** Module specifiers imported by a built file (static, dynamic and `import("...")` types; not comments). */
const importsOf = (text: string): Set<string> =>
  new Set(ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName))

/** `file` and the files it imports by relative path, transitively. */
const closure = (file: string, seen = new Set<string>()): Set<string> => {
  if (seen.has(file)) return seen
  seen.add(file)
  for (const [, spec] of fs.readFileSync(file, "utf8").matchAll(/(?:from|import)\s*"(\.{1,2}\/[^"]+)"/g)) {
    closure(path.resolve(path.dirname(file), spec!), seen)
  }
  return seen
}

/** The directories of the packages `scripts/pack.ts` publishes (same rule as `scripts/lib/packages.ts`). */
const publishedDirs = (): Array<string> =>
  fs.readdirSync(path.join(root, "packages"))
    .map((name) => path.join(root, "packages", name))
    .filter((dir) => {
      const file = path.join(dir, "package.json")
      return fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, "utf8")) as { private?: boolean }).private !== true &&
        fs.existsSync(path.join(dir, "src/index.ts")) && fs.existsSync(path.join(dir, "tsconfig.build.json"))
    })

const nameOf = (dir: string): string =>
  (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest).name

const publicModules = (dir: string): Array<string> => {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
    publishConfig?: { exports?: Record<string, unknown> }
  }
  const closedNames = Object.entries(manifest.publishConfig?.exports ?? {})
    .filter(([key, target]) => target === null && !key.includes("*"))
    .map(([key]) => key.slice(2))
  return fs.readdirSync(path.join(dir, "src"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .filter((m) => m !== "index" && !closedNames.includes(m))
}

const PROGRAM = `
import { AnthropicClient } from "@ballast/anthropic"
import { Retry } from "@ballast/core"
import { Fault, Server, Simulator } from "@ballast/testing"
import { Effect, Redacted } from "effect"
import { modules } from "./modules.js"

const program = Effect.gen(function*() {
  const server = yield* Server.start()
  const client = yield* AnthropicClient.make({ apiKey: Redacted.make("sk-ant-scratch"), baseURL: server.url })
  const retried: Array<string> = []
  const message = yield* client.messages.create({
    model: "claude-sonnet-5-5",
    max_tokens: 64,
    messages: [{ role: "user", content: "hello" }]
  }).pipe(
    Retry.retry({
      base: "10 millis",
      jitter: "none",
      maxRetries: 3,
      onRetry: (step) => Effect.sync(() => { retried.push(step.error._tag) })
    })
  )
  const calls = yield* Simulator.calls
  const text = message.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("")
  const emptyModules = Object.entries(modules).filter(([, m]) => Object.keys(m).length === 0).map(([k]) => k)
  console.log(JSON.stringify({ text, retried, calls: calls.length, modules: Object.keys(modules).length, emptyModules }))
}).pipe(Effect.scoped, Effect.provide(Simulator.layer({ script: [Fault.overloaded({ times: 2 })] })))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
`

const RETRY_ONLY = `
import { Retry } from "@ballast/core"
import { Data, Effect } from "effect"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
declare const call: Effect.Effect<string, Unavailable>

export const program = call.pipe(Effect.retry(Retry.schedule<Unavailable>({ maxRetries: 3 })))
`

describe("packaging", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ballast-packaging-"))
  const app = path.join(scratch, "app")
  let tarballs: ReadonlyArray<Tarball> = []
  const dirs = publishedDirs()
  const expectedModules = dirs.flatMap((dir) => publicModules(dir).map((m) => `${nameOf(dir)}/${m}`))

  beforeAll(async () => {
    const out = await exec(path.join(root, "node_modules/.bin/tsx"), [
      "scripts/pack.ts",
      path.join(scratch, "tarballs")
    ], root)
    tarballs = JSON.parse(out) as ReadonlyArray<Tarball>

    // The scratch project: the tarballs, the peers they declare at the pinned versions, tsc.
    const versions = catalog()
    const manifests = dirs.map((dir) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest)
    const peers = [...new Set(manifests.flatMap((m) => Object.keys(m.peerDependencies ?? {})))]
      .filter((name) => !name.startsWith("@ballast/"))
    const pinned = (name: string): string => {
      const version = versions.get(name)
      if (version === undefined) throw new Error(`no catalog version for peer ${name}`)
      return version
    }
    const file = (t: Tarball) => `file:${t.file}`
    fs.mkdirSync(app, { recursive: true })
    fs.writeFileSync(
      path.join(app, "package.json"),
      JSON.stringify({
        name: "ballast-packaging-scratch",
        private: true,
        type: "module",
        dependencies: {
          ...Object.fromEntries(tarballs.map((t) => [t.name, file(t)])),
          ...Object.fromEntries(peers.map((name) => [name, pinned(name)]))
        },
        devDependencies: { typescript: pinned("typescript"), "@types/node": pinned("@types/node") }
      }, null, 2)
    )
    fs.writeFileSync(
      path.join(app, "pnpm-workspace.yaml"),
      [
        "# the tarballs also answer the packages' dependencies on each other (never the registry)",
        "overrides:",
        ...tarballs.map((t) => `  "${t.name}": "${file(t)}"`),
        "# strict layout: packages outside node_modules, nothing hoisted; a package sees only what it declares",
        "virtualStoreDir: ../links",
        "hoist: false",
        "allowBuilds:",
        "  '@parcel/watcher': false",
        "  msgpackr-extract: false",
        ""
      ].join("\n")
    )
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022"],
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          // the declarations' own imports are checked file by file below; skipping their bodies halves tsc
          skipLibCheck: true,
          outDir: "out",
          rootDir: "."
        },
        files: ["main.ts", "modules.ts", "retry-only.ts"]
      }, null, 2)
    )
    fs.writeFileSync(path.join(app, "main.ts"), PROGRAM)
    fs.writeFileSync(path.join(app, "retry-only.ts"), RETRY_ONLY)
    fs.writeFileSync(
      path.join(app, "modules.ts"),
      expectedModules.map((m, i) => `import * as m${i} from "${m}"`).join("\n") +
        `\nexport const modules: Record<string, object> = {\n` +
        expectedModules.map((m, i) => `  "${m}": m${i}`).join(",\n") + "\n}\n"
    )
    await exec("npx", ["-y", "pnpm@12.4.2", "install", "--no-frozen-lockfile", "--prefer-offline"], app)
  }, 300_000)

  afterAll(() => {
    fs.rmSync(scratch, { recursive: true, force: true })
  })

  it("packs every published package", () => {
    const names = tarballs.map((t) => t.name).sort()
    assert.deepStrictEqual(names, dirs.map(nameOf).sort())
    for (const name of ["@ballast/anthropic", "@ballast/core", "@ballast/testing"]) assert.include(names, name)
    for (const t of tarballs) assert.isTrue(fs.statSync(t.file).size > 0, t.file)
  })

  it("type-checks against the published declarations and runs a resilient call against the loopback simulator", async () => {
    await exec(path.join(app, "node_modules/.bin/tsc"), ["-p", "."], app)
    const out = await exec(process.execPath, ["out/main.js"], app)
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>
    assert.deepStrictEqual(result, {
      text: "Simulated reply to: hello",
      retried: ["Overloaded", "Overloaded"],
      calls: 3,
      modules: expectedModules.length,
      emptyModules: []
    })
  }, 180_000)

  it("every import of a published file is in the tarball or a declared dependency or peer", () => {
    const problems: Array<string> = []
    for (const t of tarballs) {
      const dir = fs.realpathSync(path.join(app, "node_modules", t.name))
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest
      const declared = new Set([
        manifest.name,
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {})
      ])
      for (const file of walk(path.join(dir, "dist")).filter((f) => /\.(js|d\.ts)$/.test(f))) {
        for (const specifier of importsOf(fs.readFileSync(file, "utf8"))) {
          if (specifier.startsWith(".")) {
            // a relative import must land in the tarball: `./x.js` is `x.js` for JavaScript, `x.d.ts` for types
            const target = path.resolve(path.dirname(file), specifier)
            const wanted = file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target
            if (!fs.existsSync(wanted)) problems.push(`${t.name}: ${path.relative(dir, file)} imports missing "${specifier}"`)
            continue
          }
          const name = packageOf(specifier)
          if (specifier.startsWith("node:") || builtinModules.includes(name) || declared.has(name)) continue
          problems.push(`${t.name}: ${path.relative(dir, file)} imports "${specifier}" but does not declare ${name}`)
        }
      }
    }
    assert.deepStrictEqual(problems, [])
  })

  it("a retry-only program bundles without the SDK, the simulator or unrelated core modules", async () => {
    const result = await esbuild.build({
      entryPoints: [path.join(app, "retry-only.ts")],
      absWorkingDir: app,
      bundle: true,
      minify: true,
      format: "esm",
      platform: "node",
      write: false,
      metafile: true,
      logLevel: "silent"
    })
    const inputs = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([input]) => fs.realpathSync(path.resolve(app, input)))
    const owners = new Set(inputs.map((f) => {
      const i = f.lastIndexOf("node_modules/")
      return i < 0 ? path.relative(app, f) : packageOf(f.slice(i + "node_modules/".length))
    }))
    for (const name of ["@anthropic-ai/sdk", "@ballast/anthropic", "@ballast/testing", "@effect/platform"]) {
      assert.isFalse(owners.has(name), `the retry-only bundle contains ${name}`)
    }
    const coreDist = path.join(fs.realpathSync(path.join(app, "node_modules/@ballast/core")), "dist")
    const allowed = closure(path.join(coreDist, "Retry.js"))
    const extra = inputs.filter((f) => f.startsWith(coreDist + path.sep) && !allowed.has(f))
    assert.deepStrictEqual(extra.map((f) => path.relative(coreDist, f)), [])
    assert.isTrue(owners.has("@ballast/core") && owners.has("effect"))
  })
})
