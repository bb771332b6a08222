// The tracking benchmarks in a process of their own: prints the rows as JSON. Argument: runs.
import { benchTrack } from './track.js'

process.stdout.write(JSON.stringify(benchTrack((text) => process.stderr.write(`${text}\n`), Number(process.argv[2] ?? 5))))
