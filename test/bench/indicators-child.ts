// The indicator benchmarks in a process of their own (the lake rows leave a large heap behind, whose
// collections would land in these timings): prints the rows as JSON.
// Arguments: runs (stream|batch) NAME — one streaming update, or one batch case with its comparisons.
// One case per process: what an earlier case left in the heap (and the allocator) stays out of it.
import { benchIndicators, benchStream } from './indicators.js'

const runs = Number(process.argv[2] ?? 7)
const [kind, name] = [process.argv[3], process.argv[4]!]
const rows = kind === 'stream' ? [benchStream(name, runs)] : benchIndicators((text) => process.stderr.write(`${text}\n`), runs, [name])
process.stdout.write(JSON.stringify(rows))
