/**
 * `pnpm docs`: the API reference of every published package, generated from the JSDoc of its public
 * modules into `docs/api/` (typedoc, HTML; one page per module, named by its import path such as
 * `@ballast/core/Retry`), after checking that every `@example` in that JSDoc type-checks.
 *
 * Examples are checked like user code: each one becomes its own module under `build/examples/`,
 * importing the packages by name (`@ballast/core`, ...) with the workspace's compiler options, minus
 * `noUnusedLocals` (examples often end with a value they do not use). `declare const x: T` is the way
 * to stand for a value the example does not build. Errors are reported at the source line.
 *
 *   pnpm docs                  check examples, then generate docs/api/
 *   pnpm docs --examples-only  only check the examples
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Application, Converter, ReflectionKind } from "typedoc"
import ts from "typescript"
import { type Package, publicPackages, root } from "./lib/packages.js"

interface Example {
  /** Source file, relative to the repository root. */
  readonly source: string
  /** 1-based line in `source` of the example's first code line. */
  readonly line: number
  readonly code: string
}

const FENCE = /^```(?:ts|typescript)?\s*$/

/** Every `@example` of every JSDoc block in one file, with the source line it starts at. */
const examplesOf = (file: string, text: string): { examples: Array<Example>; problems: Array<string> } => {
  const examples: Array<Example> = []
  const problems: Array<string> = []
  const lines = text.split("\n")
  let inDoc = false
  let pendingExample = -1
  let code: Array<string> | undefined
  let codeStart = 0
  lines.forEach((raw, index) => {
    const trimmed = raw.trim()
    if (!inDoc) {
      if (trimmed.startsWith("/**")) inDoc = true
      else return
    }
    const content = raw.replace(/^\s*\/\*\*\s?/, "").replace(/^\s*\*\/\s*$/, "").replace(/^\s*\* ?/, "")
    if (code !== undefined) {
      if (content.trim() === "```") {
        examples.push({ source: file, line: codeStart, code: code.join("\n") })
        code = undefined
      } else {
        code.push(content)
      }
    } else if (/^@example\b/.test(content.trim())) {
      pendingExample = index
    } else if (pendingExample >= 0 && content.trim() !== "") {
      if (FENCE.test(content.trim())) {
        code = []
        codeStart = index + 2
      } else {
        problems.push(`${file}:${pendingExample + 1}: @example without a \`\`\`ts fence`)
      }
      pendingExample = -1
    }
    if (trimmed.endsWith("*/")) {
      if (code !== undefined) problems.push(`${file}:${codeStart - 1}: unterminated \`\`\` fence in @example`)
      inDoc = false
      pendingExample = -1
      code = undefined
    }
  })
  return { examples, problems }
}

const publicSources = (pkg: Package): Array<string> =>
  ["index", ...pkg.modules].map((m) => path.join(pkg.dir, "src", `${m}.ts`)).filter((f) => fs.existsSync(f))

/** Type-checks every example; returns the diagnostics as `file:line: message` lines. */
const checkExamples = (packages: ReadonlyArray<Package>): { count: number; errors: Array<string> } => {
  const outDir = path.join(root, "build/examples")
  fs.rmSync(outDir, { recursive: true, force: true })
  fs.mkdirSync(outDir, { recursive: true })
  const errors: Array<string> = []
  const origin = new Map<string, Example>()
  for (const pkg of packages) {
    for (const file of publicSources(pkg)) {
      const rel = path.relative(root, file)
      const { examples, problems } = examplesOf(rel, fs.readFileSync(file, "utf8"))
      errors.push(...problems)
      examples.forEach((example, i) => {
        const target = path.join(outDir, `${rel.replace(/[/\\]/g, "_").replace(/\.ts$/, "")}_${i + 1}.ts`)
        fs.writeFileSync(target, `${example.code}\nexport {}\n`)
        origin.set(target, example)
      })
    }
  }
  const base = ts.readConfigFile(path.join(root, "tsconfig.base.json"), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(
    {
      ...base.config,
      compilerOptions: { ...base.config.compilerOptions, composite: false, noEmit: true, noUnusedLocals: false },
      include: []
    },
    ts.sys,
    outDir
  )
  const program = ts.createProgram({ rootNames: [...origin.keys()], options: parsed.options })
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ")
    const file = diagnostic.file?.fileName
    const example = file === undefined ? undefined : origin.get(path.resolve(file))
    if (diagnostic.file !== undefined && diagnostic.start !== undefined && example !== undefined) {
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
      errors.push(`${example.source}:${example.line + line}:${character + 1}: TS${diagnostic.code}: ${message}`)
    } else {
      errors.push(`${file ?? "(program)"}: TS${diagnostic.code}: ${message}`)
    }
  }
  return { count: origin.size, errors }
}

const generate = async (packages: ReadonlyArray<Package>): Promise<boolean> => {
  // typedoc names an entry point by its path below the entry points' common folder ("core/src/Retry")
  const moduleName = new Map<string, string>()
  const entryPoints = packages.flatMap((pkg) =>
    pkg.modules.map((m) => {
      moduleName.set(`${path.basename(pkg.dir)}/src/${m}`, `${pkg.manifest.name}/${m}`)
      return path.join(pkg.dir, "src", `${m}.ts`)
    })
  )
  const out = path.join(root, "docs/api")
  const app = await Application.bootstrapWithPlugins({
    name: "ballast",
    entryPoints,
    tsconfig: path.join(root, "scripts/docs.tsconfig.json"),
    readme: "none",
    disableSources: true,
    skipErrorChecking: true, // `pnpm typecheck` owns type errors
    excludeInternal: true,
    validation: { invalidLink: true, notExported: false, notDocumented: false },
    treatWarningsAsErrors: true
  })
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (_context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return
    const key = [...moduleName.keys()].find((k) => reflection.name === k || reflection.name.endsWith(`/${k}`))
    if (key !== undefined) reflection.name = moduleName.get(key)!
  })
  const project = await app.convert()
  if (project === undefined) return false
  app.validate(project)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) return false
  await app.generateDocs(project, out)
  console.log(`docs: ${entryPoints.length} modules -> ${path.relative(root, out)}/index.html`)
  return !app.logger.hasErrors()
}

const packages = publicPackages()
const { count, errors } = checkExamples(packages)
if (errors.length > 0) {
  console.error(`JSDoc examples: ${errors.length} error(s) in ${count} example(s)\n${errors.join("\n")}`)
  process.exit(1)
}
console.log(`JSDoc examples: ${count} type-check`)
if (!process.argv.includes("--examples-only")) {
  if (!(await generate(packages))) {
    console.error("docs: typedoc reported problems (above)")
    process.exit(1)
  }
}
