/**
 * `pnpm run docs` (plain `pnpm docs` is a pnpm built-in): the API reference of every published
 * package, generated from the JSDoc of its public modules into `docs/api/` (typedoc, HTML; one page
 * per module, named by its import path such as `@ballast/core/Retry`), after checking that every
 * `@example` in that JSDoc type-checks.
 *
 * Examples are checked like user code: each one becomes its own module under `build/examples/`,
 * importing the packages by name (`@ballast/core`, ...) with the workspace's compiler options, minus
 * `noUnusedLocals` (examples often end with a value they do not use). `declare const x: T` is the way
 * to stand for a value the example does not build. Errors are reported at the source line.
 *
 *   pnpm run docs                  check examples, then generate docs/api/
 *   pnpm run docs --examples-only  only check the examples
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Application } from "typedoc"
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

/**
 * Writes every example of the public modules to `build/examples/` and makes one program of them and
 * the packages' sources (the sources are also what typedoc documents, so they are parsed once).
 */
const prepare = (packages: ReadonlyArray<Package>) => {
  const outDir = path.join(root, "build/examples")
  fs.rmSync(outDir, { recursive: true, force: true })
  fs.mkdirSync(outDir, { recursive: true })
  const problems: Array<string> = []
  const origin = new Map<string, Example>()
  for (const pkg of packages) {
    for (const file of publicSources(pkg)) {
      const rel = path.relative(root, file)
      const found = examplesOf(rel, fs.readFileSync(file, "utf8"))
      problems.push(...found.problems)
      found.examples.forEach((example, i) => {
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
  const sources = packages.flatMap(publicSources)
  // Effect-style modules open with their overview comment; typedoc only takes a file's first comment
  // as the module's when it is tagged, so the docs program sees it tagged (comments only, same lines).
  const modules = new Set(packages.flatMap((p) => p.modules.map((m) => path.join(p.dir, "src", `${m}.ts`))))
  const host = ts.createCompilerHost(parsed.options)
  const getSourceFile = host.getSourceFile
  host.getSourceFile = (fileName, language, onError, shouldCreate) => {
    if (!modules.has(path.resolve(fileName))) return getSourceFile(fileName, language, onError, shouldCreate)
    const text = fs.readFileSync(fileName, "utf8")
    const end = text.startsWith("/**") ? text.indexOf("*/") : -1
    const overview = end > 0 && !/^\s*export\b/.test(text.slice(end + 2)) && !text.slice(0, end).includes("@module")
    const tagged = overview ? `${text.slice(0, end)}* @packageDocumentation\n ${text.slice(end)}` : text
    return ts.createSourceFile(fileName, tagged, language)
  }
  const program = ts.createProgram({ rootNames: [...sources, ...origin.keys()], options: parsed.options, host })
  return { program, origin, problems }
}

/** The examples' own diagnostics as `file:line:col: message` (the sources are `pnpm typecheck`'s business). */
const checkExamples = (program: ts.Program, origin: ReadonlyMap<string, Example>): Array<string> => {
  const errors: Array<string> = []
  const diagnostics = [...origin.keys()].flatMap((file) => {
    const sourceFile = program.getSourceFile(file)!
    return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)]
  })
  for (const diagnostic of [...program.getOptionsDiagnostics(), ...diagnostics]) {
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
  return errors
}

/** The API reference: one typedoc module per public module, named by its import path. */
const generate = async (packages: ReadonlyArray<Package>, program: ts.Program): Promise<boolean> => {
  const out = path.join(root, "docs/api")
  const app = await Application.bootstrapWithPlugins({
    name: "ballast",
    tsconfig: path.join(root, "tsconfig.base.json"),
    readme: "none",
    disableSources: true,
    excludeInternal: true,
    validation: { invalidLink: true, notExported: false, notDocumented: false },
    treatWarningsAsErrors: true
  })
  const entryPoints = packages.flatMap((pkg) =>
    pkg.modules.map((m) => ({
      displayName: `${pkg.manifest.name}/${m}`,
      program,
      sourceFile: program.getSourceFile(path.join(pkg.dir, "src", `${m}.ts`))!
    }))
  )
  const project = app.converter.convert(entryPoints)
  app.validate(project)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) return false
  await app.generateDocs(project, out)
  console.log(`docs: ${entryPoints.length} modules -> ${path.relative(root, out)}/index.html`)
  return !app.logger.hasErrors()
}

const packages = publicPackages()
const { origin, problems, program } = prepare(packages)
const errors = [...problems, ...checkExamples(program, origin)]
if (errors.length > 0) {
  console.error(`JSDoc examples: ${errors.length} error(s) in ${origin.size} example(s)\n${errors.join("\n")}`)
  process.exit(1)
}
console.log(`JSDoc examples: ${origin.size} type-check`)
if (!process.argv.includes("--examples-only")) {
  if (!(await generate(packages, program))) {
    console.error("docs: typedoc reported problems (above)")
    process.exit(1)
  }
}
