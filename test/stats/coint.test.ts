// ADF and Engle–Granger against statsmodels 0.13.5 on the log European index closes
// (test/fixtures/reference/coint-eustock-log.json): statistics to 1e-6 relative, p-values to 1e-4.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { adf, coint, halfLife, hedgeRatio, mackinnoncrit, mackinnonp } from '../../lib/stats/index.js'
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
