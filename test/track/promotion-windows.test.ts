// Audit: promotion compares the challenger's out-of-sample figure with the champion's even when they are
// different figures — one side's walk-forward oosSharpe (500 bars), the other's holdout_sharpe (40 entries of a
// holdout period) — and never asks how many observations the champion's figure rests on.
// A review then: the observation count came from the first observation key found, whatever the family of the
// figure compared; and each side's family was its first key, though both shared another.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DecisionTreeRegressor, packageModel, registerPackage } from '../../lib/ml/index.js'
import { promoteChallenger } from '../../lib/track/promotion.js'
import { Registry } from '../../lib/track/index.js'

function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-audit-promo-'))
  const registry = new Registry(home)
  const rows = 60
  const X = Float64Array.from({ length: rows * 2 }, (_, i) => ((i * 37) % 100) / 10)
  const data = { X, rows, columns: ['z', 'mom'], y: Array.from({ length: rows }, (_, r) => X[r * 2]! / 100) }
  registerPackage(registry, 'ret', packageModel(new DecisionTreeRegressor({ maxDepth: 2 }).fit(data), { data }))
  registerPackage(registry, 'ret', packageModel(new DecisionTreeRegressor({ maxDepth: 3 }).fit(data), { data }))
  registry.setAlias('models', 'ret', 'champion', 1, 'test')
  registry.setAlias('models', 'ret', 'challenger', 2, 'test')
  return home
}

describe('audit: promotion on figures of different windows', () => {
  it('refuses walk-forward oosSharpe (champion) against holdout_sharpe (challenger)', () => {
    const home = workspace()
    const r = promoteChallenger(home, 'ret', { evidence: { champion: { metrics: { oosSharpe: 1.0, oosObservations: 500 } }, challenger: { metrics: { holdout_sharpe: 1.05, holdout_observations: 40 } } } })
    expect(r.promoted).toBe(false)
    expect(r.reason).toMatch(/different out-of-sample figures/)
    expect(new Registry(home).entry('models', 'ret').aliases).toEqual({ champion: 1, challenger: 2 })
  })
  it('refuses when the champion\'s figure rests on too few observations (a lucky 5-bar champion score is no yardstick either way)', () => {
    const home = workspace()
    const r = promoteChallenger(home, 'ret', { evidence: { champion: { metrics: { oosSharpe: -3, oosObservations: 5 } }, challenger: { metrics: { oosSharpe: 0.1, oosObservations: 500 } } } })
    expect(r.promoted).toBe(false)
  })
})

describe('review: promotion observation counts and figure families', () => {
  it('a holdout figure on 5 holdout observations is not promoted on the walk-forward bar count (500)', () => {
    const home = workspace()
    const r = promoteChallenger(home, 'ret', { rules: { metric: 'sortino' }, evidence: {
      champion: { metrics: { holdout_sortino: 1.0, holdout_observations: 100 } },
      challenger: { metrics: { oosSharpe: 0.4, oosObservations: 500, holdout_sortino: 2.0, holdout_observations: 5 } } } })
    expect(r.reason).toMatch(/5 observations/)
    expect(r.promoted).toBe(false)
  })
  it('both sides have holdout_sharpe (100 obs each): compared on it, not refused because the champion also has an oosSharpe', () => {
    const home = workspace()
    const r = promoteChallenger(home, 'ret', { evidence: {
      champion: { metrics: { oosSharpe: 1.0, oosObservations: 500, holdout_sharpe: 0.5, holdout_observations: 100 } },
      challenger: { metrics: { holdout_sharpe: 0.9, holdout_observations: 100 } } } })
    expect(r.promoted).toBe(true)
  })
})
