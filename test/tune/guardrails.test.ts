// Selection guardrails (lib/tune/select.ts): the defaults at their boundaries, options overriding them,
// --no-guardrails, the out-of-sample Sharpe read when a run has one, and each survivor's deflated Sharpe
// over the trials of its strategy or model — recomputed here with scipy from Bailey & López de Prado's formula.

import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { holdoutVerdict, type AutoMLResult } from '../../lib/tune/automl.js'
import { GUARDRAILS, selectChampions, type CandidateRun, type ReturnMoments } from '../../lib/tune/select.js'

const run = (runId: string, metrics: Record<string, number>, extra: Partial<CandidateRun> = {}): CandidateRun => ({ runId, strategy: 'sma-cross', params: { fast: Number(runId.replace(/\D/g, '')) || 1 }, metrics, ...extra })

describe('guardrails', () => {
  it('are on by default: 30 trades, Sharpe > 0, drawdown ≤ 0.5, each rule with value, threshold and outcome', () => {
    expect(GUARDRAILS).toEqual({ minTrades: 30, minSharpe: 0, maxDrawdown: 0.5 })
    const { verdicts, champions } = selectChampions(
      [
        run('r1', { sharpe: 0.01, maxDrawdown: 0.5, trades: 30 }), // every boundary met
        run('r2', { sharpe: 0.9, maxDrawdown: 0.2, trades: 29 }),
        run('r3', { sharpe: 0, maxDrawdown: 0.2, trades: 100 }), // Sharpe 0 is not > 0
        run('r4', { sharpe: 0.5, maxDrawdown: 0.5001, trades: 100 }),
        run('r5', { sharpe: 0.8, maxDrawdown: 0.1 }), // trades not logged
      ],
      {},
    )
    expect(verdicts.map((v) => v.passed)).toEqual([true, false, false, false, false])
    expect(verdicts[0]!.checks).toEqual([
      { rule: 'minTrades', metric: 'trades', value: 30, op: '≥', threshold: 30, passed: true, origin: 'guardrail' },
      { rule: 'minSharpe', metric: 'sharpe', value: 0.01, op: '>', threshold: 0, passed: true, origin: 'guardrail' },
      { rule: 'maxDrawdown', metric: 'maxDrawdown', value: 0.5, op: '≤', threshold: 0.5, passed: true, origin: 'guardrail' },
    ])
    expect(verdicts[1]!.failed).toEqual(['trades 29 < 30'])
    expect(verdicts[2]!.failed).toEqual(['sharpe 0 ≤ 0'])
    expect(verdicts[3]!.failed).toEqual(['maxDrawdown 0.5001 > 0.5'])
    expect(verdicts[4]!.failed).toEqual(['trades missing < 30'])
    expect(verdicts[4]!.checks[0]).toMatchObject({ value: null, passed: false })
    expect(champions.map((c) => c.runId)).toEqual(['r1'])
  })

  it('options override each default; --no-guardrails keeps only the rules given', () => {
    const cands = [run('r1', { sharpe: 0, maxDrawdown: 0.7, trades: 10 }), run('r2', { sharpe: -0.2, maxDrawdown: 0.1, trades: 5 })]
    const over = selectChampions(cands, { minTrades: 10, minSharpe: 0, maxDrawdown: 0.7 }).verdicts
    expect(over[0]!.passed).toBe(true) // ≥ for a given --min-sharpe: 0 passes
    expect(over[0]!.checks.map((c) => [c.rule, c.op, c.threshold, c.origin])).toEqual([['minTrades', '≥', 10, 'option'], ['minSharpe', '≥', 0, 'option'], ['maxDrawdown', '≤', 0.7, 'option']])
    expect(over[1]!.failed).toEqual(['trades 5 < 10', 'sharpe -0.2000 < 0'])
    const mixed = selectChampions(cands, { minTrades: 1 }).verdicts
    expect(mixed[0]!.checks.map((c) => c.origin)).toEqual(['option', 'guardrail', 'guardrail'])
    const off = selectChampions(cands, { guardrails: false, topK: 2 })
    expect(off.verdicts.every((v) => v.passed && v.checks.length === 0)).toBe(true)
    expect(off.champions.map((c) => c.runId)).toEqual(['r1', 'r2'])
    const onlyTrades = selectChampions(cands, { guardrails: false, minTrades: 6 }).verdicts
    expect(onlyTrades.map((v) => v.checks.map((c) => c.rule))).toEqual([['minTrades'], ['minTrades']])
    expect(onlyTrades.map((v) => v.passed)).toEqual([true, false])
  })

  it('the Sharpe rule reads an out-of-sample Sharpe when the run has one, and says which', () => {
    const { verdicts } = selectChampions(
      [
        run('r1', { sharpe: 1.5, holdout_sharpe_with: -0.1, maxDrawdown: 0.1, trades: 40 }),
        run('r2', { sharpe: -0.3, oosSharpe: 0.4, holdout_sharpe_with: -1, maxDrawdown: 0.1, trades: 40 }),
        run('r3', { sharpe: 0.3, maxDrawdown: 0.1, trades: 40 }),
      ],
      { topK: 3 },
    )
    expect(verdicts.map((v) => v.checks[1]!.metric)).toEqual(['holdout_sharpe_with', 'oosSharpe', 'sharpe'])
    expect(verdicts.map((v) => v.passed)).toEqual([false, true, true])
    expect(verdicts[0]!.failed).toEqual(['holdout_sharpe_with -0.1000 ≤ 0'])
  })

  it('bad rules are refused by name', () => {
    expect(() => selectChampions([], { maxDrawdown: 50 })).toThrow('max-drawdown is a fraction in [0, 1] (0.5 = −50 %; received 50)')
    expect(() => selectChampions([], { minDsr: 1.5 })).toThrow('min-dsr is a probability in [0, 1] (received 1.5)')
    expect(() => selectChampions([], { topK: 0 })).toThrow('top-k must be an integer ≥ 1 (received 0)')
  })
})

/** A seeded, skewed return series: a small LCG, so Python gets the very same numbers. */
function returns(n: number, seed: number, drift: number): number[] {
  let s = seed
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648
    const u = s / 2147483648
    out.push(drift + 0.01 * (u - 0.5) + (u > 0.97 ? 0.03 : 0))
  }
  return out
}

/** Bailey & López de Prado's DSR, computed by scipy from the raw returns (population skew and kurtosis, sample sd). */
function scipyDsr(r: number[], trialSharpes: number[], nTrials = trialSharpes.length): { sharpe: number; n: number; skew: number; kurtosis: number; variance: number; sr0: number; dsr: number; psr: number } {
  const script = `
import json, sys, math
import numpy as np
from scipy import stats
d = json.load(sys.stdin)
r = np.array(d["r"]); t = np.array(d["t"])
sr = r.mean() / r.std(ddof=1); n = len(r)
g3 = stats.skew(r); g4 = stats.kurtosis(r, fisher=False)
V = t.var(ddof=1); N = d["N"]; g = 0.5772156649015329
sr0 = math.sqrt(V) * ((1 - g) * stats.norm.ppf(1 - 1 / N) + g * stats.norm.ppf(1 - 1 / (N * math.e)))
den = math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr)
print(json.dumps(dict(sharpe=sr, n=n, skew=g3, kurtosis=g4, variance=V, sr0=sr0,
  dsr=stats.norm.cdf((sr - sr0) * math.sqrt(n - 1) / den), psr=stats.norm.cdf(sr * math.sqrt(n - 1) / den))))
`
  return JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify({ r, t: trialSharpes, N: nTrials }) }).toString())
}

const momentsOf = (r: number[]): ReturnMoments => {
  // The plain formulas, written out (the CLI takes them from lib/stats returnMoments of the equity curve).
  const n = r.length
  const mean = r.reduce((a, b) => a + b, 0) / n
  const d = r.map((x) => x - mean)
  const m2 = d.reduce((a, x) => a + x * x, 0) / n
  return { sharpe: mean / Math.sqrt((m2 * n) / (n - 1)), n, skew: d.reduce((a, x) => a + x ** 3, 0) / n / m2 ** 1.5, kurtosis: d.reduce((a, x) => a + x ** 4, 0) / n / (m2 * m2) }
}

describe('deflated Sharpe next to every survivor', () => {
  it('trials = the candidates of its strategy (or model); their annualised Sharpes taken per bar; DSR as scipy computes it', () => {
    const ppy = 252
    const r = returns(500, 7, 0.0012)
    const m = momentsOf(r)
    // Strategy a: five candidates (two fail a rule but still count as trials), the winner's annualised Sharpe its own.
    const a = [
      run('a1', { sharpe: m.sharpe * Math.sqrt(ppy), maxDrawdown: 0.1, trades: 40 }, { periodsPerYear: ppy }),
      run('a2', { sharpe: 0.4, maxDrawdown: 0.1, trades: 40 }, { periodsPerYear: ppy }),
      run('a3', { sharpe: -0.5, maxDrawdown: 0.1, trades: 3 }, { periodsPerYear: ppy }),
      run('a4', { sharpe: 1.1, maxDrawdown: 0.9, trades: 40 }), // a sweep-set-like trial without its periods per year: the winner's
      run('a5', { sharpe: NaN, maxDrawdown: 0, trades: 0 }, { periodsPerYear: ppy }), // no trade, no Sharpe: a trial all the same, outside the variance
    ]
    // A model's runs are their own trials group, whatever strategy they gate.
    const b = [run('b1', { sharpe: 9, maxDrawdown: 0.1, trades: 40 }, { model: { name: 'gate.AB', version: 2, threshold: 0.6 }, periodsPerYear: ppy }), run('b2', { sharpe: 8, maxDrawdown: 0.1, trades: 40 }, { model: { name: 'gate.AB', version: 3 }, periodsPerYear: ppy })]
    const asked: string[] = []
    // A sweep set a filter left out: a trial of a, never a candidate.
    const extraTrials = [run('a6', { sharpe: 0.7, maxDrawdown: 0.1, trades: 40 }, { periodsPerYear: ppy })]
    const { verdicts, champions } = selectChampions([...a, ...b], { topK: 5 }, { moments: (c) => (asked.push(c.runId), c.runId === 'a1' ? m : undefined), extraTrials })
    expect(asked.sort()).toEqual(['a1', 'a2', 'b1', 'b2']) // only runs that passed the other rules are read
    const a1 = verdicts.find((v) => v.runId === 'a1')!
    expect(a1.trials).toBe(6)
    expect(verdicts.map((v) => v.runId)).not.toContain('a6')
    expect(verdicts.find((v) => v.runId === 'b1')!.trials).toBe(2)
    const want = scipyDsr(r, [m.sharpe * Math.sqrt(ppy), 0.4, -0.5, 1.1, 0.7].map((s) => s / Math.sqrt(ppy)), 6)
    const d = a1.deflated!
    expect(d.trials).toBe(6)
    expect(d.n).toBe(500)
    expect(d.sharpe).toBeCloseTo(want.sharpe, 12)
    expect(d.skew).toBeCloseTo(want.skew, 10)
    expect(d.kurtosis).toBeCloseTo(want.kurtosis, 10)
    expect(d.variance).toBeCloseTo(want.variance, 14)
    // lib/stats' normal quantile and CDF are approximations (~1e-9): compare to 8 digits.
    expect(d.sr0).toBeCloseTo(want.sr0, 8)
    expect(d.dsr).toBeCloseTo(want.dsr, 8)
    expect(d.psr).toBeCloseTo(want.psr, 8)
    expect(want.dsr).toBeLessThan(want.psr) // the search costs something here
    expect(verdicts.find((v) => v.runId === 'b1')!.deflated).toBeNull()
    expect(verdicts.find((v) => v.runId === 'b1')!.dsrNote).toMatch(/no equity curve/)
    expect(verdicts.find((v) => v.runId === 'a3')!.dsrNote).toBe('not computed: failed another rule')
    // Both model versions are champions (one per version and threshold), and so is a1.
    expect(champions.map((c) => c.runId)).toEqual(['b1', 'b2', 'a1', 'a2'])
  })

  it('--min-dsr is a rule: on the computed DSR, failing a run whose DSR cannot be computed', () => {
    const ppy = 365
    const r = returns(400, 3, 0.0008)
    const m = momentsOf(r)
    const cands = [run('a1', { sharpe: m.sharpe * Math.sqrt(ppy), maxDrawdown: 0.1, trades: 40 }, { periodsPerYear: ppy }), ...[0.2, 0.9, -0.4, 1.3, 0.1].map((s, i) => run(`a${i + 2}`, { sharpe: s, maxDrawdown: 0.1, trades: 40 }, { periodsPerYear: ppy }))]
    const want = scipyDsr(r, cands.map((c) => c.metrics.sharpe! / Math.sqrt(ppy)))
    const moments = (c: CandidateRun) => (c.runId === 'a1' ? m : undefined)
    const below = selectChampions(cands, { minDsr: want.dsr - 1e-6, topK: 6 }, { moments })
    expect(below.champions.map((c) => c.runId)).toEqual(['a1'])
    expect(below.verdicts[0]!.checks[3]).toMatchObject({ rule: 'minDsr', metric: 'dsr', op: '≥', threshold: want.dsr - 1e-6, passed: true, origin: 'option' })
    expect(below.verdicts[1]!.failed).toEqual([`dsr missing < ${want.dsr - 1e-6}`])
    const above = selectChampions(cands, { minDsr: want.dsr + 1e-6 }, { moments })
    expect(above.champions).toEqual([])
  })
})

describe('automl holdoutVerdict', () => {
  const result = (holdout: { without: [number, number]; with: [number, number] } | undefined, extra: Partial<AutoMLResult> = {}): AutoMLResult => ({
    name: 's',
    strategy: 's',
    params: {},
    entries: 80,
    searched: 60,
    heldOut: 20,
    winRate: 0.4,
    trials: 5,
    failedTrials: 0,
    leaderboard: [],
    best: { family: 'tree', options: {}, groups: ['trend'], columns: ['x'], trial: 0, cv: { rocAuc: 0.7, logLoss: 0.6, accuracy: 0.6, f1: 0.5, folds: 5 }, value: 0.7 },
    model: {} as AutoMLResult['model'],
    ...(holdout === undefined ? {} : { holdout: { start: 0, entries: 20, wins: 8, rocAuc: 0.6, accuracy: 0.6, precision: 0.5, without: { sharpe: holdout.without[0], sortino: 0, maxDrawdown: 0.1, totalReturn: 0.1, trades: holdout.without[1] }, with: { sharpe: holdout.with[0], sortino: 0, maxDrawdown: 0.1, totalReturn: 0.1, trades: holdout.with[1] } } }),
    ...extra,
  })
  it('registers a winner only if it trades on the holdout and keeps the unfiltered Sharpe', () => {
    expect(holdoutVerdict(result({ without: [0.8, 20], with: [0.8, 9] }))).toMatchObject({ register: true, reason: 'holdout Sharpe 0.80 ≥ 0.80 without the model, 9 trades' })
    expect(holdoutVerdict(result({ without: [0.89, 22], with: [0.72, 17] }))).toEqual({
      register: false,
      reason: 'lowers the holdout Sharpe: 0.89 without the model → 0.72 with it',
      checks: [
        { rule: 'minTrades', value: 17, op: '≥', threshold: 1, passed: true },
        { rule: 'sharpeVsBaseline', value: 0.72, op: '≥', threshold: 0.89, passed: false },
      ],
    })
    // An open position carried into the holdout can give a Sharpe without a single gated trade: still refused.
    expect(holdoutVerdict(result({ without: [0.3, 22], with: [0.5, 0] }))).toMatchObject({ register: false, reason: 'trades nothing on the holdout (1 at least; 22 without the model)' })
    expect(holdoutVerdict(result({ without: [0.3, 22], with: [0.5, 4] }), { minTrades: 5 })).toMatchObject({ register: false, reason: 'makes 4 trades on the holdout (5 at least; 22 without the model)' })
    // A flat baseline (no Sharpe) counts as 0; a gated run without a Sharpe never passes.
    expect(holdoutVerdict(result({ without: [NaN, 1], with: [0.1, 1] })).register).toBe(true)
    expect(holdoutVerdict(result({ without: [NaN, 1], with: [NaN, 1] })).register).toBe(false)
    expect(holdoutVerdict(result(undefined))).toMatchObject({ register: false, reason: 'no held-out entries to judge the winner on (give a holdout > 0)' })
    expect(holdoutVerdict(result(undefined, { best: undefined, model: undefined, skipped: '12 entries to search (20 at least)' }))).toMatchObject({ register: false, reason: 'skipped: 12 entries to search (20 at least)' })
    expect(() => holdoutVerdict(result(undefined), { minTrades: -1 })).toThrow('min holdout trades must be an integer ≥ 0 (received -1)')
  })
})
