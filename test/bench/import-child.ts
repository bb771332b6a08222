// One CSV import in a fresh process, for `npm run bench`: prints {"ms": …, "peakRss": …} where peakRss
// is this process's peak resident memory (VmHWM), so the figure is the import's own.
import { readFileSync } from 'node:fs'
import { importFile } from '../../lib/data/index.js'

const [csv, home] = [process.argv[2]!, process.argv[3]!]
const started = performance.now()
const report = await importFile(home, csv, { symbol: 'BENCH', timeframe: '1m' })
const ms = performance.now() - started
const hwm = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))
process.stdout.write(JSON.stringify({ ms, rows: report.accepted, peakRss: hwm === undefined ? process.memoryUsage().rss : Number(hwm.replace(/\D+/g, '')) * 1024 }))
