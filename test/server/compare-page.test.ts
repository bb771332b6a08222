// The compare page over a real socket: a 100k and a 1M run overlay with equity rebased to 1.0 (default), as %
// return or raw amounts (?rebase=1|pct|raw; anything else a 400 page naming the parameter); metrics with units,
// the best value of each row marked and the difference to the first run beside the others; the parameters
// that differ first, the equal ones folded; long curves thinned to ≤ 2,000 points with their extremes; hostile
// names and params escaped.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { getPage, type Page } from './http.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 1)
let home: string
let server: Listening
const ids: Record<string, string> = {}

const get = (path: string): Promise<Page> => getPage(server, workspaceToken(home), path)

function chartData(doc: any, id: string): any {
  return JSON.parse(doc.querySelector(`#${id}`).getAttribute('data-chart'))
}

/** Each row's cells (text) and classes, by the row's first cell. */
function metricRows(doc: any): Map<string, { cells: string[]; best: boolean[]; differs: boolean }> {
  const out = new Map<string, { cells: string[]; best: boolean[]; differs: boolean }>()
  for (const tr of doc.querySelectorAll('table.compare-metrics tbody tr')) {
    const tds = [...tr.querySelectorAll('td')].slice(1) as any[]
    out.set(tr.querySelector('td').textContent, { cells: tds.map((td) => td.textContent), best: tds.map((td) => (td.getAttribute('class') ?? '').split(' ').includes('best')), differs: tr.getAttribute('class') === 'differs' })
  }
  return out
}

/** The vertices of an SVG path "M x,y L x,y …". */
function vertices(d: string): number[][] {
  return [...d.matchAll(/[ML]([-\d.e]+),([-\d.e]+)/g)].map((m) => [Number(m[1]), Number(m[2])])
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-compare-'))
  const tracker = new Tracker(home)
  const make = (name: string, params: Record<string, string | number>, metrics: Record<string, number>, equity: number[]) => {
    const run = tracker.startRun({ experiment: 'compare', name, params })
    run.logMetrics(metrics)
    run.logBatch({ metrics: equity.map((value, i) => ({ key: 'equity', value, step: i, timestamp: T0 + i * DAY })) })
    run.end()
    return run.id
  }
  ids.small = make('small', { strategy: 'sma', fast: 10, slow: 30 }, { sharpe: 1.5, maxDrawdown: 0.1, totalReturn: 0.1234, trades: 7 }, [100_000, 110_000, 99_000])
  ids.large = make('large', { strategy: 'sma', fast: 20, slow: 30 }, { sharpe: 1.15, maxDrawdown: 0.05, totalReturn: 0.15, trades: 7 }, [1_000_000, 1_050_000, 1_100_000])
  ids.hostile = make(HOSTILE, { strategy: '<script>alert(2)</script>', fast: 10, slow: 30 }, { sharpe: 0 }, [100, 101])
  // 10,000 points: a sine wave with one spike (step 4,321) and one trough (step 7,654).
  const long = Array.from({ length: 10_000 }, (_, i) => 1000 + 10 * Math.sin(i / 100))
  long[4321] = 5000
  long[7654] = 10
  ids.long = make('long', { strategy: 'sma', fast: 10, slow: 30 }, { sharpe: 1 }, long)
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})

afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('/compare', () => {
  it('equity rebased to 1.0 by default: a 100k and a 1M run start at the same point', async () => {
    const page = await get(`/compare?runs=${ids.small},${ids.large}`)
    expect(page.status).toBe(200)
    const data = chartData(page.doc, 'equity-chart')
    // 100,000 → 110,000 → 99,000 is 1 → 1.1 → 0.99; 1,000,000 → 1,050,000 → 1,100,000 is 1 → 1.05 → 1.1.
    expect(data.series.map((s: any) => s.y)).toEqual([
      [1, 1.1, 0.99],
      [1, 1.05, 1.1],
    ])
    expect(data.rule).toBe(1)
    // Drawn so too: both lines begin at the same pixel.
    const paths = [...page.doc.querySelectorAll('#equity-chart g[aria-description="equity curves"] path')].map((p: any) => vertices(p.getAttribute('d')))
    expect(paths).toHaveLength(2)
    expect(paths[0]![0]).toEqual(paths[1]![0])
    // The second run ends higher (1.1 > 0.99): its last vertex is higher on the page (smaller y).
    expect(paths[1]!.at(-1)![1]).toBeLessThan(paths[0]!.at(-1)![1]!)
    expect(page.doc.querySelector('p.rebase strong').textContent).toBe('rebased to 1.0')
  })

  it('?rebase=pct: returns since the start; ?rebase=raw: the amounts; each cached apart', async () => {
    const pct = await get(`/compare?runs=${ids.small},${ids.large}&rebase=pct`)
    const data = chartData(pct.doc, 'equity-chart')
    expect(data.unit).toBe('percent')
    expect(data.series.map((s: any) => s.y.map((v: number) => Math.round(v * 1e9) / 1e9))).toEqual([
      [0, 0.1, -0.01],
      [0, 0.05, 0.1],
    ])
    const rawPage = await get(`/compare?runs=${ids.small},${ids.large}&rebase=raw`)
    expect(chartData(rawPage.doc, 'equity-chart').series.map((s: any) => s.y[0])).toEqual([100_000, 1_000_000])
    // The toggle links keep the runs.
    const links = [...rawPage.doc.querySelectorAll('p.rebase a')].map((a: any) => a.getAttribute('href'))
    expect(links).toEqual([`?runs=${encodeURIComponent(`${ids.small},${ids.large}`)}&rebase=1`, `?runs=${encodeURIComponent(`${ids.small},${ids.large}`)}&rebase=pct`])
    expect(chartData((await get(`/compare?runs=${ids.small},${ids.large}`)).doc, 'equity-chart').series[0].y[0]).toBe(1)
  })

  it('a bad rebase is a 400 page naming the parameter, escaped', async () => {
    const bad = await get(`/compare?runs=${ids.small},${ids.large}&rebase=${encodeURIComponent('<script>x</script>')}`)
    expect(bad.status).toBe(400)
    expect(bad.doc.querySelector('[role=alert]').textContent).toMatch(/^rebase must be 1, pct or raw \(received "<script>x<\/script>"\)/)
    expect(bad.text).not.toContain('<script>x')
  })

  it('metrics with units, the best of each row marked, differences to the first run', async () => {
    const page = await get(`/compare?runs=${ids.small},${ids.large}`)
    const rows = metricRows(page.doc)
    // sharpe: higher is better (1.5); 1.15 − 1.5 = −0.35.
    expect(rows.get('sharpe')).toEqual({ cells: ['1.50', '1.15 (-0.35)'], best: [true, false], differs: true })
    // maxDrawdown: lower is better (5 %); 0.05 − 0.1 = −5 percentage points.
    expect(rows.get('maxDrawdown')).toEqual({ cells: ['10.00 %', '5.00 % (-5.00 pp)'], best: [false, true], differs: true })
    // totalReturn: 0.15 − 0.1234 = +2.66 percentage points.
    expect(rows.get('totalReturn')).toEqual({ cells: ['12.34 %', '15.00 % (+2.66 pp)'], best: [false, true], differs: true })
    // trades: equal, no better, no difference.
    expect(rows.get('trades')).toEqual({ cells: ['7', '7'], best: [false, false], differs: false })
  })

  it('the parameters that differ first; the equal ones folded below', async () => {
    const page = await get(`/compare?runs=${ids.small},${ids.large}`)
    const differ = [...page.doc.querySelectorAll('table.params-differ tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent))
    expect(differ).toEqual([['fast', '10', '20']])
    const same = [...page.doc.querySelectorAll('details.params-same table tbody tr')].map((tr: any) => tr.querySelector('td').textContent)
    expect(same).toEqual(['slow', 'strategy'])
    expect(page.doc.querySelector('details.params-same summary').textContent).toBe('2 parameter(s) the same in every run')
    expect(page.text.indexOf('<table class="params-differ"')).toBeGreaterThan(0)
    expect(page.text.indexOf('<table class="params-differ"')).toBeLessThan(page.text.indexOf('<details class="params-same"'))
  })

  it('thins a 10,000-point curve to at most 2,000 points, keeping its spike and trough', async () => {
    const page = await get(`/compare?runs=${ids.long},${ids.small}&rebase=raw`)
    const series = chartData(page.doc, 'equity-chart').series[0]
    expect(series.label).toBe('long')
    expect(series.y.length).toBeLessThanOrEqual(2000)
    expect(series.y.length).toBeGreaterThan(1000)
    expect(series.t[series.y.indexOf(5000)]).toBe(T0 + 4321 * DAY)
    expect(series.t[series.y.indexOf(10)]).toBe(T0 + 7654 * DAY)
    expect(series.t[0]).toBe(T0)
    expect(series.t.at(-1)).toBe(T0 + 9999 * DAY)
    const path = page.doc.querySelector('#equity-chart g[aria-description="equity curves"] path')
    expect(vertices(path.getAttribute('d')).length).toBe(series.y.length)
  })

  it('escapes hostile run names and params', async () => {
    const page = await get(`/compare?runs=${ids.small},${ids.hostile}`)
    expect(page.status).toBe(200)
    expect(page.text).not.toContain(HOSTILE)
    expect(page.text).not.toContain('<script>alert(2)')
    expect(page.doc.querySelectorAll('main img, main script').length).toBe(0)
    expect(chartData(page.doc, 'equity-chart').series[1].label).toBe(HOSTILE)
    const differ = [...page.doc.querySelectorAll('table.params-differ tbody tr')].map((tr: any) => tr.querySelector('td:nth-child(3)').textContent)
    expect(differ).toContain('<script>alert(2)</script>')
  })
})
