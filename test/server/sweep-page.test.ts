// A sweep parent's page over a real socket: child runs logged through the Tracker as `mtflow sweep` logs
// them; the heatmap's cells, the best cell and the verdict for the default view and for each query choice
// (slice, aggregate, other axes), worked out by hand below; hostile parameter values and query values
// escaped; bad choices a 400 page naming the parameter; the render time of a 1,000-child sweep; a random
// study's float parameters binned (`bins`), worked out by hand; metric values shown in their unit.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { createStudy, gridSampler } from '../../lib/tune/index.js'

const fetch = (url: string) => globalThis.fetch(url, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })

let home: string
let server: Listening
const ids: Record<string, string> = {}
let children: string[] = []

// sharpe by (fast, slow) for each stop:
//   stop=2                          stop=1
//            f=5  f=10  f=20                 f=5  f=10  f=20
//   s=30     0.2  0.4   0.1         s=30     1.0  1.1   0.9
//   s=50     0.3  2.0   0.5         s=50     1.2  1.3   1.1
//   s=100    0.6  0.0   0.8         s=100    1.0  1.2   1.0
// The best run: fast=10 slow=50 stop=2 (2.0), so by default stop is sliced at 2.
const FAST = [5, 10, 20]
const SLOW = [30, 50, 100]
const SHARPE: Record<number, number[][]> = {
  2: [
    [0.2, 0.4, 0.1],
    [0.3, 2.0, 0.5],
    [0.6, 0.0, 0.8],
  ],
  1: [
    [1.0, 1.1, 0.9],
    [1.2, 1.3, 1.1],
    [1.0, 1.2, 1.0],
  ],
}

const SCRIPT = '<script>alert(1)</script>'
const BREAKOUT = '"><img src=x onerror=alert(2)>'
const SVG_BREAKOUT = '"><svg onload=alert(3)>'

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-sweep-page-'))
  const tracker = new Tracker(home)
  const sweep = tracker.startRun({ experiment: 'sweeps', name: 'ma sweep', params: { strategy: 'sma-cross', metric: 'sharpe' }, tags: { 'mtflow.kind': 'sweep' } })
  const sets: { name: string; params: Record<string, number>; metrics: Record<string, number>; tags: Record<string, string> }[] = []
  for (const stop of [1, 2]) {
    SLOW.forEach((slow, yi) =>
      FAST.forEach((fast, xi) => sets.push({ name: `fast=${fast} slow=${slow} stop=${stop}`, params: { fast, slow, stop }, metrics: { sharpe: SHARPE[stop]![yi]![xi]!, trades: 10 + xi }, tags: { 'mtflow.kind': 'sweep-set' } })),
    )
  }
  children = sweep.logChildren(sets)
  sweep.end()
  ids.sweep = sweep.id

  // Hostile values: a parameter whose values are markup, two whose values break out of an attribute (the
  // third, constant, is sliced: its value is an <option> of the form).
  const hostile = tracker.startRun({ experiment: 'sweeps', name: 'hostile sweep', tags: { 'mtflow.kind': 'sweep' } })
  hostile.logChildren([
    { params: { 'odd name/with:chars': SCRIPT, other: BREAKOUT, third: SVG_BREAKOUT }, metrics: { sharpe: 1 } },
    { params: { 'odd name/with:chars': SCRIPT, other: 'plain', third: SVG_BREAKOUT }, metrics: { sharpe: 2 } },
    { params: { 'odd name/with:chars': "it's", other: BREAKOUT, third: SVG_BREAKOUT }, metrics: { sharpe: 3 } },
    { params: { 'odd name/with:chars': "it's", other: 'plain', third: SVG_BREAKOUT }, metrics: { sharpe: 4 } },
  ])
  hostile.end()
  ids.hostile = hostile.id

  // A study (minimizes by default, and does not log its direction): trials as child runs with `value` and
  // `intermediate`; loss = (x − 2)² + (y − 1)² over x ∈ {0 … 4}, y ∈ {0, 1, 2}, the minimum 0 at (2, 1).
  const studyRun = tracker.startRun({ experiment: 'sweeps', name: 'study' })
  const study = createStudy({ run: studyRun, sampler: gridSampler({ values: { x: [0, 1, 2, 3, 4], y: [0, 1, 2] } }) })
  await study.optimize((t) => {
    const x = t.suggestInt('x', 0, 4)
    const y = t.suggestInt('y', 0, 2)
    t.report(100 + x, 0)
    return (x - 2) ** 2 + (y - 1) ** 2
  })
  studyRun.end()
  ids.study = studyRun.id

  const plain = tracker.startRun({ experiment: 'sweeps', name: 'plain', params: { fast: 1 } })
  plain.logMetrics({ sharpe: 1 })
  plain.end()
  ids.plain = plain.id

  // 1,000 children: fast 1..40 × slow 1..25, sharpe a smooth hill (the page's render time at scale).
  const big = tracker.startRun({ experiment: 'big', name: 'big sweep', params: { metric: 'sharpe' }, tags: { 'mtflow.kind': 'sweep' } })
  const many = []
  for (let f = 1; f <= 40; f++) for (let s = 1; s <= 25; s++) many.push({ params: { fast: f, slow: s * 4, stop: (f * s) % 3 }, metrics: { sharpe: 2 - ((f - 20) / 20) ** 2 - ((s - 12) / 12) ** 2, trades: f + s, maxDrawdown: 0.1 + f / 100 } })
  big.logChildren(many)
  big.end()
  ids.big = big.id

  // A random search: 1,000 trials of two uniform floats (every value distinct), sharpe a smooth hill.
  const random = tracker.startRun({ experiment: 'random', name: 'random study' })
  let seed = 11
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  const trials = Array.from({ length: 1000 }, (_, i) => {
    const lr = rnd()
    const wd = rnd()
    return { name: `t${i}`, params: { lr: String(lr), wd: String(wd) }, metrics: { sharpe: 2 - 4 * ((lr - 0.3) ** 2 + (wd - 0.6) ** 2) } }
  })
  random.end()
  tracker.logChildRuns(random.id, trials)
  ids.random = random.id

  // Twelve runs, x = 0.1 … 1.2, y alternating 1 and 2, sharpe = i² / 10 (the hand-worked grid below).
  const twelve = tracker.startRun({ experiment: 'sweeps', name: 'twelve' })
  twelve.logChildren(
    Array.from({ length: 12 }, (_, k) => {
      const i = k + 1
      return { params: { x: (i / 10).toFixed(1), y: i % 2 === 1 ? 1 : 2 }, metrics: { sharpe: (i * i) / 10 } }
    }),
  )
  twelve.end()
  ids.twelve = twelve.id

  // totalReturn (a fraction) by a × b; the best 0.1234 at (2, 2):
  //          a=1     a=2     a=3
  //   b=1    0.01    0.02    0.03
  //   b=2    0.04    0.1234  0.05
  //   b=3   −0.05    0.02    0.04
  const returns = tracker.startRun({ experiment: 'sweeps', name: 'returns', params: { metric: 'totalReturn' } })
  const TR = [
    [0.01, 0.02, 0.03],
    [0.04, 0.1234, 0.05],
    [-0.05, 0.02, 0.04],
  ]
  returns.logChildren(TR.flatMap((row, bi) => row.map((totalReturn, ai) => ({ params: { a: ai + 1, b: bi + 1 }, metrics: { totalReturn } }))))
  returns.end()
  ids.returns = returns.id

  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

async function get(path: string): Promise<{ status: number; text: string; doc: any; ms: number }> {
  const t0 = performance.now()
  const response = await fetch(`${server.url}${path}`)
  const text = await response.text()
  const ms = performance.now() - t0
  return { status: response.status, text, doc: parseHTML(text).document, ms }
}

/** The heatmap's cells as { "xi,yi": value }. */
function cells(doc: any): Record<string, number> {
  const out: Record<string, number> = {}
  for (const rect of doc.querySelectorAll('svg.sweep-heatmap rect.cell')) out[`${rect.getAttribute('data-xi')},${rect.getAttribute('data-yi')}`] = Number(rect.getAttribute('data-value'))
  return out
}

function grid(rows: number[][]): Record<string, number> {
  const out: Record<string, number> = {}
  rows.forEach((row, yi) => row.forEach((v, xi) => (out[`${xi},${yi}`] = v)))
  return out
}

function best(doc: any): string {
  const b = doc.querySelector('svg.sweep-heatmap rect.best')
  // The outline sits 1.5 px inside its cell: find the cell it outlines.
  const x = Number(b.getAttribute('x')) - 1.5
  const y = Number(b.getAttribute('y')) - 1.5
  const cell = [...doc.querySelectorAll('svg.sweep-heatmap rect.cell')].find((r: any) => Number(r.getAttribute('x')) === x && Number(r.getAttribute('y')) === y)
  return `${cell.getAttribute('data-xi')},${cell.getAttribute('data-yi')}`
}

function axisLabels(doc: any, axis: 'x' | 'y'): string[] {
  return [...doc.querySelectorAll(`svg.sweep-heatmap g.${axis}-axis text.tick title`)].map((t: any) => t.textContent)
}

describe('the sweep section of a parent run page', () => {
  it('default view: fast × slow at stop=2 (the best run’s), the 3×3 values, the peak outlined and called isolated', async () => {
    const { status, doc } = await get(`/runs/${ids.sweep}`)
    expect(status).toBe(200)
    const section = doc.querySelector('section#sweep')
    expect(section).not.toBeNull()
    expect(section.querySelector('h2').textContent).toBe('Sweep: sharpe by fast × slow')
    expect(axisLabels(doc, 'x')).toEqual(['5', '10', '20'])
    expect(axisLabels(doc, 'y')).toEqual(['30', '50', '100'])
    expect(cells(doc)).toEqual(grid(SHARPE[2]!))
    expect(best(doc)).toBe('1,1')
    // Neighbours of 2.0: 0.0 0.1 0.2 0.3 | 0.4 0.5 0.6 0.8 → 0.35; 0.35 / 2.0 = 0.175 → "0.18 of the best".
    const verdict = section.querySelector('.verdict')
    expect(verdict.getAttribute('data-verdict')).toBe('isolated')
    // sharpe is a ratio: two decimals.
    expect(verdict.textContent).toContain('Best cell fast=10, slow=50: sharpe 2.00; neighbours’ median 0.35 (0.18 of the best) — an isolated peak, likely overfit.')
    // The best cell is a link to its run; the form shows the current choice, stop sliced at 2.
    const bestRun = children[9 + 4]! // stop=2 is the second block of nine; (fast=10, slow=50) is its 5th set
    expect(verdict.querySelector('a').getAttribute('href')).toBe(`/runs/${bestRun}`)
    expect(doc.querySelector(`svg.sweep-heatmap a[href="/runs/${bestRun}"] rect.cell`).getAttribute('data-value')).toBe('2')
    expect(doc.querySelector('select[name="x"] option[selected]').getAttribute('value')).toBe('fast')
    expect(doc.querySelector('select[name="fix.stop"] option[selected]').getAttribute('value')).toBe('2')
    expect(doc.querySelector('form.sweep-form').getAttribute('method')).toBe('get')
    // The tooltip of the corner cell (fast=5, slow=30): 0.2, neighbours 0.4 0.3 2.0 → 0.4.
    expect(doc.querySelector('rect.cell[data-xi="0"][data-yi="0"] title').textContent).toBe("fast=5, slow=30\nsharpe 0.20 (1 run)\nneighbours' median 0.40")
    // Three values an axis: nothing binned, no bins field.
    expect(doc.querySelector('input[name="bins"]')).toBeNull()
    // Parallel coordinates: three parameter axes and the metric, one line per child run (18), the best in red.
    const pc = doc.querySelector('svg.sweep-parallel')
    expect(pc.querySelectorAll('g.axis')).toHaveLength(4)
    expect(pc.querySelectorAll('g.lines polyline')).toHaveLength(17)
    expect(pc.querySelectorAll('polyline.best')).toHaveLength(1)
    expect(pc.querySelector('polyline.best title').textContent).toContain(`best run ${bestRun}: sharpe 2.00 (fast=10, slow=50, stop=2)`)
  })

  it('?fix.stop=1: the other slice, a robust best cell', async () => {
    const { status, doc } = await get(`/runs/${ids.sweep}?fix.stop=1`)
    expect(status).toBe(200)
    expect(cells(doc)).toEqual(grid(SHARPE[1]!))
    expect(best(doc)).toBe('1,1')
    // Neighbours of 1.3: 0.9 1.0 1.0 1.0 | 1.1 1.1 1.2 1.2 → 1.05; 1.05 / 1.3 = 0.8077 → "0.81".
    const verdict = doc.querySelector('.verdict')
    expect(verdict.getAttribute('data-verdict')).toBe('robust')
    expect(verdict.textContent).toContain('sharpe 1.30; robust: neighbours’ median 1.05 (0.81 of the best)')
  })

  it('?others=aggregate&agg=mean and agg=max: each cell combines its two runs', async () => {
    const mean = await get(`/runs/${ids.sweep}?others=aggregate&agg=mean`)
    // (a + b) / 2 of the two tables, e.g. (10,50): (2.0 + 1.3) / 2 = 1.65; (5,30): (0.2 + 1.0) / 2 = 0.6.
    const expected = grid([
      [0.6, 0.75, 0.5],
      [0.75, 1.65, 0.8],
      [0.8, 0.6, 0.9],
    ])
    const got = cells(mean.doc)
    expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort())
    for (const k of Object.keys(expected)) expect(got[k]).toBeCloseTo(expected[k]!, 12)
    expect(mean.doc.querySelector('rect.cell[data-xi="1"][data-yi="1"] title').textContent).toContain('sharpe 1.65 (mean of 2 runs)')
    // Aggregated cells hold two runs each: no cell links to a run.
    expect(mean.doc.querySelectorAll('svg.sweep-heatmap a')).toHaveLength(0)
    const max = await get(`/runs/${ids.sweep}?others=aggregate&agg=max`)
    expect(cells(max.doc)).toEqual(
      grid([
        [1.0, 1.1, 0.9],
        [1.2, 2.0, 1.1],
        [1.0, 1.2, 1.0],
      ]),
    )
  })

  it('?x=slow&y=stop: fast sliced at the best run’s 10', async () => {
    const { doc } = await get(`/runs/${ids.sweep}?x=slow&y=stop`)
    expect(axisLabels(doc, 'x')).toEqual(['30', '50', '100'])
    expect(axisLabels(doc, 'y')).toEqual(['1', '2'])
    expect(cells(doc)).toEqual(
      grid([
        [1.1, 1.3, 1.2],
        [0.4, 2.0, 0.0],
      ]),
    )
    expect(doc.querySelector('select[name="fix.fast"] option[selected]').getAttribute('value')).toBe('10')
    // A slice of the parameter now on an axis (the form still sends it after x changed) is ignored.
    const stale = await get(`/runs/${ids.sweep}?x=slow&y=stop&fix.slow=30&fix.fast=20`)
    expect(stale.status).toBe(200)
    expect(cells(stale.doc)).toEqual(
      grid([
        [0.9, 1.1, 1.0],
        [0.1, 0.5, 0.8],
      ]),
    )
  })

  it('?metric=trades&dir=min: another metric, lower is better', async () => {
    const { doc } = await get(`/runs/${ids.sweep}?metric=trades&dir=min`)
    // trades = 10 + column index; the best (fewest) is column 0, first row.
    expect(best(doc)).toBe('0,0')
    expect(doc.querySelector('.verdict').textContent).toContain('Best cell fast=5, slow=30: trades 10')
  })

  it('a study: its trials’ value by default (not `intermediate`), lower is better as its best_value shows', async () => {
    const { status, doc } = await get(`/runs/${ids.study}`)
    expect(status).toBe(200)
    expect(doc.querySelector('section#sweep h2').textContent).toBe('Sweep: value by x × y')
    expect(cells(doc)).toEqual(
      grid([
        [5, 2, 1, 2, 5],
        [4, 1, 0, 1, 4],
        [5, 2, 1, 2, 5],
      ]),
    )
    expect(best(doc)).toBe('2,1')
    expect(doc.querySelector('select[name="dir"] option[value=""]').textContent).toBe('auto (lower)')
    // Neighbours of 0: 2 1 2 1 1 2 1 2 → median 1.5; lower is better and 1.5 > (2 − 0.5)·0: isolated (a best of 0 is isolated as soon as its neighbours are worse).
    expect(doc.querySelector('.verdict').getAttribute('data-verdict')).toBe('isolated')
    expect(doc.querySelector('.verdict').textContent).toContain('value 0; neighbours’ median 1.5')
  })

  it('bad choices: a 400 page naming the query parameter, its value escaped', async () => {
    const cases: [string, RegExp][] = [
      ['x=nosuch', /^x: "nosuch" is not a parameter of this sweep's child runs \(fast, slow, stop\)/],
      ['y=fast&x=fast', /^x and y: both are "fast"/],
      [`metric=${encodeURIComponent(SCRIPT)}`, /^metric: "<script>alert\(1\)<\/script>" is not a metric/],
      ['agg=sum', /^agg: must be one of mean, median, max, min; received "sum"/],
      ['dir=up', /^dir: must be max/],
      ['others=some', /^others: must be slice or aggregate/],
      ['bins=1', /^bins: must be a whole number from 2 to 50 .*; received "1"$/],
      ['bins=51', /^bins: must be a whole number from 2 to 50 .*; received "51"$/],
      ['bins=2.5', /^bins: .*received "2.5"$/],
      ['bins=1e1', /^bins: .*received "1e1"$/],
      ['bins=-4', /^bins: .*received "-4"$/],
      [`bins=${encodeURIComponent(SCRIPT)}`, /^bins: .*received "<script>alert\(1\)<\/script>"$/],
      ['fix.stop=3', /^"fix.stop": "3" is not a value of "stop" \(1, 2\)/],
      [`fix.${encodeURIComponent(BREAKOUT)}=1`, /^"fix.\\"><img src=x onerror=alert\(2\)>": no parameter named/],
    ]
    for (const [query, message] of cases) {
      const { status, text, doc } = await get(`/runs/${ids.sweep}?${query}`)
      expect(status, query).toBe(400)
      expect(doc.querySelector('.error-box').textContent, query).toMatch(message)
      expect(text).not.toContain('<script>alert')
      expect(text).not.toContain('<img src=x')
      expect(doc.querySelector('a[href$="#sweep"]')).not.toBeNull()
    }
  })

  it('hostile parameter values and names are escaped in the form, the heatmap, the tooltips and the parallel axes', async () => {
    for (const path of [`/runs/${ids.hostile}`, `/runs/${ids.hostile}?x=other&y=${encodeURIComponent('odd name/with:chars')}`, `/runs/${ids.hostile}?x=${encodeURIComponent('odd name/with:chars')}&y=other&metric=sharpe`]) {
      const { status, text, doc } = await get(path)
      expect(status, path).toBe(200)
      expect(text).not.toContain('<script>alert')
      expect(text).not.toContain('<img src=x')
      // The only script is the app's bundle (no inline script: the CSP would refuse it anyway).
      expect([...doc.querySelectorAll('script')].every((s: any) => /^\/assets\/mtflow\.[\w.]*js$/.test(s.getAttribute('src') ?? ''))).toBe(true)
      expect(doc.querySelectorAll('img')).toHaveLength(0)
      expect(doc.querySelectorAll('[onerror], [onload], section#sweep svg svg')).toHaveLength(0)
      expect(doc.querySelector('select[name="fix.third"] option[selected]').getAttribute('value')).toBe(SVG_BREAKOUT)
      // The values come back as text, intact.
      const labels = [...axisLabels(doc, 'x'), ...axisLabels(doc, 'y')]
      expect(labels).toContain(SCRIPT)
      expect(labels).toContain(BREAKOUT)
      const tips = [...doc.querySelectorAll('svg title')].map((t: any) => t.textContent).join('\n')
      expect(tips).toContain(`other=${BREAKOUT}`)
      expect(tips).toContain(`odd name/with:chars=${SCRIPT}`)
    }
  })

  it('a child logged later shows on the next request (the views of a sweep are not kept past a change of its children)', async () => {
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'sweeps', name: 'growing', tags: { 'mtflow.kind': 'sweep' } })
    run.logChildren([
      { params: { a: 1, b: 1 }, metrics: { sharpe: 1 } },
      { params: { a: 2, b: 1 }, metrics: { sharpe: 2 } },
    ])
    const before = await get(`/runs/${run.id}`)
    expect(cells(before.doc)).toEqual({ '0,0': 1, '1,0': 2 })
    await get(`/runs/${run.id}?agg=max`)
    run.logChildren([{ params: { a: 1, b: 2 }, metrics: { sharpe: 5 } }])
    run.end()
    // Past the page cache's 100 ms recheck window.
    await new Promise((resolve) => setTimeout(resolve, 150))
    for (const query of ['', '?agg=max']) {
      const after = await get(`/runs/${run.id}${query}`)
      expect(cells(after.doc), query).toEqual({ '0,0': 1, '1,0': 2, '0,1': 5 })
      expect(best(after.doc)).toBe('0,1')
    }
  })

  it('a run without child runs, or whose children share one parameter set, has no sweep section and ignores sweep query parameters', async () => {
    const { status, doc } = await get(`/runs/${ids.plain}?x=nosuch`)
    expect(status).toBe(200)
    expect(doc.querySelector('section#sweep')).toBeNull()
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'sweeps', name: 'repeats' })
    run.logChildren([
      { params: { step: 'train' }, metrics: { loss: 1 } },
      { params: { step: 'train' }, metrics: { loss: 2 } },
    ])
    run.end()
    const repeats = await get(`/runs/${run.id}?x=step`)
    expect(repeats.status).toBe(200)
    expect(repeats.doc.querySelector('section#sweep')).toBeNull()
  })

  it('two text parameters of 600 values each (360,000 cells > 250,000): refused with a 400 naming x and y; the default view and a lone x pick a third axis that fits', async () => {
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'sweeps', name: 'wide' })
    const TAG = 'tag'
    run.logChildren(Array.from({ length: 600 }, (_, i) => ({ params: { id: `id-${i}`, [TAG]: `t${i}`, seed: i % 3 }, metrics: { sharpe: i / 100 } })))
    run.end()
    const bad = await get(`/runs/${run.id}?x=id&y=${encodeURIComponent(TAG)}`)
    expect(bad.status).toBe(400)
    expect(bad.doc.querySelector('.error-box').textContent).toBe(`x and y: id (600 values) × ${TAG} (600 values) make 360,000 cells, more than the 250,000 a heatmap may have; choose other axes`)
    expect(bad.text).not.toContain('<script>alert')
    // The default axes: id (600 values, first by name of the two largest) and seed (3), 600 × 3 = 1,800 cells.
    const shown = await get(`/runs/${run.id}`)
    expect(shown.status).toBe(200)
    expect(shown.doc.querySelector('section#sweep h2').textContent).toBe('Sweep: sharpe by id × seed')
    // tag is sliced at the best run's t599: one run, in the cell (id-599, seed 599 % 3 = 2).
    expect(shown.doc.querySelector('section#sweep').textContent).toContain('1 of 1800 cells hold runs')
    const oneCell = Object.keys(cells(shown.doc))
    expect(oneCell.length).toBe(1)
    const lone = await get(`/runs/${run.id}?x=${encodeURIComponent(TAG)}`)
    expect(lone.status).toBe(200)
    expect(lone.doc.querySelector('section#sweep h2').textContent).toBe(`Sweep: sharpe by ${TAG} × seed`)
  })

  it('1,000 child runs: every cell and line drawn, the best cell the top of the hill (times printed)', async () => {
    // Uncached views (each query a new cache key), then a cached one. bins=50: fast's 40 and slow's 25 values unbinned.
    const first = await get(`/runs/${ids.big}?x=fast&y=slow&others=aggregate&agg=max&bins=50`)
    const cached = await get(`/runs/${ids.big}?x=fast&y=slow&others=aggregate&agg=max&bins=50`)
    const others = [await get(`/runs/${ids.big}?x=fast&y=slow&others=aggregate&agg=median&bins=50`), await get(`/runs/${ids.big}?metric=trades`), await get(`/runs/${ids.big}?x=slow&y=fast`)]
    process.stdout.write(`sweep page at 1,000 children: uncached ${[first, ...others].map((o) => o.ms.toFixed(1)).join(', ')} ms, cached ${cached.ms.toFixed(1)} ms, ${(first.text.length / 1024).toFixed(0)} KiB\n`)
    expect(first.status).toBe(200)
    expect(Object.keys(cells(first.doc))).toHaveLength(1000)
    // sharpe = 2 − ((f − 20)/20)² − ((s − 12)/12)²: the maximum 2 at fast=20, slow=12·4=48 (column 19, row 11).
    expect(best(first.doc)).toBe('19,11')
    expect(first.doc.querySelectorAll('svg.sweep-parallel polyline')).toHaveLength(1000)
    // The form keeps the bin count, and so does its "aggregate over every other parameter" link.
    expect(first.doc.querySelector('input[name="bins"]').getAttribute('value')).toBe('50')
    expect(first.doc.querySelector('form.sweep-form a[href*="others=aggregate"]').getAttribute('href')).toBe(`/runs/${ids.big}?x=fast&y=slow&others=aggregate&bins=50#sweep`)
    // Its speed is the server bench's (test/bench/server.ts, the sweep row), not asserted here.
  })

  it('a random study of 1,000 float trials: a 12 × 12 grid of ranges (not 1,000 × 1,000), every cell filled, and a verdict', async () => {
    const { status, doc } = await get(`/runs/${ids.random}`)
    expect(status).toBe(200)
    const section = doc.querySelector('section#sweep')
    expect(section.querySelector('h2').textContent).toBe('Sweep: sharpe by lr × wd')
    const xs = axisLabels(doc, 'x')
    const ys = axisLabels(doc, 'y')
    expect(xs).toHaveLength(12)
    expect(ys).toHaveLength(12)
    // Ranges "lo–hi", in order, not overlapping; the first starts at the smallest lr logged.
    for (const labels of [xs, ys]) {
      const ranges = labels.map((l) => l.split('–').map(Number))
      expect(ranges.every((r) => r.length === 2 && r[0]! < r[1]!), labels.join(' ')).toBe(true)
      for (let k = 1; k < ranges.length; k++) expect(ranges[k]![0]).toBeGreaterThanOrEqual(ranges[k - 1]![1]!)
    }
    expect(Object.keys(cells(doc))).toHaveLength(144)
    expect(section.textContent).toContain('144 of 144 cells hold runs (1000 runs)')
    expect(section.textContent).toContain('lr (1,000 values) and wd (1,000 values) are cut into 12 ranges holding about the same number of runs each (bins=12)')
    // Every cell's tooltip names its two ranges and its run count; the counts add up to the 1,000 trials.
    let total = 0
    for (const title of doc.querySelectorAll('svg.sweep-heatmap rect.cell title')) {
      const m = /^lr in ([^,]+), wd in ([^\n]+)\nsharpe -?[\d.]+ \((?:1 run|mean of (\d+) runs)\)\nneighbours' median -?[\d.]+$/.exec(title.textContent)
      expect(m, title.textContent).not.toBeNull()
      expect(xs).toContain(m![1])
      expect(ys).toContain(m![2])
      total += m![3] === undefined ? 1 : Number(m![3])
    }
    expect(total).toBe(1000)
    // The hill is smooth: the best cell has neighbours and is judged robust.
    expect(section.querySelector('.verdict').getAttribute('data-verdict')).toBe('robust')
    expect(section.querySelector('.verdict').textContent).toMatch(/^Best cell lr in [\d.]+–[\d.]+, wd in [\d.]+–[\d.]+: sharpe \d\.\d\d \(mean of \d+ runs\); robust: neighbours’ median \d\.\d\d/)
    // A chart that fits a page (it was 10,301 × 10,162 px), and parallel coordinates keep every run's raw values.
    const svg = doc.querySelector('svg.sweep-heatmap')
    expect(Number(svg.getAttribute('width'))).toBeLessThan(1200)
    expect(Number(svg.getAttribute('height'))).toBeLessThan(800)
    expect(doc.querySelectorAll('svg.sweep-parallel polyline')).toHaveLength(1000)
    // The form offers the bin count.
    expect(doc.querySelector('input[name="bins"]').getAttribute('value')).toBe('12')
  })

  it('?bins=4 on twelve runs x = 0.1 … 1.2: four ranges of three runs, each cell the mean of its runs, judged on the binned grid', async () => {
    // Unbinned by default: 12 values, 12 bins.
    const plain = await get(`/runs/${ids.twelve}`)
    expect(axisLabels(plain.doc, 'x')).toHaveLength(12)
    const { status, doc } = await get(`/runs/${ids.twelve}?bins=4`)
    expect(status).toBe(200)
    expect(axisLabels(doc, 'x')).toEqual(['0.1–0.3', '0.4–0.6', '0.7–0.9', '1–1.2'])
    expect(axisLabels(doc, 'y')).toEqual(['1', '2'])
    // i: 1 … 12, y = 1 for odd i, sharpe = i² / 10. (0.1–0.3, y=1): (0.1 + 0.9) / 2 = 0.5; (0.4–0.6, y=2): (1.6 + 3.6) / 2 = 2.6;
    // (0.7–0.9, y=1): (4.9 + 8.1) / 2 = 6.5; (1–1.2, y=2): (10 + 14.4) / 2 = 12.2; the others one run each.
    const expected = grid([
      [0.5, 2.5, 6.5, 12.1],
      [0.4, 2.6, 6.4, 12.2],
    ])
    const got = cells(doc)
    expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort())
    for (const k of Object.keys(expected)) expect(got[k], k).toBeCloseTo(expected[k]!, 12)
    expect(best(doc)).toBe('3,1')
    // Neighbours of 12.2: 6.5, 12.1, 6.4 → 6.5; 6.5 / 12.2 = 0.533 → robust.
    const verdict = doc.querySelector('.verdict')
    expect(verdict.getAttribute('data-verdict')).toBe('robust')
    expect(verdict.textContent).toContain('Best cell x in 1–1.2, y=2: sharpe 12.20 (mean of 2 runs); robust: neighbours’ median 6.50 (0.53 of the best)')
    expect(doc.querySelector('rect.cell[data-xi="1"][data-yi="1"] title').textContent).toBe("x in 0.4–0.6, y=2\nsharpe 2.60 (mean of 2 runs)\nneighbours' median 2.50")
    // bins is in the page's cache key: 3 bins of 4 runs right after.
    const three = await get(`/runs/${ids.twelve}?bins=3`)
    expect(axisLabels(three.doc, 'x')).toEqual(['0.1–0.4', '0.5–0.8', '0.9–1.2'])
    expect((await get(`/runs/${ids.twelve}?bins=04`)).doc.querySelector('input[name="bins"]').getAttribute('value')).toBe('4')
  })

  it('a sweep on totalReturn: the legend, the tooltips and the verdict in percent', async () => {
    const { status, doc } = await get(`/runs/${ids.returns}`)
    expect(status).toBe(200)
    expect([...doc.querySelectorAll('svg.sweep-heatmap g.legend text')].map((t: any) => t.textContent)).toEqual(['totalReturn', '12.34 %', '-5.00 %', 'higher is better'])
    // Corner (a=1, b=1): 1 %; neighbours 2 %, 4 %, 12.34 % → 4 %.
    expect(doc.querySelector('rect.cell[data-xi="0"][data-yi="0"] title').textContent).toBe("a=1, b=1\ntotalReturn 1.00 % (1 run)\nneighbours' median 4.00 %")
    // The best's neighbours −5 1 2 2 | 3 4 4 5 % → 2.5 %; 0.025 / 0.1234 = 0.2026 → "0.2 of the best": isolated.
    const verdict = doc.querySelector('.verdict')
    expect(verdict.getAttribute('data-verdict')).toBe('isolated')
    expect(verdict.textContent).toContain('Best cell a=2, b=2: totalReturn 12.34 %; neighbours’ median 2.50 % (0.2 of the best) — an isolated peak')
    // The parallel coordinates' metric axis too.
    expect(doc.querySelector('svg.sweep-parallel polyline.best title').textContent).toContain('totalReturn 12.34 % (a=2, b=2)')
  })
})
