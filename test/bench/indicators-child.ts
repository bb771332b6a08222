// The indicator benchmarks in a process of their own (the lake rows leave a large heap behind, whose
// collections would land in these timings): prints the rows as JSON. Argument: runs.
import { benchIndicators } from './indicators.js'

const runs = Number(process.argv[2] ?? 7)
const rows = benchIndicators((text) => process.stderr.write(`${text}\n`), runs)
process.stdout.write(JSON.stringify(rows))
