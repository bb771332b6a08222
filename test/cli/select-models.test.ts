// `mtflow select` among model-gated backtests (runs tagged mtflow.signals = the model): the guardrails
// apply as to strategies; the winner's model version gets the champion alias or a stage, with an audit
// reason carrying the metric, its deflated Sharpe and the trials — that DSR recomputed here with scipy
// from the run's equity curve. The runs are made here with the Tracker, their metrics computed here.

import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

const PPY = 365
const DAY = 86_400_000
let home: string

/** An equity curve from seeded daily returns (an LCG), a drift and, optionally, a crash at the middle. */
function curve(seed: number, drift: number, crash = 0): number[] {
  let s = seed
  const e = [100_000]
  for (let i = 1; i < 300; i++) {
    s = (s * 1103515245 + 12345) % 2147483648
    const r = drift + 0.02 * (s / 2147483648 - 0.5) - (i === 150 ? crash : 0)
    e.push(e[i - 1]! * (1 + r))
  }
  return e
}

/** The plain figures a backtest logs: annualised Sharpe (sample sd), max drawdown as a fraction. */
function figures(e: number[]): { sharpe: number; maxDrawdown: number; totalReturn: number } {
  const r = e.slice(1).map((x, i) => x / e[i]! - 1)
  const mean = r.reduce((a, b) => a + b, 0) / r.length
  const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1))
  let peak = -Infinity
  let dd = 0
  for (const x of e) {
    peak = Math.max(peak, x)
    dd = Math.max(dd, 1 - x / peak)
  }
  return { sharpe: (mean / sd) * Math.sqrt(PPY), maxDrawdown: dd, totalReturn: e[e.length - 1]! / e[0]! - 1 }
}

interface Made {
  runId: string
  equity: number[]
  sharpe: number
}

function gatedRun(tracker: Tracker, model: string, version: number, threshold: number, equity: number[], trades: number): Made {
  const f = figures(equity)
  const run = tracker.startRun({
    experiment: 'gated',
    name: `${model}@${version} p≥${threshold}`,
    params: { strategy: 'pairs-zscore', probaThreshold: threshold, signalsFrom: `${model}@${version}` },
    tags: { 'mtflow.kind': 'backtest', 'mtflow.signals': model, 'mtflow.signalsVersion': String(version), 'mtflow.target': model.split('.')[1]! },
  })
  run.logBatch({ metrics: Object.entries({ ...f, trades }).map(([key, value]) => ({ key, value, step: 0 })) })
  run.logArtifact({ name: 'equity.csv', data: `time,equity,exposure\n${equity.map((x, i) => `${Date.UTC(2024, 0, 1) + i * DAY},${x},1`).join('\n')}\n` })
  run.logArtifact({ name: 'results.json', data: JSON.stringify({ periodsPerYear: PPY, bars: equity.length }) })
  run.end()
  return { runId: run.id, equity, sharpe: f.sharpe }
}

let ab1: Made
let ab2: Made
let cd1: Made
let plain: Made

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-select-models-'))
  const reg = new Registry(home)
  for (const [name, v] of [['pairs.AB', 1], ['pairs.AB', 2], ['pairs.CD', 1]] as const) reg.register('models', name, { files: { 'model.json': `{"v":${v}}` } })
  const tracker = new Tracker(home)
  ab1 = gatedRun(tracker, 'pairs.AB', 1, 0.5, curve(11, 0.0015), 40) // passes every guardrail
  ab2 = gatedRun(tracker, 'pairs.AB', 2, 0.6, curve(12, 0.003), 12) // better Sharpe, too few trades
  cd1 = gatedRun(tracker, 'pairs.CD', 1, 0.5, curve(13, 0.004, 0.6), 50) // a 60 % crash: drawdown over 0.5
  // A plain strategy backtest (no model): a strategy candidate when --models is not given.
  const e = curve(14, 0.002)
  const run = tracker.startRun({ experiment: 'plain', params: { strategy: 'sma-cross', fast: 10, slow: 50 }, tags: { 'mtflow.kind': 'backtest' } })
  run.logBatch({ metrics: Object.entries({ ...figures(e), trades: 35 }).map(([key, value]) => ({ key, value, step: 0 })) })
  run.end()
  plain = { runId: run.id, equity: e, sharpe: figures(e).sharpe }
})

interface Out {
  rules: { guardrails: boolean; minTrades?: { threshold: number } }
  candidates: number
  champions: { runId: string; strategy: string; model?: { name: string; version: number; threshold?: number }; trials: number; deflated: { dsr: number; trials: number; variance: number; sr0: number } | null; checks: { rule: string; passed: boolean }[] }[]
  registered: { kind: string; model?: string; strategy?: string; version: number; alias?: string; stage?: string }[]
  verdicts: { runId: string; passed: boolean; failed: string[] }[]
}

/** DSR from the raw equity curve, by scipy: Bailey & López de Prado (2014). */
function scipyDsr(equity: number[], trialSharpes: number[]): number {
  const script = `
import json, sys, math
import numpy as np
from scipy import stats
d = json.load(sys.stdin)
e = np.array(d["e"]); r = e[1:] / e[:-1] - 1; t = np.array(d["t"])
sr = r.mean() / r.std(ddof=1); n = len(r); g3 = stats.skew(r); g4 = stats.kurtosis(r, fisher=False)
N = len(t); g = 0.5772156649015329
sr0 = math.sqrt(t.var(ddof=1)) * ((1 - g) * stats.norm.ppf(1 - 1 / N) + g * stats.norm.ppf(1 - 1 / (N * math.e)))
print(stats.norm.cdf((sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr)))
`
  return Number(execFileSync('python3', ['-c', script], { input: JSON.stringify({ e: equity, t: trialSharpes }) }).toString())
}

describe('mtflow select --models', () => {
  it('guardrails on by default: the one model run that passes wins; --no-guardrails lets the few-trade one win', async () => {
    const loose = await runCli(['--home', home, 'select', '--models', '--no-guardrails', '--dry-run', '--json'])
    expect(loose.code, loose.stderr).toBe(0)
    const lo = JSON.parse(loose.stdout) as Out
    expect(lo.candidates).toBe(3)
    // Without guardrails the best Sharpe of the three wins.
    const best = [ab1, ab2, cd1].reduce((a, b) => (b.sharpe > a.sharpe ? b : a))
    expect(lo.champions.map((c) => c.runId)).toEqual([best.runId])
    expect(lo.registered).toEqual([])

    const r = await runCli(['--home', home, 'select', '--models', '--stage', 'Staging', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as Out
    expect(out.rules.guardrails).toBe(true)
    expect(out.champions.map((c) => c.runId)).toEqual([ab1.runId])
    expect(out.champions[0]!.model).toEqual({ name: 'pairs.AB', version: 1, threshold: 0.5 })
    expect(out.verdicts.find((v) => v.runId === ab2.runId)!.failed).toEqual(['trades 12 < 30'])
    expect(out.verdicts.find((v) => v.runId === cd1.runId)!.failed).toEqual([`maxDrawdown ${figures(cd1.equity).maxDrawdown.toFixed(4)} > 0.5`])
    // Trials: the two runs of pairs.AB; DSR from ab1's equity curve against their per-bar Sharpes.
    const c = out.champions[0]!
    expect(c.trials).toBe(2)
    const dsr = scipyDsr(ab1.equity, [ab1.sharpe, ab2.sharpe].map((s) => s / Math.sqrt(PPY)))
    expect(c.deflated!.dsr).toBeCloseTo(dsr, 7)
    // A stage and no alias: pairs.AB@1 is in Staging, with the reason in its audit.
    expect(out.registered).toEqual([{ kind: 'model', model: 'pairs.AB', version: 1, runId: ab1.runId, stage: 'Staging' }])
    const reg = new Registry(home)
    expect(reg.resolve('models', 'pairs.AB', 1).stage).toBe('Staging')
    expect(reg.entry('models', 'pairs.AB').aliases).toEqual({})
    const audit = reg.auditLog('models', 'pairs.AB').find((a) => a.action === 'stage' || a.to === 'Staging')!
    expect(audit.reason).toContain(`DSR ${c.deflated!.dsr.toFixed(4)} over 2 trials`)
    expect(audit.reason).toContain(`sharpe ${ab1.sharpe.toFixed(4)}`)
    expect(reg.resolve('models', 'pairs.AB', 1).runs).toContain(ab1.runId)

    // Without --stage the alias defaults to champion.
    const again = await runCli(['--home', home, 'select', '--models'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/3 candidate runs; 1 pass the rules \(guardrails: trades ≥ 30, Sharpe > 0, drawdown ≤ 0\.5\)/)
    expect(again.stdout).toMatch(new RegExp(`pairs\\.AB@1\\s+threshold=0\\.5\\s+${ab1.sharpe.toFixed(4)}\\s+sharpe ${ab1.sharpe.toFixed(4)}\\s+[\\d.]+\\s+40\\s+${c.deflated!.dsr.toFixed(3)}\\s+2\\s+${ab1.runId}\\s+pairs\\.AB@1 @champion`))
    expect(new Registry(home).resolve('models', 'pairs.AB@champion').version).toBe(1)
  })

  it('without --models, strategy and model runs are selected side by side, each kind in its own trials group', async () => {
    const r = await runCli(['--home', home, 'select', '--top-k', '5', '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as Out
    expect(out.candidates).toBe(4)
    const want = [ab1, plain].sort((a, b) => b.sharpe - a.sharpe).map((x) => x.runId)
    expect(out.champions.map((c) => c.runId)).toEqual(want)
    const p = out.champions.find((c) => c.runId === plain.runId)!
    expect(p.model).toBeUndefined()
    expect(p.strategy).toBe('sma-cross')
    expect(p.trials).toBe(1)
    expect(p.deflated).toBeNull() // no equity.csv logged for it
  })

  it('has --help listing the guardrail options and --json', async () => {
    const r = await runCli(['select', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/--min-trades <n>[\s\S]*--min-dsr <p>[\s\S]*--no-guardrails[\s\S]*--models[\s\S]*--stage <stage>[\s\S]*--json/)
  })

  it('bad input: an unknown stage, a model version not in the registry — one line, exit 2, nothing written', async () => {
    const stage = await runCli(['--home', home, 'select', '--models', '--stage', 'Prod'])
    expect(stage.code).toBe(2)
    expect(stage.stderr.trim()).toBe('mtflow: --stage must be one of Staging, Production (received "Prod")')
    const tracker = new Tracker(home)
    gatedRun(tracker, 'pairs.ZZ', 9, 0.5, curve(21, 0.002), 60)
    const before = JSON.stringify(new Registry(home).list('models'))
    const missing = await runCli(['--home', home, 'select', '--models', '--filter', 'tags.`mtflow.signals` = "pairs.ZZ"'])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toMatch(/^mtflow: champion run \w+ was gated by model pairs\.ZZ@9: no model named "pairs\.ZZ" in the registry$/m)
    expect(JSON.stringify(new Registry(home).list('models'))).toBe(before)
  })
})
