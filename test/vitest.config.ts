// Vitest setup: suites mirror lib/ and kernel/; kernel tests start real tslab processes, hence the
// generous timeouts. Forks (not threads) so each suite's kernels have their own parent process.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
})
