// Job kinds of lib/exec itself, for tests and the queue-overhead bench: `exec.echo` returns its item,
// `exec.sleep` waits `ms` (a job to kill a worker in the middle of), `exec.fail` throws its item's text,
// `exec.sum` adds a series' column (a job that reads data), `exec.exit` ends its thread with
// process.exit(3) (a thread that dies mid-job) unless its item says `exit: false`.

import type { JobHandler, SharedSeries } from './types.js'

export const jobs: Record<string, JobHandler> = {
  echo: { run: (_state: unknown, item: unknown) => item },
  sleep: {
    run: (_state: unknown, item: { ms: number; value?: unknown }) =>
      new Promise((resolve) => setTimeout(() => resolve(item.value ?? item.ms), item.ms)),
  },
  fail: {
    run: (_state: unknown, item: { message: string; fail?: boolean; value?: unknown }) => {
      if (item.fail === false) return item.value
      throw new Error(item.message)
    },
  },
  exit: {
    run: (_state: unknown, item: { exit?: boolean; value?: unknown }) => {
      if (item.exit === false) return item.value
      process.exit(3)
    },
  },
  sum: {
    prepare: (_context: unknown, data: Record<string, SharedSeries>) => data,
    run: (data: Record<string, SharedSeries>, item: { series: string; column: string }) => {
      const c = data[item.series]?.columns[item.column]
      if (c === undefined) throw new Error(`no column ${item.column} in ${item.series}`)
      let s = 0
      for (let i = 0; i < c.length; i++) s += c[i]!
      return s
    },
  },
}
