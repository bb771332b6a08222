// The backtest benchmarks in a process of their own (through require-child.cjs): the rows as JSON.
// Arguments: runs sweepRuns.
import { benchBacktest } from './backtest.js'

export async function main(args: string[]): Promise<string> {
  const rows = await benchBacktest((text) => process.stderr.write(`${text}\n`), Number(args[0] ?? 5), Number(args[1] ?? 1))
  return JSON.stringify(rows)
}
