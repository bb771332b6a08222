// Tearsheet benchmark: 1,000,000 one-minute equity points (~1.9 years, a seeded random walk) with a
// buy-and-hold benchmark of as many prices and 5,000 trades — `tearsheet()` (resampling to days, every metric,
// the breakdowns; target ≤ 1 s, issue 20) and `tearsheetHtml()` of the result (the charts rendered to SVG).
// Standalone: npx tsx --expose-gc test/bench/report.ts

import { pathToFileURL } from 'node:url'
import { seededRandom } from '../../lib/core/index.js'
import { tearsheet, tearsheetHtml, type TearsheetInput } from '../../lib/report/index.js'
import { time, type BenchRow } from './timing.js'

const POINTS = 1_000_000
const TRADES = 5_000

function workload(): TearsheetInput {
  const rng = seededRandom(20)
  const t = new Float64Array(POINTS)
  const equity = new Float64Array(POINTS)
  const close = new Float64Array(POINTS)
  const t0 = Date.UTC(2022, 0, 1)
  let e = 100_000
  let p = 100
  for (let i = 0; i < POINTS; i++) {
    t[i] = t0 + i * 60_000
    const m = 0.0004 * rng.normal()
    p *= 1 + m
    e *= 1 + 0.5 * m + 0.0003 * rng.normal()
    close[i] = p
    equity[i] = e
  }
  const symbol: string[] = []
  const tag: string[] = []
  const exitReason: string[] = []
  const entryTime = new Float64Array(TRADES)
  const exitTime = new Float64Array(TRADES)
  const entryPrice = new Float64Array(TRADES)
  const exitPrice = new Float64Array(TRADES)
  const pnl = new Float64Array(TRADES)
  const returnPct = new Float64Array(TRADES)
  const step = Math.floor(POINTS / TRADES)
  for (let k = 0; k < TRADES; k++) {
    const a = k * step
    const b = a + Math.floor(step / 2)
    symbol.push(k % 3 === 0 ? 'ETH/USDT' : 'BTC/USDT')
    tag.push(k % 2 === 0 ? 'breakout' : 'revert')
    exitReason.push(['take-profit', 'stop-loss', 'exit'][k % 3]!)
    entryTime[k] = t[a]!
    exitTime[k] = t[b]!
    entryPrice[k] = close[a]!
    exitPrice[k] = close[b]!
    returnPct[k] = close[b]! / close[a]! - 1
    pnl[k] = 1000 * returnPct[k]!
  }
  return {
    time: t,
    equity,
    prices: { name: 'BTC/USDT', time: t, close },
    trades: { symbol, tag, exitReason, entryTime, exitTime, entryPrice, exitPrice, pnl, returnPct },
  }
}

export async function benchReport(progress: (text: string) => void, runs: number): Promise<BenchRow[]> {
  progress(`report: building ${POINTS.toLocaleString('en-US')} equity points`)
  const input = workload()
  progress('report: tearsheet of 1,000,000 equity points')
  const sheetMs = time(() => tearsheet(input), runs)
  const sheet = tearsheet(input)
  progress('report: tearsheet HTML')
  const htmlMs = time(() => tearsheetHtml(sheet), runs)
  const html = tearsheetHtml(sheet)
  const days = sheet.conventions.days
  return [
    {
      workload: `report: tearsheet() of ${POINTS.toLocaleString('en-US')} 1m equity points (${days} days) + buy and hold + ${TRADES.toLocaleString('en-US')} trades`,
      median: sheetMs,
      throughput: `${Math.round(POINTS / (sheetMs / 1000)).toLocaleString('en-US')} points/s`,
      reference: 'target ≤ 1000 ms',
      ratio: (sheetMs / 1000).toFixed(2),
    },
    {
      workload: `report: tearsheetHtml() of that sheet (${(html.length / 2 ** 20).toFixed(1)} MiB, ${(html.match(/<svg/g) ?? []).length} SVGs)`,
      median: htmlMs,
      throughput: `${(1000 / htmlMs).toFixed(1)} pages/s`,
      reference: 'target ≤ 1000 ms with tearsheet()',
      ratio: ((sheetMs + htmlMs) / 1000).toFixed(2),
    },
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchReport((text) => process.stderr.write(`${text}\n`), Number(process.env.BENCH_RUNS ?? 7)).then((rows) => {
    for (const r of rows) console.log(`${r.workload}\n    ${r.median.toFixed(1)} ms  ${r.throughput}  ${r.reference}  ratio ${r.ratio}`)
  })
}
