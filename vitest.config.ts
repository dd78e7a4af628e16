import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 30_000,
    // One module graph per worker: loading effect, the SDK and platform-node once instead of per file
    // takes the suite from ~40 s to ~10 s on 2 cores. Tests share no global state.
    pool: "threads",
    isolate: false
  }
})
