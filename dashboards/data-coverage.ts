// Dashboard: data coverage — every lake dataset (first and last bar, rows, gaps, missing bars, the largest
// gap, size), bars per period as a heat strip (holes are gaps), and what ingestion quarantined, by reason.

import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import * as Plot from '@observablehq/plot'
import { duckdb, sqlString } from '../lib/data/duckdb.js'
import { listDatasets, partitionFiles, type DatasetInfo } from '../lib/data/index.js'
import { esc, fmtBytes, plotToString, table, type DashboardDefinition } from '../lib/report/index.js'

export const dataCoverage: DashboardDefinition = {
  name: 'data-coverage',
  title: 'Data coverage',
  description: 'lake datasets: coverage, gaps and quarantined rows',
  params: {},
  async render(context) {
    const datasets = await listDatasets(context.home)
    const parts: string[] = []
    if (datasets.length === 0) {
      return { title: 'Data coverage', body: '<p class="muted">The lake is empty: mtflow ingest FILE or mtflow data samples.</p>', runs: [] }
    }
    const label = (d: { source: string; symbol: string; timeframe: string }) => `${d.source}/${d.symbol}/${d.timeframe}`
    const rows = datasets.reduce((a, d) => a + d.rows, 0)
    const withGaps = datasets.filter((d) => d.missing > 0).length
    parts.push(
      `<div class="cards"><div class="card"><div class="big">${datasets.length}</div>datasets</div><div class="card"><div class="big">${rows.toLocaleString('en-US')}</div>bars</div><div class="card"><div class="big">${withGaps}</div>datasets with gaps</div><div class="card"><div class="big">${esc(fmtBytes(datasets.reduce((a, d) => a + d.bytes, 0)))}</div>on disk</div></div>`,
    )
    parts.push('<h2>Datasets</h2>')
    parts.push(
      table(
        ['dataset', 'first', 'last', 'bars', 'gaps', 'missing bars', 'largest gap', 'size'],
        datasets.map((d: DatasetInfo) => [label(d), d.first, d.last, d.rows, d.gaps, d.missing, d.largestGap === null ? '' : `${d.largestGap.from} → ${d.largestGap.to}`, fmtBytes(d.bytes)]),
        { rowClass: (i) => (datasets[i]!.missing > 0 ? 'differs' : undefined) },
      ),
    )

    // Bars per month (intraday) or per year (daily and longer): a dataset's holes show as pale cells.
    const conn = await duckdb()
    const cells: { dataset: string; period: Date; end: Date; bars: number }[] = []
    for (const d of datasets) {
      const files = partitionFiles(context.home, d)
      const unit = /^\d+[mh]$/.test(d.timeframe) ? 'month' : 'year'
      const result = await conn.runAndReadAll(
        `SELECT epoch_ms(date_trunc('${unit}', time))::DOUBLE AS p, count(*)::DOUBLE AS n FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false) GROUP BY 1 ORDER BY 1`,
      )
      for (const r of result.getRowObjects()) {
        const period = new Date(Number(r.p))
        const end = new Date(period)
        if (unit === 'month') end.setUTCMonth(end.getUTCMonth() + 1)
        else end.setUTCFullYear(end.getUTCFullYear() + 1)
        cells.push({ dataset: label(d), period, end, bars: Number(r.n) })
      }
    }
    parts.push(
      `<div class="chart"><h3>Bars per period (per year for daily data, per month for intraday; paler = fewer bars)</h3>${plotToString({
        ariaLabel: 'bars per period',
        width: 900,
        height: 60 + 22 * datasets.length,
        marginLeft: 200,
        style: { fontSize: '11px', background: 'white' },
        x: { type: 'utc', label: null },
        y: { label: null },
        // A continuous legend needs a canvas, which the server-side DOM has none of: the caption explains.
        color: { scheme: 'blues', type: 'linear' },
        marks: [Plot.barX(cells, { x1: 'period', x2: 'end', y: 'dataset', fill: 'bars', inset: 0.5, title: (c: { dataset: string; period: Date; bars: number }) => `${c.dataset} ${c.period.toISOString().slice(0, 7)}: ${c.bars} bars` })],
      })}</div>`,
    )

    parts.push('<h2>Quarantine</h2>')
    const quarantined = await quarantineSummary(context.home)
    parts.push(
      quarantined.length === 0
        ? '<p class="muted">Nothing quarantined: every ingested row passed validation.</p>'
        : table(['dataset', 'reason', 'rows', 'files'], quarantined.map((q) => [q.dataset, q.reason, q.rows, q.files])),
    )
    return { title: 'Data coverage', body: parts.join('\n'), runs: [] }
  },
}

async function quarantineSummary(home: string): Promise<{ dataset: string; reason: string; rows: number; files: number }[]> {
  const root = join(home, 'lake', 'quarantine')
  if (!existsSync(root)) return []
  const out: { dataset: string; reason: string; rows: number; files: number }[] = []
  const conn = await duckdb()
  for (const s of readdirSync(root).filter((n) => n.startsWith('source='))) {
    for (const y of readdirSync(join(root, s)).filter((n) => n.startsWith('symbol='))) {
      for (const t of readdirSync(join(root, s, y)).filter((n) => n.startsWith('timeframe='))) {
        const dir = join(root, s, y, t)
        const files = readdirSync(dir).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f))
        if (files.length === 0) continue
        const dataset = `${decodeURIComponent(s.slice(7))}/${decodeURIComponent(y.slice(7))}/${t.slice(10)}`
        const result = await conn.runAndReadAll(`SELECT reason, count(*)::DOUBLE AS n FROM read_parquet([${files.map(sqlString).join(', ')}]) GROUP BY 1 ORDER BY 2 DESC, 1`)
        for (const r of result.getRowObjects()) out.push({ dataset, reason: String(r.reason), rows: Number(r.n), files: files.length })
      }
    }
  }
  return out
}
