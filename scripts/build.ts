/**
 * `pnpm build`: every published package into its `dist/` (ESM JavaScript, declarations, source maps).
 * The workspace itself never needs this: tests, examples and the demo run from `src/`.
 */
import { build } from "./lib/packages.js"

const packages = await build()
for (const p of packages) {
  console.log(`${p.manifest.name}: dist/ (index + ${p.modules.length} modules: ${p.modules.join(", ")})`)
}
