// Tracking benchmarks: logging 100,000 metric points in batches of 1,000 into one run, and a search
// (filter + order + first page) over 10,000 runs — cold (the experiment index read and parsed from
// disk, as a CLI call does) and warm (what the long-running server sees after its first search).

import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clearIndexCache, searchRuns, Tracker } from '../../lib/track/index.js'
import { appendRecords, readRecords } from '../../lib/track/jsonl.js'
import { time, type BenchRow } from './timing.js'

export function benchTrack(progress: (text: string) => void, runs: number): BenchRow[] {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-bench-track-'))
  const rows: BenchRow[] = []
  try {
    progress('track: logging 100,000 metric points')
    const tracker = new Tracker(home)
    const points = 100_000
    const batch = 1000
    const logging = time(() => {
      const run = tracker.startRun({ experiment: 'logging' })
      for (let b = 0; b < points / batch; b++) {
        const metrics = new Array(batch)
        for (let i = 0; i < batch; i++) metrics[i] = { key: i % 2 === 0 ? 'loss' : 'equity', value: Math.sin(b * batch + i), step: b * batch + i }
        run.logBatch({ metrics })
      }
      run.end()
    }, runs)
    rows.push({ workload: 'log 100,000 metric points in batches of 1,000 (one run)', median: logging, throughput: `${Math.round(points / (logging / 1000)).toLocaleString('en-US')} points/s`, reference: 'target ≤ 1000 ms', ratio: (logging / 1000).toFixed(2) })

    progress('track: 10,000 runs')
    const parent = tracker.startRun({ experiment: 'search', name: 'sweep' })
    for (let chunk = 0; chunk < 10; chunk++) {
      parent.logChildren(
        Array.from({ length: 999 }, (_, j) => {
          const i = chunk * 1000 + j
          return {
            name: `set ${i}`,
            params: { fast: 5 + (i % 50), slow: 20 + (i % 200), strategy: 'sma-cross', symbol: 'SPX' },
            metrics: { sharpe: Math.sin(i) * 2, sortino: Math.cos(i) * 3, totalReturn: Math.sin(i / 7), maxDrawdown: Math.abs(Math.cos(i / 3)) / 2, trades: i % 300, winRate: (i % 100) / 100, cagr: Math.sin(i / 11) / 5, volatility: 0.2, calmar: 0.5, exposure: 0.6 },
            tags: { kind: i % 3 === 0 ? 'single' : 'sweep' },
          }
        }),
      )
    }
    for (let k = 0; k < 10; k++) tracker.startRun({ experiment: 'search', name: `single ${k}`, params: { fast: 10 } }).end()
    parent.end()
    const filter = 'metrics.sharpe > 1 and (params.fast = "10" or tags.mtflow.kind = "sweep")'
    const search = () => searchRuns(new Tracker(home), { experiments: ['search'], filter, orderBy: ['metrics.sharpe desc'], maxResults: 100 })
    const total = search().total
    const cold = time(() => {
      clearIndexCache()
      search()
    }, runs * 2)
    const warm = time(search, runs * 2)
    rows.push({ workload: `search 10,000 runs, cold: read + filter (${total} match) + order + page of 100`, median: cold, throughput: `${Math.round(10_000 / (cold / 1000)).toLocaleString('en-US')} runs/s`, reference: 'target ≤ 200 ms', ratio: (cold / 200).toFixed(2) })
    rows.push({ workload: 'search 10,000 runs, warm (index already read by this process)', median: warm, throughput: `${Math.round(10_000 / (warm / 1000)).toLocaleString('en-US')} runs/s`, reference: 'target ≤ 200 ms', ratio: (warm / 200).toFixed(2) })

    // A crash-torn record (skipped and counted) must not send every later read of the file down a slow
    // path: 200,000 metric lines read clean, then with one torn record and its marker.
    progress('track: reading 200,000 metric lines, clean and with one torn record')
    const path = join(home, 'read.jsonl')
    appendRecords(path, Array.from({ length: 200_000 }, (_, i) => ({ k: 'loss', v: i / 7, s: i, t: 1_700_000_000_000 + i })))
    const clean = time(() => readRecords(path), runs)
    appendFileSync(path, '\n{"k":"loss","v":0.')
    appendRecords(path, [{ k: 'loss', v: 1, s: 200_000, t: 1 }])
    const torn = time(() => readRecords(path), runs)
    rows.push({ workload: 'read 200,000 metric lines (JSONL), clean', median: clean, throughput: `${Math.round(200_000 / (clean / 1000)).toLocaleString('en-US')} lines/s`, reference: '—', ratio: '—' })
    rows.push({ workload: 'read 200,000 metric lines, one torn record among them', median: torn, throughput: `${Math.round(200_000 / (torn / 1000)).toLocaleString('en-US')} lines/s`, reference: `clean read ${clean.toFixed(0)} ms`, ratio: (torn / clean).toFixed(2) })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
  return rows
}
