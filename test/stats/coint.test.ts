// ADF and Engle–Granger against statsmodels 0.13.5 on the log European index closes
// (test/fixtures/reference/coint-eustock-log.json): statistics to 1e-6 relative, p-values to 1e-4.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { adf, coint, halfLife, hedgeRatio, mackinnoncrit, mackinnonp, nestedSsr, ols } from '../../lib/stats/index.js'
import { ROOT } from '../helpers.js'

interface AdfRef { stat: number; pvalue: number; usedlag: number; nobs: number }
interface PairRef { y: string; x: string; maxlag: number | null; autolag: string | null; stat: number; pvalue: number; crit_1_5_10: number[]; alpha: number; beta: number; half_life: number }
const ref = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/reference/coint-eustock-log.json'), 'utf8')) as { adf: Record<string, AdfRef>; pairs: PairRef[] }

const lines = readFileSync(join(ROOT, 'data/samples/eustockmarkets-1991-1998.csv'), 'utf8').trim().split('\n')
const header = lines[0]!.split(',').map((h) => h.replace(/"/g, ''))
const logs: Record<string, Float64Array> = {}
for (const name of ['DAX', 'SMI', 'CAC', 'FTSE']) {
  const j = header.indexOf(name)
  logs[name] = Float64Array.from(lines.slice(1), (l) => Math.log(Number(l.split(',')[j])))
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300)

describe('ADF against statsmodels adfuller(regression="c")', () => {
  for (const [key, r] of Object.entries(ref.adf)) {
    it(key, () => {
      const [name, mode] = key.split('_') as [string, string]
      const options = mode === 'aic' ? { autolag: 'aic' as const } : { maxlag: Number(mode.replace('maxlag', '')), autolag: null }
      const ours = adf(logs[name]!, options)
      expect(rel(ours.stat, r.stat), `stat ${ours.stat} vs ${r.stat}`).toBeLessThan(1e-6)
      expect(Math.abs(ours.pvalue - r.pvalue), `p ${ours.pvalue} vs ${r.pvalue}`).toBeLessThan(1e-4)
      expect(ours.usedlag).toBe(r.usedlag)
      expect(ours.nobs).toBe(r.nobs)
    })
  }
})

describe('Engle–Granger against statsmodels coint(trend="c")', () => {
  for (const r of ref.pairs) {
    it(`${r.y} on ${r.x}, ${r.autolag === null ? `maxlag ${r.maxlag}` : 'autolag aic'}`, () => {
      const ours = coint(logs[r.y]!, logs[r.x]!, r.autolag === null ? { maxlag: r.maxlag!, autolag: null } : { autolag: 'aic' })
      expect(rel(ours.stat, r.stat), `stat ${ours.stat} vs ${r.stat}`).toBeLessThan(1e-6)
      expect(Math.abs(ours.pvalue - r.pvalue), `p ${ours.pvalue} vs ${r.pvalue}`).toBeLessThan(1e-4)
      ours.crit.forEach((c, k) => expect(rel(c, r.crit_1_5_10[k]!)).toBeLessThan(1e-6))
      const h = hedgeRatio(logs[r.y]!, logs[r.x]!)
      expect(rel(h.alpha, r.alpha)).toBeLessThan(1e-6)
      expect(rel(h.beta, r.beta)).toBeLessThan(1e-6)
      const spread = logs[r.y]!.map((v, i) => v - (h.alpha + h.beta * logs[r.x]![i]!))
      expect(rel(halfLife(spread), r.half_life), `half-life ${halfLife(spread)} vs ${r.half_life}`).toBeLessThan(1e-6)
    })
  }
})

describe('MacKinnon surfaces', () => {
  it('give the published asymptotic critical values and p-values at them', () => {
    // MacKinnon (2010) Table 1, N = 1, constant: −3.43035, −2.86154, −2.56677.
    expect(mackinnoncrit(1, 'c')).toEqual([-3.43035, -2.86154, -2.56677])
    // p at the asymptotic 5 % critical value is about 0.05 (the surfaces are approximations).
    expect(mackinnonp(-2.86154, 'c', 1)).toBeCloseTo(0.05, 2)
    expect(mackinnonp(-3.33613, 'c', 2)).toBeCloseTo(0.05, 2)
    expect(mackinnonp(5, 'c', 1)).toBe(1)
    expect(mackinnonp(-30, 'c', 1)).toBe(0)
  })
})

describe('the AIC lag search from one factorisation (nestedSsr)', () => {
  it('gives every lag the AIC its own least-squares fit gives, and so the same chosen lag', () => {
    for (const [name, regression] of [['DAX', 'c'], ['FTSE', 'ct'], ['SMI', 'n']] as const) {
      const x = logs[name]!
      const maxlag = 12
      const dx = Float64Array.from({ length: x.length - 1 }, (_, i) => x[i + 1]! - x[i]!)
      const rows = dx.length - maxlag
      const start = dx.length - rows
      // Each lag fitted on its own (the plain way), on the sample the largest lag leaves.
      const aics = Array.from({ length: maxlag + 1 }, (_, lag) => {
        const cols: Float64Array[] = []
        if (regression !== 'n') cols.push(new Float64Array(rows).fill(1))
        if (regression === 'ct') cols.push(Float64Array.from({ length: rows }, (_, r) => r + 1))
        cols.push(x.subarray(start, start + rows))
        for (let l = 1; l <= lag; l++) cols.push(dx.subarray(start - l, start - l + rows))
        return ols(dx.subarray(start), cols).aic
      })
      const best = aics.indexOf(Math.min(...aics))
      const ours = adf(x, { maxlag, autolag: 'aic', regression })
      expect(ours.usedlag).toBe(best)
      expect(rel(ours.icbest!, aics[best]!)).toBeLessThan(1e-12)
      const ssr = nestedSsr(dx.subarray(start), [x.subarray(start, start + rows), dx.subarray(start - 1, start - 1 + rows)])
      expect(rel(ssr[0]!, ols(dx.subarray(start), [x.subarray(start, start + rows)]).ssr)).toBeLessThan(1e-12)
      expect(rel(ssr[1]!, ols(dx.subarray(start), [x.subarray(start, start + rows), dx.subarray(start - 1, start - 1 + rows)]).ssr)).toBeLessThan(1e-12)
    }
  })
})
