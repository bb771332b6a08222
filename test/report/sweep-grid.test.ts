// The sweep grid on hand-worked sweeps: a 3×3 with an isolated peak and a 4×5 plateau with missing cells
// (every median worked out below), slicing against aggregation, non-numeric and numeric-looking params,
// ties, NaN/Infinity metrics ignored, the default axes/metric/direction and the isolated-peak rule; and
// the charts drawn from it (lib/report/sweep-charts.ts) at the sizes where they change form; binned axes
// (a random study's floats: quantile ranges, worked out by hand) and metric values in their unit.

import { describe, expect, it } from 'vitest'
import { parseHTML } from 'linkedom'
import { ConfigError } from '../../lib/core/index.js'
import { DETAILED_CELLS, sweepHeatmap, sweepParallel } from '../../lib/report/sweep-charts.js'
import { defaultAxes, defaultDirection, gridCell, robustnessVerdict, sweepGrid, sweepParams, type SweepChild, type SweepGrid } from '../../lib/report/sweep-grid.js'
import { fmtMetric } from '../../lib/report/metric-units.js'

let n = 0
function child(params: Record<string, string | number>, metrics: Record<string, number>): SweepChild {
  return { runId: `r${++n}`, params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), metrics }
}

/** The grid's values as rows (y) of columns (x), undefined where no run fell. */
function values(grid: SweepGrid): (number | undefined)[][] {
  return grid.y.values.map((_, yi) => grid.x.values.map((_, xi) => gridCell(grid, xi, yi)?.value))
}

describe('a 3×3 sweep with one isolated peak', () => {
  // sharpe by slow (rows) × fast (columns):
  //            fast=5  fast=10  fast=20
  //  slow=30    0.2     0.4      0.1
  //  slow=50    0.3     2.0      0.5
  //  slow=100   0.6     0.0      0.8
  const table: [number, number, number][] = [
    [5, 30, 0.2], [10, 30, 0.4], [20, 30, 0.1],
    [5, 50, 0.3], [10, 50, 2.0], [20, 50, 0.5],
    [5, 100, 0.6], [10, 100, 0.0], [20, 100, 0.8],
  ]
  // Given out of order: the axes must come out sorted numerically (5 < 10 < 20, not "10" < "20" < "5").
  const children = [...table].reverse().map(([fast, slow, sharpe]) => child({ fast, slow }, { sharpe, trades: 10 }))
  const grid = sweepGrid(children)

  it('defaults: x and y tie on 3 values each → by name (fast, slow); sharpe; higher is better', () => {
    expect(grid.x.name).toBe('fast')
    expect(grid.y.name).toBe('slow')
    expect(grid.x.values).toEqual(['5', '10', '20'])
    expect(grid.y.values).toEqual(['30', '50', '100'])
    expect(grid.x.numeric).toBe(true)
    expect(grid.metric).toBe('sharpe')
    expect(grid.direction).toBe('max')
    expect(values(grid)).toEqual([
      [0.2, 0.4, 0.1],
      [0.3, 2.0, 0.5],
      [0.6, 0.0, 0.8],
    ])
    expect(grid.used).toBe(9)
  })

  it('the best cell (fast=10, slow=50) and the neighbourhood medians', () => {
    expect(grid.best).toMatchObject({ xi: 1, yi: 1, value: 2.0, count: 1 })
    // Its run: the one logged with fast=10 slow=50.
    const run = children.find((c) => c.params.fast === '10' && c.params.slow === '50')!
    expect(grid.best!.runId).toBe(run.runId)
    // Centre: all 8 others sorted 0.0 0.1 0.2 0.3 | 0.4 0.5 0.6 0.8 → (0.3 + 0.4) / 2 = 0.35.
    expect(grid.best!.robustness).toBeCloseTo(0.35, 12)
    // Corner (fast=5, slow=30): 0.4, 0.3, 2.0 → median 0.4.
    expect(gridCell(grid, 0, 0)!.robustness).toBeCloseTo(0.4, 12)
    // Edge (fast=20, slow=50): 0.4 0.1 2.0 0.0 0.8 → sorted 0.0 0.1 0.4 0.8 2.0 → 0.4.
    expect(gridCell(grid, 2, 1)!.robustness).toBeCloseTo(0.4, 12)
    // Corner (fast=20, slow=100): 2.0 0.5 0.0 → 0.5.
    expect(gridCell(grid, 2, 2)!.robustness).toBeCloseTo(0.5, 12)
  })

  it('verdict: neighbours 0.35 against a peak of 2.0 (ratio 0.175 < 0.5) → isolated', () => {
    expect(grid.verdict!.kind).toBe('isolated')
    expect(grid.verdict!.best).toBe(2.0)
    expect(grid.verdict!.neighbours).toBeCloseTo(0.35, 12)
    expect(grid.verdict!.ratio).toBeCloseTo(0.175, 12)
  })

  it('x and y swapped by the caller: the grid transposes', () => {
    const swapped = sweepGrid(children, { x: 'slow', y: 'fast' })
    expect(values(swapped)).toEqual([
      [0.2, 0.3, 0.6],
      [0.4, 2.0, 0.0],
      [0.1, 0.5, 0.8],
    ])
    // Only y given: x is the other default.
    expect(sweepGrid(children, { y: 'fast' }).x.name).toBe('slow')
  })
})

describe('a 4×5 plateau with missing cells and a non-numeric parameter', () => {
  // a (columns) is numeric: 1 2 3 10 (lexically it would be 1 10 2 3); b (rows) is not: code-unit order
  // b1 < b10 < b2 < b9 < c. "—": no run.
  //          a=1   a=2   a=3   a=10
  //  b=b1    1.0   1.2   1.1   0.2
  //  b=b10   1.3   1.5   1.4   0.1
  //  b=b2    1.2   1.6   1.4    —
  //  b=b9    0.9   1.0   1.1   0.3
  //  b=c     0.5    —    0.7   0.4
  const rows: [string, (number | undefined)[]][] = [
    ['b1', [1.0, 1.2, 1.1, 0.2]],
    ['b10', [1.3, 1.5, 1.4, 0.1]],
    ['b2', [1.2, 1.6, 1.4, undefined]],
    ['b9', [0.9, 1.0, 1.1, 0.3]],
    ['c', [0.5, undefined, 0.7, 0.4]],
  ]
  const as = ['1', '2', '3', '10']
  const children: SweepChild[] = []
  for (const [b, cells] of [...rows].reverse()) cells.forEach((v, i) => v !== undefined && children.push(child({ a: as[i]!, b }, { sharpe: v })))
  const grid = sweepGrid(children, { x: 'a', y: 'b' })

  it('axes: a numeric, b by code unit; the values and the two holes', () => {
    expect(grid.x.values).toEqual(['1', '2', '3', '10'])
    expect(grid.y.values).toEqual(['b1', 'b10', 'b2', 'b9', 'c'])
    expect(grid.y.numeric).toBe(false)
    expect(values(grid)).toEqual(rows.map(([, cells]) => cells))
    expect(gridCell(grid, 3, 2)).toBeUndefined()
    expect(gridCell(grid, 1, 4)).toBeUndefined()
  })

  it('defaults put the parameter with more values (b: 5) on x', () => {
    const d = sweepGrid(children)
    expect([d.x.name, d.y.name]).toEqual(['b', 'a'])
  })

  it('medians with missing neighbours skipped', () => {
    // Best (a=2, b=b2) = 1.6: 1.3 1.5 1.4 1.2 1.4 0.9 1.0 1.1 → sorted 0.9 1.0 1.1 1.2 | 1.3 1.4 1.4 1.5 → 1.25.
    expect(grid.best).toMatchObject({ xi: 1, yi: 2, value: 1.6 })
    expect(grid.best!.robustness).toBeCloseTo(1.25, 12)
    // (a=3, b=b2) = 1.4: 1.5 1.4 0.1 1.6 [hole] 1.0 1.1 0.3 → 0.1 0.3 1.0 1.1 1.4 1.5 1.6 → 1.1.
    expect(gridCell(grid, 2, 2)!.robustness).toBeCloseTo(1.1, 12)
    // (a=1, b=c) = 0.5: 0.9 1.0 [hole] → 0.95.
    expect(gridCell(grid, 0, 4)!.robustness).toBeCloseTo(0.95, 12)
    // (a=10, b=c) = 0.4: 1.1 0.3 0.7 → 0.7.
    expect(gridCell(grid, 3, 4)!.robustness).toBeCloseTo(0.7, 12)
    // (a=10, b=b10) = 0.1: 1.1 0.2 1.4 1.4 [hole] → 0.2 1.1 1.4 1.4 → 1.25.
    expect(gridCell(grid, 3, 1)!.robustness).toBeCloseTo(1.25, 12)
  })

  it('verdict: 1.25 / 1.6 = 0.78125 ≥ 0.5 → robust', () => {
    expect(grid.verdict).toMatchObject({ kind: 'robust', best: 1.6 })
    expect(grid.verdict!.ratio).toBeCloseTo(0.78125, 12)
  })
})

describe('the other parameters: sliced or aggregated', () => {
  // fast × slow × stop, sharpe:
  //  stop=1: (10,50)=1 (20,50)=2 (10,100)=3 (20,100)=4
  //  stop=2: (10,50)=0 (20,50)=1 (10,100)=2 (20,100)=9   ← the best run: (20, 100, stop 2)
  const data: [number, number, number, number][] = [
    [10, 50, 1, 1], [20, 50, 1, 2], [10, 100, 1, 3], [20, 100, 1, 4],
    [10, 50, 2, 0], [20, 50, 2, 1], [10, 100, 2, 2], [20, 100, 2, 9],
  ]
  const children = data.map(([fast, slow, stop, sharpe]) => child({ fast, slow, stop }, { sharpe }))

  it('default: stop sliced at the best run’s value (2)', () => {
    const grid = sweepGrid(children)
    expect([grid.x.name, grid.y.name]).toEqual(['fast', 'slow'])
    expect(grid.fixed).toEqual({ stop: '2' })
    expect(values(grid)).toEqual([
      [0, 1],
      [2, 9],
    ])
    expect(grid.bestRun).toEqual({ runId: children[7]!.runId, value: 9 })
    expect(grid.best!.runId).toBe(children[7]!.runId)
    expect(grid.used).toBe(4)
  })

  it('sliced at stop=1 by choice', () => {
    const grid = sweepGrid(children, { fixed: { stop: '1' } })
    expect(values(grid)).toEqual([
      [1, 2],
      [3, 4],
    ])
    expect(grid.best).toMatchObject({ xi: 1, yi: 1, value: 4, runId: children[3]!.runId })
  })

  it('a slice named for an axis parameter is ignored, whatever its value', () => {
    const grid = sweepGrid(children, { x: 'fast', y: 'stop', fixed: { fast: '10', slow: '100', stop: 'not a value' } })
    // slow = 100: stop=1 row (10,100)=3 (20,100)=4; stop=2 row 2, 9.
    expect(values(grid)).toEqual([
      [3, 4],
      [2, 9],
    ])
    expect(grid.fixed).toEqual({ slow: '100' })
  })

  it('aggregated over stop: mean, median, max, min of the two runs per cell', () => {
    const by = (aggregate: 'mean' | 'median' | 'max' | 'min') => values(sweepGrid(children, { others: 'aggregate', aggregate }))
    expect(by('mean')).toEqual([
      [0.5, 1.5],
      [2.5, 6.5],
    ])
    expect(by('median')).toEqual([
      [0.5, 1.5],
      [2.5, 6.5],
    ])
    expect(by('max')).toEqual([
      [1, 2],
      [3, 9],
    ])
    expect(by('min')).toEqual([
      [0, 1],
      [2, 4],
    ])
    const grid = sweepGrid(children, { fixed: { stop: '*' } })
    expect(grid.fixed).toEqual({ stop: '*' })
    expect(grid.cells.every((c) => c!.count === 2 && c!.runId === undefined)).toBe(true)
    expect(grid.used).toBe(8)
  })

  it('an odd cell of three runs 1, 2, 9: median 2, mean 4', () => {
    const three = [1, 2, 9].map((sharpe, i) => child({ fast: 1, slow: 1, seed: i }, { sharpe }))
    const other = child({ fast: 2, slow: 1, seed: 0 }, { sharpe: 0 })
    expect(gridCell(sweepGrid([...three, other], { x: 'fast', y: 'slow', aggregate: 'median', others: 'aggregate' }), 0, 0)!.value).toBe(2)
    expect(gridCell(sweepGrid([...three, other], { x: 'fast', y: 'slow', aggregate: 'mean', others: 'aggregate' }), 0, 0)!.value).toBe(4)
  })
})

describe('ties, non-finite metrics, directions and refusals', () => {
  it('ties: the best cell is the first in row-major order, the best run the first given', () => {
    // rows slow=1: [1, 3]; slow=2: [3, 2] → best (fast=2, slow=1), not (fast=1, slow=2).
    const children = [child({ fast: 1, slow: 2 }, { sharpe: 3 }), child({ fast: 1, slow: 1 }, { sharpe: 1 }), child({ fast: 2, slow: 1 }, { sharpe: 3 }), child({ fast: 2, slow: 2 }, { sharpe: 2 })]
    const grid = sweepGrid(children)
    expect(grid.best).toMatchObject({ xi: 1, yi: 0, value: 3 })
    expect(grid.bestRun!.runId).toBe(children[0]!.runId)
  })

  it('NaN, ±Infinity and a missing metric are ignored (counted as unscored); a cell of only those is a hole', () => {
    const children = [
      child({ fast: 1, slow: 1 }, { sharpe: 1 }),
      child({ fast: 1, slow: 1 }, { sharpe: Number.NaN }),
      child({ fast: 2, slow: 1 }, { sharpe: Number.POSITIVE_INFINITY }),
      child({ fast: 1, slow: 2 }, { sharpe: 2 }),
      child({ fast: 2, slow: 2 }, { sharpe: Number.NEGATIVE_INFINITY }),
      child({ fast: 2, slow: 2 }, { trades: 4 }),
      child({ fast: 2, slow: 2 }, { sharpe: 0.5 }),
    ]
    const grid = sweepGrid(children, { aggregate: 'mean' })
    expect(values(grid)).toEqual([
      [1, undefined],
      [2, 0.5],
    ])
    // (1,1) holds one finite run, so it links to it even though a NaN run shares its parameters.
    expect(gridCell(grid, 0, 0)).toMatchObject({ count: 1, runId: children[0]!.runId })
    expect(grid.unscored).toBe(4)
    expect(grid.used).toBe(3)
    expect(grid.best).toMatchObject({ xi: 0, yi: 1, value: 2 })
  })

  it('direction: drawdown-like metrics are better lower by default; the caller can say otherwise', () => {
    expect(defaultDirection('maxDrawdown')).toBe('min')
    expect(defaultDirection('logLoss')).toBe('min')
    expect(defaultDirection('volatility')).toBe('min')
    expect(defaultDirection('sharpe')).toBe('max')
    // The compare page's rule (metricDirection): fees lower, avgLoss (a negative mean) higher.
    expect(defaultDirection('fees')).toBe('min')
    expect(defaultDirection('test.fees')).toBe('min')
    expect(defaultDirection('avgLoss')).toBe('max')
    expect(defaultDirection('totalReturn')).toBe('max')
    const children = [child({ fast: 1, slow: 1 }, { maxDrawdown: 0.3 }), child({ fast: 2, slow: 1 }, { maxDrawdown: 0.1 }), child({ fast: 1, slow: 2 }, { maxDrawdown: 0.2 }), child({ fast: 2, slow: 2 }, { maxDrawdown: 0.4 })]
    const low = sweepGrid(children)
    expect(low.metric).toBe('maxDrawdown')
    expect(low.direction).toBe('min')
    expect(low.best).toMatchObject({ xi: 1, yi: 0, value: 0.1 })
    expect(sweepGrid(children, { direction: 'max' }).best).toMatchObject({ xi: 1, yi: 1, value: 0.4 })
  })

  it('default metric: sharpe, else the objective, else the first by name', () => {
    const a = [child({ p: 1, q: 1 }, { zeta: 1, cagr: 2 }), child({ p: 2, q: 1 }, { zeta: 1, cagr: 3 })]
    expect(sweepGrid(a).metric).toBe('cagr')
    expect(sweepGrid(a, { objective: 'zeta' }).metric).toBe('zeta')
    expect(sweepGrid(a, { objective: 'absent' }).metric).toBe('cagr')
    const b = [child({ p: 1, q: 1 }, { zeta: 1, sharpe: 2 })]
    expect(sweepGrid(b, { objective: 'zeta' }).metric).toBe('sharpe')
  })

  it('refuses unknown axes, metric, aggregate, fixed values, and x = y, naming the option', () => {
    const children = [child({ fast: 1, slow: 1, stop: 1 }, { sharpe: 1 }), child({ fast: 2, slow: 1, stop: 2 }, { sharpe: 2 })]
    const refused = (options: Parameters<typeof sweepGrid>[1]) => {
      try {
        sweepGrid(children, options)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return (error as Error).message
      }
      throw new Error('not refused')
    }
    expect(refused({ x: 'nope' })).toMatch(/^x must be one of the sweep's parameters \(fast, slow, stop\); received "nope"/)
    expect(refused({ y: 'nope' })).toMatch(/^y must be/)
    expect(refused({ x: 'fast', y: 'fast' })).toMatch(/x and y must be two different/)
    expect(refused({ metric: 'sortino' })).toMatch(/^metric must be .*\(sharpe\); received "sortino"/)
    expect(refused({ aggregate: 'sum' as never })).toMatch(/^aggregate must be one of mean, median, max, min/)
    expect(refused({ x: 'fast', y: 'slow', fixed: { stop: '3' } })).toMatch(/value of stop must be one of its values \(1, 2\) or \*/)
    expect(refused({ fixed: { ghost: '1' } })).toMatch(/no parameter named "ghost"/)
    expect(() => sweepGrid([child({ only: 1 }, { sharpe: 1 })])).toThrow(/needs two parameters/)
  })
})

describe('the isolated-peak rule (threshold t = 0.5)', () => {
  const cell = (value: number, robustness?: number) => ({ xi: 0, yi: 0, value, count: 1, ...(robustness === undefined ? {} : { robustness }) })
  it('higher is better, positive peak: isolated when the neighbours are below half of it', () => {
    expect(robustnessVerdict(cell(2, 0.99), 'max').kind).toBe('isolated')
    expect(robustnessVerdict(cell(2, 1), 'max').kind).toBe('robust') // exactly half: not isolated
    expect(robustnessVerdict(cell(2, 1), 'max').ratio).toBe(0.5)
  })
  it('lower is better: isolated when the neighbours are above 1.5 × the best', () => {
    expect(robustnessVerdict(cell(0.1, 0.16), 'min').kind).toBe('isolated')
    expect(robustnessVerdict(cell(0.1, 0.14), 'min').kind).toBe('robust')
  })
  it('a negative best: shortfall against half its magnitude; no neighbours → alone', () => {
    // −0.2 vs −0.5: short by 0.3 > 0.1.
    expect(robustnessVerdict(cell(-0.2, -0.5), 'max').kind).toBe('isolated')
    expect(robustnessVerdict(cell(-0.2, -0.25), 'max').kind).toBe('robust')
    expect(robustnessVerdict(cell(1), 'max')).toEqual({ kind: 'alone', best: 1 })
    expect(robustnessVerdict(cell(0, 0), 'max').ratio).toBeUndefined()
  })
})

describe('the charts at the sizes where they change form', () => {
  const svg = (html: string) => parseHTML(`<!DOCTYPE html><html><body>${html}</body></html>`).document

  it('a small grid: a linked, titled rect per cell, the best outlined, the legend from the best to the worst value', () => {
    const children = [1, 2, 3].flatMap((f) => [1, 2, 3].map((s) => child({ fast: f, slow: s }, { sharpe: f * s })))
    const doc = svg(sweepHeatmap(sweepGrid(children), { runHref: (id) => `/r/${id}` }))
    expect(doc.querySelectorAll('rect.cell')).toHaveLength(9)
    expect(doc.querySelectorAll('a')).toHaveLength(9)
    expect(doc.querySelectorAll('rect.cell title')).toHaveLength(9)
    // Best: 3 × 3 = 9 at (2, 2); its run's link.
    expect(doc.querySelector('a[href="/r/' + children[8]!.runId + '"] rect').getAttribute('data-value')).toBe('9')
    expect(doc.querySelectorAll('rect.best')).toHaveLength(1)
    // sharpe is a ratio: two decimals.
    expect([...doc.querySelectorAll('g.legend text')].map((t: any) => t.textContent)).toEqual(['sharpe', '9.00', '1.00', 'higher is better'])
    expect(doc.querySelector('rect.cell[data-xi="0"][data-yi="0"] title').textContent).toBe("fast=1, slow=1\nsharpe 1.00 (1 run)\nneighbours' median 2.00")
  })

  it(`past ${DETAILED_CELLS} cells: bare cells (no title, no link) carrying count and neighbours' median, every axis value kept for the readout`, () => {
    // 60 × 50 = 3,000 cells, sharpe = f + s / 100; names, not numbers (numbers would be binned): "f01" … "f60", "s01" … "s50".
    const children: SweepChild[] = []
    const name = (prefix: string, i: number) => `${prefix}${String(i).padStart(2, '0')}`
    for (let f = 1; f <= 60; f++) for (let s = 1; s <= 50; s++) children.push(child({ fast: name('f', f), slow: name('s', s) }, { sharpe: f + s / 100 }))
    const grid = sweepGrid(children)
    const doc = svg(sweepHeatmap(grid))
    expect(doc.querySelectorAll('rect.cell')).toHaveLength(3000)
    expect(doc.querySelectorAll('a')).toHaveLength(0)
    expect(doc.querySelectorAll('rect.cell title')).toHaveLength(0)
    expect([...doc.querySelectorAll('rect.cell')].every((r: any) => r.getAttribute('data-n') === '1')).toBe(true)
    // Corner (fast 1, slow 1): neighbours 2.01, 1.02, 2.02 → 2.01.
    expect(Number(doc.querySelector('rect.cell[data-xi="0"][data-yi="0"]').getAttribute('data-r'))).toBeCloseTo(2.01, 12)
    // 12-px columns: every 2nd x label drawn, the other 30 kept hidden; 10-px rows: the same for y.
    for (const axis of ['x', 'y']) {
      const shown = [...doc.querySelectorAll(`g.${axis}-axis text.tick`)].map((t: any) => Number(t.getAttribute('data-i')))
      const hidden = [...doc.querySelectorAll(`g.${axis}-axis text.hidden-tick`)].map((t: any) => Number(t.getAttribute('data-i')))
      const n = axis === 'x' ? 60 : 50
      expect(shown).toHaveLength(n / 2)
      expect([...shown, ...hidden].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
    }
    expect(doc.querySelector('g.x-axis text.hidden-tick[data-i="1"]').textContent).toBe('f02')
    expect(doc.querySelector('rect.best')).not.toBeNull()
  })

  it('extreme values (±1e308 params and metrics, whose difference overflows) draw finite coordinates and colours', () => {
    const children = [child({ a: -1e308, b: 1 }, { sharpe: -1e308 }), child({ a: 1e308, b: 1 }, { sharpe: 1e308 }), child({ a: 0, b: 2 }, { sharpe: 0 }), child({ a: 1e308, b: 2 }, { sharpe: 5 })]
    const grid = sweepGrid(children)
    const html = sweepHeatmap(grid) + sweepParallel(children, sweepParams(children), 'sharpe', 'max', { bestRunId: grid.bestRun!.runId }).svg
    expect(html).not.toMatch(/NaN|Infinity|undefined/)
    const doc = svg(html)
    // a = 0 sits halfway up its axis: y = 40 + 0.5 × 282 = 181; the best (a = 1e308, sharpe 1e308) at the top of both.
    const lines = [...doc.querySelectorAll('svg.sweep-parallel polyline')].map((l: any) => l.getAttribute('points'))
    expect(lines.some((p: string) => p.startsWith('14,181 '))).toBe(true)
    expect(doc.querySelector('polyline.best').getAttribute('points')).toMatch(/^14,40 .* \d+,40$/)
    // −1e308, 1e308 at the two ends; 0 and 5 both (to 4 digits) halfway: three colours.
    expect(new Set([...doc.querySelectorAll('rect.cell')].map((r: any) => r.getAttribute('fill'))).size).toBe(3)
  })

  it('parallel coordinates: 2,500 runs sampled to 2,000 lines (every 1.25th), the best run kept although the stride skips it', () => {
    const children: SweepChild[] = []
    for (let i = 0; i < 2500; i++) children.push(child({ a: i % 50, b: Math.floor(i / 50), constant: 7 }, { sharpe: i === 4 ? 100 : i / 2500 }))
    // The stride takes floor(1.25 k): 0, 1, 2, 3, 5, … — index 4 (the best) is not among them.
    const pc = sweepParallel(children, sweepParams(children), 'sharpe', 'max', { bestRunId: children[4]!.runId })
    expect(pc.runs).toBe(2500)
    expect(pc.drawn).toBe(2000)
    const doc = svg(pc.svg)
    expect(doc.querySelectorAll('polyline')).toHaveLength(2000)
    expect(doc.querySelectorAll('polyline.best')).toHaveLength(1)
    // Axes: a and b (constant has one value, no axis) and the metric; each line has one vertex per axis.
    expect(doc.querySelectorAll('g.axis')).toHaveLength(3)
    expect(doc.querySelector('polyline.best').getAttribute('points').split(' ')).toHaveLength(3)
    // The best's metric vertex at the top of the plot (y = 40), the worst at the bottom (y = 340 − 18 = 322).
    expect(doc.querySelector('polyline.best').getAttribute('points').split(' ')[2]).toMatch(/,40$/)
  })
})

describe('binned axes: a numeric parameter with more distinct values than `bins`', () => {
  // x = 0.1, 0.2, … 1.2 (one run each), y = 1 for odd i and 2 for even i, sharpe = i² / 10:
  //   i     1    2    3    4    5    6    7    8    9    10    11    12
  //   y     1    2    1    2    1    2    1    2    1    2     1     2
  //   sharpe 0.1 0.4  0.9  1.6  2.5  3.6  4.9  6.4  8.1  10    12.1  14.4
  // bins = 4 over 12 runs: 3 runs a bin, x ∈ [0.1–0.3] [0.4–0.6] [0.7–0.9] [1–1.2]. Means per cell:
  //          0.1–0.3              0.4–0.6              0.7–0.9              1–1.2
  //   y=1   (0.1+0.9)/2 = 0.5     2.5 (i=5)            (4.9+8.1)/2 = 6.5    12.1 (i=11)
  //   y=2   0.4 (i=2)             (1.6+3.6)/2 = 2.6    6.4 (i=8)            (10+14.4)/2 = 12.2
  const twelve = Array.from({ length: 12 }, (_, k) => {
    const i = k + 1
    return child({ x: (i / 10).toFixed(1), y: i % 2 === 1 ? 1 : 2 }, { sharpe: (i * i) / 10, totalReturn: i / 100 })
  })

  it('12 values and the default 12 bins: not binned, one column per value', () => {
    const grid = sweepGrid(twelve, { x: 'x', y: 'y' })
    expect(grid.x.bins).toBeUndefined()
    expect(grid.x.values).toHaveLength(12)
    expect(grid.bins).toBe(12)
  })

  it('bins = 4: four ranges of three runs, labelled lo–hi, each cell the mean of its runs', () => {
    const grid = sweepGrid(twelve, { x: 'x', y: 'y', bins: 4 })
    expect(grid.x.values).toEqual(['0.1–0.3', '0.4–0.6', '0.7–0.9', '1–1.2'])
    expect(grid.x.bins).toEqual([
      { lo: 0.1, hi: 0.3, runs: 3, values: 3 },
      { lo: 0.4, hi: 0.6, runs: 3, values: 3 },
      { lo: 0.7, hi: 0.9, runs: 3, values: 3 },
      { lo: 1, hi: 1.2, runs: 3, values: 3 },
    ])
    // y has 2 values: not binned.
    expect(grid.y.bins).toBeUndefined()
    expect(grid.y.values).toEqual(['1', '2'])
    const got = values(grid)
    const expected = [
      [0.5, 2.5, 6.5, 12.1],
      [0.4, 2.6, 6.4, 12.2],
    ]
    expected.forEach((row, yi) => row.forEach((v, xi) => expect(got[yi]![xi], `${xi},${yi}`).toBeCloseTo(v, 12)))
    expect(gridCell(grid, 0, 0)!.count).toBe(2)
    expect(gridCell(grid, 1, 0)!.count).toBe(1)
    // A cell of one run still links to it.
    expect(gridCell(grid, 1, 0)!.runId).toBe(twelve[4]!.runId)
    expect(grid.used).toBe(12)
  })

  it('bins = 4: the best cell and the verdict judged on the binned grid', () => {
    const grid = sweepGrid(twelve, { x: 'x', y: 'y', bins: 4 })
    // Best 12.2 at (1–1.2, y=2); its neighbours 6.5, 12.1, 6.4 → median 6.5; 12.2 − 6.5 = 5.7 ≤ 6.1 → robust, 6.5 / 12.2 = 0.5328.
    expect(grid.best).toMatchObject({ xi: 3, yi: 1, count: 2 })
    expect(grid.best!.value).toBeCloseTo(12.2, 12)
    expect(grid.verdict!.kind).toBe('robust')
    expect(grid.verdict!.neighbours).toBeCloseTo(6.5, 12)
    expect(grid.verdict!.ratio).toBeCloseTo(6.5 / 12.2, 12)
    // agg = max: (0.1–0.3, y=1) is max(0.1, 0.9) = 0.9.
    expect(gridCell(sweepGrid(twelve, { x: 'x', y: 'y', bins: 4, aggregate: 'max' }), 0, 0)!.value).toBe(0.9)
  })

  it('the heatmap of a binned grid: range labels, and tooltips naming each range, the run count and the value in its unit', () => {
    const doc = parseHTML(`<!DOCTYPE html><html><body>${sweepHeatmap(sweepGrid(twelve, { x: 'x', y: 'y', bins: 4 }))}</body></html>`).document
    expect([...doc.querySelectorAll('g.x-axis text.tick title')].map((t: any) => t.textContent)).toEqual(['0.1–0.3', '0.4–0.6', '0.7–0.9', '1–1.2'])
    expect(doc.querySelector('g.x-axis').hasAttribute('data-binned')).toBe(true)
    expect(doc.querySelector('g.y-axis').hasAttribute('data-binned')).toBe(false)
    // (0.4–0.6, y=2): 2.6 of runs 4 and 6; neighbours 0.5 2.5 6.5 0.4 6.4 → sorted 0.4 0.5 2.5 6.4 6.5 → 2.5.
    expect(doc.querySelector('rect.cell[data-xi="1"][data-yi="1"] title').textContent).toBe("x in 0.4–0.6, y=2\nsharpe 2.60 (mean of 2 runs)\nneighbours' median 2.50")
    // totalReturn = i / 100 is a fraction: percentages. (1–1.2, y=2): (10 + 12) / 2 = 11 %; its neighbours
    // (0.7–0.9, y=1) (7 + 9) / 2 = 8 %, (1–1.2, y=1) 11 %, (0.7–0.9, y=2) 8 % → median 8 %. The worst
    // cells: (0.1–0.3, y=1) (1 + 3) / 2 and (0.1–0.3, y=2) 2, both 2 %.
    const pct = parseHTML(`<!DOCTYPE html><html><body>${sweepHeatmap(sweepGrid(twelve, { x: 'x', y: 'y', bins: 4, metric: 'totalReturn' }))}</body></html>`).document
    expect(pct.querySelector('rect.cell[data-xi="3"][data-yi="1"] title').textContent).toBe("x in 1–1.2, y=2\ntotalReturn 11.00 % (mean of 2 runs)\nneighbours' median 8.00 %")
    expect([...pct.querySelectorAll('g.legend text')].map((t: any) => t.textContent)).toEqual(['totalReturn', '11.00 %', '2.00 %', 'higher is better'])
  })

  it('a value held by more runs than a bin’s share gets a bin of its own; the others share the rest', () => {
    // x: 1, 2, 3 once each, 4 six times, 5 and 6 once (11 runs) into 3 bins. Share 11/3 ≈ 3.7: 1, 2, 3 make 3
    // runs (taking 4 would make 9); 4 alone is 6 (share of the 8 left over 2 bins: 4); 5 and 6 the last bin.
    const xs = [1, 2, 3, 4, 4, 4, 4, 4, 4, 5, 6]
    const runs = xs.map((x, i) => child({ x, y: i % 2 }, { sharpe: x }))
    const grid = sweepGrid(runs, { x: 'x', y: 'y', bins: 3 })
    expect(grid.x.values).toEqual(['1–3', '4', '5–6'])
    expect(grid.x.bins!.map((b) => b.runs)).toEqual([3, 6, 2])
    // "4.0" reads as 4: the same bin.
    const again = sweepGrid([...runs, child({ x: '4.0', y: 0 }, { sharpe: 4 })], { x: 'x', y: 'y', bins: 3 })
    expect(again.x.bins!.map((b) => b.runs)).toEqual([3, 7, 2])
  })

  it('never fewer than min(bins, distinct values) ranges: a heavy last value does not swallow the bins before it', () => {
    // x = 1 … 19 once each, then 20 in 81 runs (100 runs), 12 bins. The share 100/12 ≈ 8.3 closes [1–8] at 8 runs;
    // from then on the 11 values left must fill the 11 bins left, so 9–10 share one and 11 … 19 and 20 get one each.
    const xs = [...Array.from({ length: 19 }, (_, i) => i + 1), ...Array.from({ length: 81 }, () => 20)]
    const grid = sweepGrid(
      xs.map((x, i) => child({ x, y: i % 2 }, { sharpe: 1 })),
      { x: 'x', y: 'y' },
    )
    expect(grid.x.values).toEqual(['1–8', '9–10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20'])
    expect(grid.x.bins!.map((b) => b.runs)).toEqual([8, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 81])
  })

  it('bins out of 2–50 or not whole: refused, naming bins', () => {
    for (const bins of [1, 51, 2.5, Number.NaN]) expect(() => sweepGrid(twelve, { x: 'x', y: 'y', bins }), String(bins)).toThrow(/^bins must be a whole number from 2 to 50/)
  })

  // 1,000 random-search trials: lr and wd uniform floats (every value distinct), m a third float, and
  // sharpe a smooth hill in (lr, wd) plus a little noise, as a study's trials would be.
  let seed = 7
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  const trials = Array.from({ length: 1000 }, () => {
    const lr = rnd()
    const wd = rnd()
    return child({ lr: String(lr), wd: String(wd), m: String(rnd()) }, { sharpe: 2 - 4 * ((lr - 0.3) ** 2 + (wd - 0.6) ** 2) + 0.05 * rnd() })
  })

  it('1,000 random trials: a 12 × 12 grid of ranges holding 83 or 84 runs each, every cell filled, and a verdict', () => {
    const grid = sweepGrid(trials, { x: 'lr', y: 'wd' })
    expect(grid.x.values).toHaveLength(12)
    expect(grid.y.values).toHaveLength(12)
    for (const axis of [grid.x, grid.y]) {
      const bins = axis.bins!
      // 1,000 / 12 = 83.3: each range holds 83 or 84 runs, the ranges in order and not overlapping.
      expect(bins.every((b) => b.runs === 83 || b.runs === 84), axis.name).toBe(true)
      expect(bins.reduce((n, b) => n + b.runs, 0)).toBe(1000)
      for (let k = 1; k < bins.length; k++) expect(bins[k]!.lo).toBeGreaterThan(bins[k - 1]!.hi)
    }
    // m, a float too, is aggregated over by default (sliced at one exact value, the grid would hold one run).
    expect(grid.fixed).toEqual({ m: '*' })
    expect(grid.used).toBe(1000)
    expect(grid.cells.filter((c) => c !== undefined).length).toBeGreaterThan(130)
    // Each cell is the mean of the runs whose lr and wd lie in its two ranges (an oracle filtering by range).
    for (const cell of grid.cells) {
      if (cell === undefined) continue
      const bx = grid.x.bins![cell.xi]!
      const by = grid.y.bins![cell.yi]!
      const inside = trials.filter((t) => Number(t.params.lr) >= bx.lo && Number(t.params.lr) <= bx.hi && Number(t.params.wd) >= by.lo && Number(t.params.wd) <= by.hi)
      expect(cell.count).toBe(inside.length)
      expect(cell.value).toBeCloseTo(inside.reduce((a, t) => a + t.metrics.sharpe!, 0) / inside.length, 12)
    }
    // The best cell has neighbours, so it is judged: the hill is smooth, so robust; it lies near the top (lr 0.3, wd 0.6).
    expect(grid.best!.robustness).toBeDefined()
    expect(grid.verdict!.kind).toBe('robust')
    const bx = grid.x.bins![grid.best!.xi]!
    const by = grid.y.bins![grid.best!.yi]!
    expect(bx.lo).toBeLessThan(0.4)
    expect(bx.hi).toBeGreaterThan(0.2)
    expect(by.lo).toBeLessThan(0.7)
    expect(by.hi).toBeGreaterThan(0.5)
  })

  it('1,000 random trials: parallel coordinates keep the raw values (one line per run, placed by its own lr)', () => {
    const grid = sweepGrid(trials, { x: 'lr', y: 'wd' })
    const params = sweepParams(trials)
    const pc = sweepParallel(trials, params, 'sharpe', 'max', { bestRunId: grid.bestRun!.runId })
    expect(pc.drawn).toBe(1000)
    const doc = parseHTML(`<!DOCTYPE html><html><body>${pc.svg}</body></html>`).document
    // Axes lr, m, wd, sharpe; the best run's first vertex at y = 40 + (1 − (lr − min) / (max − min)) × 282.
    const lrs = trials.map((t) => Number(t.params.lr))
    const lo = Math.min(...lrs)
    const hi = Math.max(...lrs)
    const best = trials.find((t) => t.runId === grid.bestRun!.runId)!
    const y = 40 + (1 - (Number(best.params.lr) - lo) / (hi - lo)) * 282
    const first = doc.querySelector('polyline.best').getAttribute('points').split(' ')[0].split(',')
    expect(Number(first[1])).toBeCloseTo(y, 1)
    // The metric axis's ticks in sharpe's unit (two decimals).
    expect(fmtMetric('sharpe', 1.5)).toBe('1.50')
    const ticks = [...doc.querySelectorAll('g.axis[data-axis="3"] text:not(.axis-name) title')].map((t: any) => t.textContent)
    expect(ticks).toHaveLength(5)
    expect(ticks.every((t: string) => /^-?\d+\.\d\d$/.test(t)), ticks.join(' ')).toBe(true)
  })
})

describe('a grid past the cell budget (MAX_SWEEP_CELLS = 250,000)', () => {
  // 600 children, each a distinct `id` (text) and `tag` (text): 600 × 600 = 360,000 cells > 250,000.
  // `seed` has 3 values: 600 × 3 = 1,800 cells fits.
  const kids = Array.from({ length: 600 }, (_, i) => child({ id: `id-${i}`, tag: `t${i}`, seed: i % 3 }, { sharpe: i / 100 }))
  it('x and y both 600-value text parameters: a ConfigError naming x and y, the cell count, "choose other axes"', () => {
    let thrown: unknown
    try {
      sweepGrid(kids, { x: 'id', y: 'tag' })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    const message = (thrown as Error).message
    expect(message).toContain('x and y')
    expect(message).toContain('360,000 cells')
    expect(message).toContain('choose other axes')
  })
  it('the default axes skip that pair: id (600 values, first by name of the two) × seed (3 values), 1,800 cells', () => {
    expect(defaultAxes(sweepParams(kids))).toEqual(['id', 'seed'])
    const grid = sweepGrid(kids)
    expect([grid.x.name, grid.y.name]).toEqual(['id', 'seed'])
    expect(grid.cells.length).toBe(1800)
  })
  it('only x (or only y) given as a big one: the other defaults to the largest that fits, seed (id and tag do not)', () => {
    const grid = sweepGrid(kids, { x: 'tag' })
    expect([grid.x.name, grid.y.name]).toEqual(['tag', 'seed'])
    const flipped = sweepGrid(kids, { y: 'tag' })
    expect([flipped.x.name, flipped.y.name]).toEqual(['seed', 'tag'])
  })
  it('a numeric axis is counted as its bins: 600 distinct floats × a 600-value text parameter is 12 × 600 cells', () => {
    const floats = Array.from({ length: 600 }, (_, i) => child({ lr: 0.001 * (i + 1), tag: `t${i}` }, { sharpe: i }))
    const grid = sweepGrid(floats, { x: 'lr', y: 'tag' })
    expect(grid.cells.length).toBe(12 * 600)
  })
  it('6,000 × 6,000 text values is refused quickly (no 36 M cells walked)', () => {
    const big = Array.from({ length: 6000 }, (_, i) => child({ a: `a${i}`, b: `b${i}` }, { sharpe: i }))
    const params = sweepParams(big)
    const started = performance.now()
    expect(() => sweepGrid(big, { x: 'a', y: 'b', params })).toThrow(/36,000,000 cells/)
    expect(performance.now() - started).toBeLessThan(500)
  })
})
