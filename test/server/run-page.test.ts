// A backtest's run page over a real socket: the tearsheet core on the page itself — equity against SPX's buy and
// hold (from the raw sample), underwater, the monthly returns of a hand-made 3-month curve (100 → 110 → 99 →
// 108.9: +10 %, −10 %, +10 %, the year +8.90 %), the trades table with readable UTC dates and its sort links,
// the trades marked on the price chart; metrics with units; 7-digit axis labels inside the chart; hostile
// names, symbols and query values escaped; a bad sort a 400 page naming the parameter.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest, logBacktest } from '../../lib/backtest/index.js'
import { importSamples, loadBars } from '../../lib/data/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { ROOT, sampleRowsBetween } from '../helpers.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
let home: string
let server: Listening
const ids: Record<string, string> = {}
let result: ReturnType<typeof backtest>

const fetch = (path: string) => globalThis.fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })

async function get(path: string): Promise<{ status: number; text: string; doc: any }> {
  const response = await fetch(path)
  const text = await response.text()
  return { status: response.status, text, doc: parseHTML(text).document }
}

/** The data block charts.js reads, of the chart box with this id. */
function chartData(doc: any, id: string): any {
  const box = doc.querySelector(`#${id}`)
  expect(box, id).not.toBeNull()
  return JSON.parse(box.getAttribute('data-chart'))
}

function rows(doc: any, selector: string): string[][] {
  return [...doc.querySelectorAll(`${selector} tbody tr`)].map((tr: any) => [...tr.querySelectorAll('th, td')].map((td: any) => td.textContent))
}

// The hand-made run: month-end equity 100 → 110 → 99 → 108.9, two SPX trades.
const EQUITY = 'time,equity\n2015-01-30T00:00:00.000Z,100\n2015-02-27T00:00:00.000Z,110\n2015-03-31T00:00:00.000Z,99\n2015-04-30T00:00:00.000Z,108.9\n'
const TRADES = [
  'symbol,direction,entryTime,exitTime,qty,entryPrice,exitPrice,pnl,returnPct',
  // Long 2 at 1,990.50, out at 2,104.50: P&L 2 × 114 = 228, return 114 / 1990.5 = 5.727 %, held 25 d 6 h 30 min.
  'SPX,long,2015-02-02T14:30:00.000Z,2015-02-27T21:00:00.000Z,2,1990.5,2104.5,228,0.0572720422',
  // Short 1 at 2,117.39, covered at 2,067.89: P&L 49.50, return 49.5 / 2117.39 = 2.338 %, held 29 d 5 h 30 min.
  'SPX,short,2015-03-02T14:30:00.000Z,2015-03-31T20:00:00.000Z,1,2117.39,2067.89,49.5,0.0233778378',
].join('\n')

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-run-page-'))
  await importSamples(home, join(ROOT, 'data', 'samples'))
  const tracker = new Tracker(home)
  const hand = tracker.startRun({ experiment: 'backtests', name: 'hand-made', params: { symbols: 'SPX', timeframe: '1d' }, tags: { 'mtflow.kind': 'backtest' } })
  hand.logArtifact({ name: 'equity.csv', data: EQUITY })
  hand.logArtifact({ name: 'trades.csv', data: `${TRADES}\n` })
  hand.end()
  ids.hand = hand.id
  // A million-dollar backtest: its equity axis reads 7-digit labels.
  const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d', start: '2015-01-01' })
  result = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 1_000_000, sizing: { percent: 1 } })
  const run = tracker.startRun({ experiment: 'backtests', name: 'sma-cross SPX 1d' })
  logBacktest(run, result, { params: { fast: 10, slow: 30 }, config: { symbols: 'SPX', timeframe: '1d' } })
  run.end()
  ids.backtest = run.id
  const hostile = tracker.startRun({ experiment: 'backtests', name: HOSTILE, params: { symbols: HOSTILE, timeframe: '1d', note: '<script>x</script>' }, tags: { 'mtflow.kind': 'backtest' } })
  hostile.logArtifact({ name: 'equity.csv', data: 'time,equity\n2024-01-01T00:00:00.000Z,100\n2024-01-02T00:00:00.000Z,105\n2024-01-03T00:00:00.000Z,103\n' })
  hostile.logArtifact({ name: 'trades.csv', data: `symbol,entryTime,exitTime,pnl\n"${HOSTILE}",2024-01-01T00:00:00.000Z,2024-01-03T00:00:00.000Z,3\n` })
  hostile.end()
  ids.hostile = hostile.id
  // A deployment's first moments: an equity table of one point (no curve yet) and a metric.
  const broken = tracker.startRun({ experiment: 'backtests', name: 'one point', tags: { 'mtflow.kind': 'deployment' } })
  broken.logArtifact({ name: 'equity.csv', data: 'time,equity\n2024-01-01T00:00:00.000Z,100\n' })
  broken.logMetrics({ sharpe: 0.25 })
  broken.end()
  ids.broken = broken.id
  // Histories of metrics in each unit: a fraction, money, milliseconds, one we do not know.
  const history = tracker.startRun({ experiment: 'training', name: 'histories' })
  history.logMetrics({ totalReturn: 0.05, fees: 12.5, holdMs: 90_000, widgets: 3 }, 0)
  history.logMetrics({ totalReturn: 0.1234, fees: 25, holdMs: 150_000, widgets: 4 }, 1)
  history.end()
  ids.history = history.id
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
}, 120_000)

afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('the run page of a backtest', () => {
  it('monthly returns of the hand-made curve: +10 %, −10 %, +10 %, the year +8.90 %', async () => {
    const page = await get(`/runs/${ids.hand}`)
    expect(page.status, page.text.slice(0, 300)).toBe(200)
    const table = rows(page.doc, 'table.monthly-returns')
    // year, Jan … Dec, year total. January has no return (the curve starts on its last day).
    expect(table).toEqual([['2015', '', '10.00 %', '-10.00 %', '10.00 %', '', '', '', '', '', '', '', '', '8.90 %']])
  })

  it('equity against buy and hold of SPX, rebased to the starting equity (SPX closes from the raw sample)', async () => {
    const page = await get(`/runs/${ids.hand}`)
    const data = chartData(page.doc, 'equity-chart')
    expect(data.series.map((s: any) => s.label)).toEqual(['equity', 'SPX buy & hold'])
    expect(data.series[0].y).toEqual([100, 110, 99, 108.9])
    const spx = sampleRowsBetween('2015-01-30', '2015-04-30')
    const hold = data.series[1]
    expect(hold.t[0]).toBe(Date.UTC(2015, 0, 30))
    expect(hold.y[0]).toBeCloseTo(100, 8)
    expect(hold.t.length).toBe(spx.count)
    expect(hold.y.at(-1)).toBeCloseTo((100 * spx.lastClose) / spx.firstClose, 6)
    // Underwater: 99 is 10 % under the 110 peak; 108.9 still 1 % under it.
    const under = chartData(page.doc, 'underwater-chart')
    expect(under.series[0].y.map((v: number) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0, -0.1, -0.01])
    expect(under.unit).toBe('percent')
    expect(page.doc.querySelector('#underwater-chart svg[aria-label="underwater"]')).not.toBeNull()
  })

  it('the trades table: readable UTC dates, side, qty, prices, P&L, return, duration; sorted by the heading links', async () => {
    const page = await get(`/runs/${ids.hand}`)
    const table = rows(page.doc, 'table.trades')
    expect(table).toEqual([
      ['SPX', 'long', '2015-02-02 14:30', '2015-02-27 21:00', '2', '1,990.50', '2,104.50', '228.00', '5.73 %', '25 d 6 h'],
      ['SPX', 'short', '2015-03-02 14:30', '2015-03-31 20:00', '1', '2,117.39', '2,067.89', '49.50', '2.34 %', '29 d 5 h'],
    ])
    const headings = [...page.doc.querySelectorAll('table.trades thead a')].map((a: any) => a.getAttribute('href'))
    expect(headings).toContain(`/runs/${ids.hand}?tsort=pnl&tdir=desc#trades`)
    const asc = await get(`/runs/${ids.hand}?tsort=pnl&tdir=asc`)
    expect(rows(asc.doc, 'table.trades').map((r) => r[7])).toEqual(['49.50', '228.00'])
    const byDuration = await get(`/runs/${ids.hand}?tsort=duration&tdir=desc`)
    expect(rows(byDuration.doc, 'table.trades').map((r) => r[1])).toEqual(['short', 'long'])
    // The default order (entry ascending) again: the cache keeps each order apart.
    expect(rows((await get(`/runs/${ids.hand}`)).doc, 'table.trades').map((r) => r[1])).toEqual(['long', 'short'])
  })

  it('the trades are marked on the price chart: ▲ at each entry, ▼ at each exit, at the trade prices', async () => {
    const page = await get(`/runs/${ids.hand}`)
    const data = chartData(page.doc, 'price-chart')
    expect(data.marks).toEqual([
      { t: Date.UTC(2015, 1, 2, 14, 30), y: 1990.5, kind: 'entry', direction: 'long' },
      { t: Date.UTC(2015, 1, 27, 21), y: 2104.5, kind: 'exit', direction: 'long' },
      { t: Date.UTC(2015, 2, 2, 14, 30), y: 2117.39, kind: 'entry', direction: 'short' },
      { t: Date.UTC(2015, 2, 31, 20), y: 2067.89, kind: 'exit', direction: 'short' },
    ])
    const svg = page.doc.querySelector('#price-chart svg[aria-label="price and trades"]')
    expect(svg.querySelectorAll('g[aria-description="trade entries"] path').length).toBe(2)
    expect(svg.querySelectorAll('g[aria-description="trade exits"] path').length).toBe(2)
    // Without script, each marker says what it is in its <title>.
    const titles = [...svg.querySelectorAll('g[aria-description="trade entries"] title')].map((t: any) => t.textContent)
    expect(titles[0]).toBe('entry long 2015-02-02 14:30 at 1,990.5')
  })

  it("a real backtest's metrics with units, the equity axis's 7-digit labels inside the chart", async () => {
    const page = await get(`/runs/${ids.backtest}`)
    expect(page.status).toBe(200)
    const metrics = new Map(rows(page.doc, 'table.metrics').map((r) => [r[0], r[1]]))
    const m = result.metrics
    const pct = (v: number) => `${(v * 100).toFixed(2)} %`
    expect(metrics.get('totalReturn')).toBe(pct(m.totalReturn))
    expect(metrics.get('maxDrawdown')).toBe(pct(m.maxDrawdown.depth))
    expect(metrics.get('sharpe')).toBe(m.sharpe.toFixed(2))
    expect(metrics.get('trades')).toBe(String(m.trades!.trades))
    expect(metrics.get('endEquity')).toBe(m.endEquity.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }))
    // The equity axis: labels like "1,100,000" end 9 px left of the axis; at 11 px a character is at most
    // 0.62 em wide (0.32 em for a comma): each label's left edge is inside the SVG (x ≥ 0).
    const svg = page.doc.querySelector('#equity-chart svg[aria-label="equity"]')
    const labels = [...svg.querySelectorAll('g[aria-label="y-axis tick label"] text')]
    expect(labels.length).toBeGreaterThan(2)
    expect(labels.some((t: any) => /^\d,\d{3},\d{3}$/.test(t.textContent))).toBe(true)
    const shift = Number(/translate\((-?[\d.]+)/.exec(svg.querySelector('g[aria-label="y-axis tick label"]').getAttribute('transform'))![1])
    for (const t of labels as any[]) {
      const x = Number(/translate\(([\d.]+)/.exec(t.getAttribute('transform'))![1]) + shift
      const width = [...(t.textContent as string)].reduce((w, ch) => w + (ch === ',' ? 0.32 : 0.62) * 11, 0)
      expect(x - width, t.textContent).toBeGreaterThanOrEqual(0)
    }
  })

  it("a metric's history is charted in the unit the metrics table shows it in (totalReturn 12.34 % in both)", async () => {
    const page = await get(`/runs/${ids.history}`)
    expect(page.status).toBe(200)
    const metrics = new Map(rows(page.doc, 'table.metrics').map((r) => [r[0], r[1]]))
    expect(metrics.get('totalReturn')).toBe('12.34 %')
    const units = new Map<string, string>()
    const yLabels = new Map<string, string>()
    for (const box of page.doc.querySelectorAll('[data-chart]')) {
      const data = JSON.parse(box.getAttribute('data-chart'))
      units.set(data.series[0].label, data.unit)
      yLabels.set(data.series[0].label, box.querySelector('g[aria-label="y-axis label"] text')?.textContent ?? '')
    }
    expect(Object.fromEntries(units)).toEqual({ totalReturn: 'percent', fees: 'money', holdMs: 'duration', widgets: 'number' })
    // Plot's axis: the fraction drawn as a percentage, labelled so.
    expect(yLabels.get('totalReturn')).toContain('totalReturn (%)')
    expect(yLabels.get('widgets')).not.toContain('%')
  })

  it('each artifact links to its viewer and to its download', async () => {
    const page = await get(`/runs/${ids.backtest}`)
    const links = [...page.doc.querySelectorAll('a')].map((a: any) => a.getAttribute('href') as string)
    const artifacts = [...new Set(links.filter((h) => h.includes('/artifacts/')))]
    expect(artifacts).toContain(`/runs/${ids.backtest}/artifacts/view?path=equity.parquet`)
    expect(artifacts).toContain(`/api/runs/${ids.backtest}/artifacts/equity.parquet`)
    const view = await get(`/runs/${ids.backtest}/artifacts/view?path=equity.parquet`)
    expect(view.status).toBe(200)
  })

  it('an equity table that cannot be charted is a note; the rest of the page is shown', async () => {
    const page = await get(`/runs/${ids.broken}`)
    expect(page.status).toBe(200)
    expect(page.text).toMatch(/Its equity curve or trades cannot be shown: .*1 equity point/)
    expect(new Map(rows(page.doc, 'table.metrics').map((r) => [r[0], r[1]])).get('sharpe')).toBe('0.25')
  })

  it('escapes hostile names, symbols, params and query values; a bad sort is a 400 page naming it', async () => {
    const page = await get(`/runs/${ids.hostile}`)
    expect(page.status).toBe(200)
    expect(page.text).not.toContain(HOSTILE)
    expect(page.text).not.toContain('<script>x')
    expect(page.doc.querySelectorAll('main img').length).toBe(0)
    expect(rows(page.doc, 'table.trades')[0]![0]).toBe(HOSTILE)
    const bad = await get(`/runs/${ids.hand}?tsort=${encodeURIComponent('<script>alert(1)</script>')}`)
    expect(bad.status).toBe(400)
    expect(bad.doc.querySelector('[role=alert]').textContent).toMatch(/^tsort must be one of symbol, side, entry/)
    expect(bad.text).not.toContain('<script>alert(1)')
    const dir = await get(`/runs/${ids.hand}?tsort=pnl&tdir=sideways`)
    expect(dir.status).toBe(400)
    expect(dir.doc.querySelector('[role=alert]').textContent).toMatch(/^tdir must be asc or desc/)
  })
})
