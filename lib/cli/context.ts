// What every CLI verb gets: its output streams, the workspace, and where to put its exit code.

import { createRequire } from 'node:module'
import { clip, ConfigError } from '../core/index.js'
import { parseNumberCell } from '../data/csv.js'
import type { Batch, Executor, Outcome } from '../exec/types.js'

export interface CliStream {
  write(text: string): unknown
  isTTY?: boolean
}

export interface CliContext {
  stdout: CliStream
  stderr: CliStream
  /** The resolved workspace (MTFLOW_HOME). */
  home: string
  verbose: boolean
  /** Set by a verb whose work failed without an exception (e.g. a notebook cell error). */
  exitCode: number
}

export function printJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** A positive number of seconds from an option value, or a one-line ConfigError naming the option. */
export function parseSeconds(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError(`${option} must be a number of seconds > 0 (received ${JSON.stringify(value)})`)
  }
  return n
}

/**
 * Load a heavy module (DuckDB, ccxt, the kernel client) only in the verb that needs it, so that
 * `mtflow --help` and light verbs start fast. `require` rather than `import()`: the CLI runs under
 * tsx's CommonJS hook, which maps these .js specifiers to the .ts sources; a dynamic import() would
 * go to Node's ESM loader, which has no such hook. Paths are relative to lib/cli/.
 */
export const lazy = createRequire(import.meta.url)

/**
 * A number flag's value by the numbers' one grammar (lib/data/csv.ts parseNumberCell with a decimal
 * point: digits, one point, an exponent, spaces around), or a one-line ConfigError naming the flag and
 * what it expects (Number() also reads 0x10, 0b1 and 0o7, which no one means). No comma at all: on a
 * command line 1,250 may be a decimal comma (1.25) as well as thousands (1250), and a flag is a rate,
 * a price or an amount of money — a file's column settles its decimal mark, a lone flag cannot.
 */
export function numberFlag(text: string | undefined, flag: string, expected: string, ok: (n: number) => boolean = () => true): number | undefined {
  if (text === undefined) return undefined
  if (text.includes(',')) throw new ConfigError(`${flag} must be ${expected}, written with a decimal point and no thousands separators (received ${JSON.stringify(clip(text))})`)
  const n = parseNumberCell(text, '.')
  if (!Number.isFinite(n) || !ok(n)) throw new ConfigError(`${flag} must be ${expected} (received ${JSON.stringify(clip(text))})`)
  return n
}

/** Commander's collector for a repeatable option (`--param a=1 --param b=2` → ['a=1', 'b=2']). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** Columns padded to their widest cell, two spaces apart. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)))
  const line = (cells: string[]) => cells.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd()
  return `${[line(header), ...rows.map(line)].join('\n')}\n`
}

/**
 * The executor with Ctrl-C cancelling the batch it runs (the bullmq executor removes the jobs not started;
 * a CancelledError, which main() ends with exit 130). Commands whose library call takes no signal (automl,
 * train, a gated batch) died at Ctrl-C and left their flow's queued jobs in Redis, run by the workers for
 * nobody (an executors audit); the README promises Ctrl-C cancels the flow.
 */
export function interruptible(executor: Executor): Executor {
  return {
    kind: executor.kind,
    describe: executor.describe,
    async run<I, R>(batch: Batch<I>): Promise<Outcome<R>[]> {
      if (batch.signal !== undefined) return executor.run<I, R>(batch)
      const controller = new AbortController()
      const stop = () => controller.abort()
      process.once('SIGINT', stop)
      try {
        return await executor.run<I, R>({ ...batch, signal: controller.signal })
      } finally {
        process.off('SIGINT', stop)
      }
    },
    close: () => executor.close(),
  }
}
