// Vitest setup: suites mirror lib/ and kernel/; kernel tests start real tslab processes, hence the
// generous timeouts. Forks (not threads) so each suite's kernels have their own parent process.
//
// Wall time: vitest's default on a 2-core machine is one worker (cores − 1), so the suite ran one file at a
// time while most files wait on child processes (CLI, tslab, redis, servers). Two workers keep both cores
// busy. The slowest files start first (the list below, measured with --reporter=json): started last, a
// 60-second file would run alone at the end while the other worker idles. Vitest's own order (longest
// first by its results cache, then larger files) applies among the rest, and to all of them once the cache
// exists; the list is for a clean clone, which has no cache.
import { fileURLToPath } from 'node:url'
import { relative } from 'node:path'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The slowest files, slowest first: seconds each (setup included), one worker, this shared machine, 2026-12-06 14:31. */
const SLOW_FIRST = [
  'test/cli/lifecycle.test.ts', // 88 s
  'test/kernel/runner.test.ts', // 64 s
  'test/exec/bullmq.test.ts', // 61 s
  'test/cli/deploy.test.ts', // 60 s
  'test/scheduler/cli.test.ts', // 36 s
  'test/cli/notebook-scratch.test.ts', // 32 s
  'test/features/notebook.test.ts', // 28 s
  'test/cli/kernel.test.ts', // 26 s
  'test/kernel/tslab-compat.test.ts', // 25 s
  'test/live/orders-submit.test.ts', // 24 s
  'test/cli/notebook.test.ts', // 21 s
  'test/cli/pipeline-pairs.test.ts', // 20 s
  'test/security/model-packages.test.ts', // 17 s
  'test/cli/portfolio.test.ts', // 16 s
  'test/monitor/notebook.test.ts', // 16 s
  'test/cli/track.test.ts', // 14 s
  'test/cli/pipeline.test.ts', // 13 s
  'test/cli/runs-lifecycle.test.ts', // 12 s
  'test/cli/strategy-new.test.ts', // 12 s
  'test/recovery/lake-generations.test.ts', // 12 s
  'test/recovery/doctor.test.ts', // 12 s
  'test/cli/notebook-params.test.ts', // 12 s
  'test/strategy/bundle.test.ts', // 12 s
  'test/pipeline/notebook.test.ts', // 11 s
]

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const rank = (spec: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(root, spec.moduleId).split('\\').join('/'))
      return i === -1 ? SLOW_FIRST.length : i
    }
    return sorted.sort((a, b) => rank(a) - rank(b)) // stable: vitest's order among the rest
  }
}

export default defineConfig({
  root,
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
})
