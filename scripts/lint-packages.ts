/**
 * `pnpm lint:packages`: builds and packs every published package, then lints each tarball — the
 * exact bytes a user would install — with publint (every message fails, suggestions included) and
 * Are the Types Wrong (ESM-only profile; the package entry and every public module subpath, since
 * attw does not expand the `./*` pattern on its own).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import { exec, pack, root, stopCommands } from "./lib/packages.js"

const destination = fs.mkdtempSync(path.join(os.tmpdir(), "ballast-lint-packages-"))
// `pnpm run "/^check:/"` stops this script with a signal when a sibling fails: leave no tarballs behind
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopCommands()
    fs.rmSync(destination, { recursive: true, force: true })
    process.exit(1)
  })
}
let failures = 0
try {
  const tarballs = await pack(destination)
  for (const { file, name, pkg } of tarballs) {
    const data = fs.readFileSync(file)
    const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)
    const result = await publint({ pack: { tarball }, strict: true })
    for (const message of result.messages) {
      failures++
      console.error(`${name}: publint ${message.type}: ${formatMessage(message, result.pkg, { color: false })}`)
    }
    const entrypoints = pkg.modules.map((m) => `./${m}`)
    let attw = "ok"
    try {
      await exec(path.join(root, "node_modules/.bin/attw"), [
        file,
        "--profile",
        "esm-only",
        "--format",
        "table-flipped",
        "--no-emoji",
        "--no-color",
        "--include-entrypoints",
        ...entrypoints
      ])
    } catch (error) {
      failures++
      attw = "PROBLEMS"
      console.error(`${name}: attw found problems\n${(error as Error).message}`)
    }
    console.log(
      `${name}: ${path.basename(file)} (${(data.byteLength / 1024).toFixed(1)} kB) — publint: ` +
        `${result.messages.length} messages; attw: ${attw} (". + ${entrypoints.length} subpaths)`
    )
  }
} finally {
  fs.rmSync(destination, { recursive: true, force: true })
}
if (failures > 0) {
  console.error(`lint:packages: ${failures} problem(s)`)
  process.exit(1)
}
