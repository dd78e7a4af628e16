/**
 * `pnpm pack:all [dir]`: builds and packs every published package with the pinned pnpm (which applies
 * `publishConfig` and pins `catalog:` / `workspace:` ranges), then prints the tarballs as JSON.
 * Default directory: `build/packages`.
 */
import * as path from "node:path"
import { pack, root } from "./lib/packages.js"

const destination = path.resolve(process.argv[2] ?? path.join(root, "build/packages"))
const tarballs = await pack(destination)
console.log(JSON.stringify(tarballs.map((t) => ({ name: t.name, file: t.file })), null, 2))
