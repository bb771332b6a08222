// loadBars in a fresh process, for `npm run bench`: prints {"first": ms, "repeated": [ms…]}, the first
// load (cold code, fresh heap, the files in the OS page cache) and the loads after it.
import { loadBars } from '../../lib/data/index.js'

const home = process.argv[2]!
const times: number[] = []
for (let i = 0; i < 6; i++) {
  const started = performance.now()
  const bars = await loadBars(home, { symbol: 'BENCH', timeframe: '1m' })
  times.push(performance.now() - started)
  if (bars.time.length !== 1_000_000) throw new Error(`loaded ${bars.time.length} bars, expected 1,000,000`)
}
process.stdout.write(JSON.stringify({ first: times[0], repeated: times.slice(1) }))
