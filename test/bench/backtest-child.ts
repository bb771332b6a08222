// The backtest benchmarks in a process of their own: prints the rows as JSON.
// Arguments: runs sweepRuns.
import { benchBacktest } from './backtest.js'

const rows = await benchBacktest((text) => process.stderr.write(`${text}\n`), Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 1))
process.stdout.write(JSON.stringify(rows))
