// The indicator benchmarks in a process of their own (the lake rows leave a large heap behind, whose
// collections would land in these timings): prints the rows as JSON.
// Arguments: runs [stream NAME] — without "stream", the batch comparisons.
import { benchIndicators, benchStream } from './indicators.js'

const runs = Number(process.argv[2] ?? 7)
const rows = process.argv[3] === 'stream' ? [benchStream(process.argv[4]!, runs)] : benchIndicators((text) => process.stderr.write(`${text}\n`), runs)
process.stdout.write(JSON.stringify(rows))
