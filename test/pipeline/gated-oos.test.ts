// A model-gated backtest starts, by default, at the first bar after the last one its model was trained on
// (the features run's end): out of sample. Started earlier, it is tagged in sample and `select`'s guardrails
// refuse it, naming why; --no-guardrails lets it through.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { datasetStep, featuresStep, gatedBacktest, registerModels, screenStep, trainStep } from '../../lib/pipeline/index.js'
import { Tracker } from '../../lib/track/index.js'
import { selectRuns } from '../../lib/tune/select-runs.js'
import { runCli } from '../helpers.js'

let home: string
let model: string
const END = '2024-03-15T23:00:00.000Z'
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-gated-oos-'))
  const r = await runCli(['--home', home, 'data', 'synthetic', '--kind', 'pair', '--pairs', '1', '--bars', '3000', '--timeframe', '1h', '--json'])
  expect(r.code, r.stderr).toBe(0)
  const screen = await screenStep(home, { symbols: ['SYN-Y1', 'SYN-X1'], timeframe: '1h', end: END, maxPValue: 1, minCorr: 0 })
  const features = await featuresStep(home, { pairs: screen.runId, end: END, window: 60, windows: [10, 20] })
  const dataset = await datasetStep(home, { features: features.runId, label: 'revertDirection' })
  const train = await trainStep(home, { dataset: dataset.runId, model: 'tree', cv: 'walk-forward', hyper: { maxDepth: 3 } })
  const [m] = await registerModels(home, { from: train.runId, prefix: 'oos' })
  model = `${m!.name}@${m!.version}`
}, 240_000)

describe('gated backtests and the training window', () => {
  it('start after the training by default; an earlier start is in sample and select refuses it', async () => {
    const oos = await gatedBacktest(home, { ref: model, probaThreshold: 0.5 })
    expect(oos.trainedThrough).toBe(END)
    expect(oos.inSample).toBe(false)
    // The first bar stepped is the first after the training's last (1h bars: END + 1 h is the next bar's open).
    expect(oos.result.time[0]!).toBeGreaterThan(Date.parse(END))
    const tracker = new Tracker(home)
    expect(tracker.getRun(oos.runId!).tags['mtflow.inSample']).toBe('false')
    const ins = await gatedBacktest(home, { ref: model, probaThreshold: 0.5, start: '2024-01-10T00:00:00Z' })
    expect(ins.inSample).toBe(true)
    expect(tracker.getRun(ins.runId!).tags['mtflow.inSample']).toBe('true')

    const guarded = await selectRuns(home, { rules: { metric: 'sharpe', minTrades: 0, minSharpe: -100, maxDrawdown: 1, topK: 5 }, models: true, dryRun: true })
    const verdict = (id: string) => guarded.verdicts.find((v) => v.runId === id)!
    expect(verdict(ins.runId!).failed).toContain("in sample: the backtest starts before its model's training ended")
    expect(verdict(oos.runId!).failed).toEqual([])
    const open = await selectRuns(home, { rules: { metric: 'sharpe', guardrails: false, topK: 5 }, models: true, dryRun: true })
    expect(open.verdicts.find((v) => v.runId === ins.runId)!.passed).toBe(true)
  }, 120_000)

  it('reads --start as sliceBars does: no offset is UTC whatever TZ says, epoch seconds, and 2024 refused (review 24, finding 2)', async () => {
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York'
    try {
      // 2024-03-15 22:00 UTC is before the training's end (23:00): in sample. Date.parse read it in New York (02:00 UTC on the 16th).
      const ins = await gatedBacktest(home, { ref: model, probaThreshold: 0.5, start: '2024-03-15 22:00' })
      expect(ins.inSample).toBe(true)
      expect(ins.result.time[0]!).toBe(Date.parse('2024-03-15T22:00:00Z'))
      // 1,710,547,200 s = 2024-03-16T00:00Z (19,798 days): after the training. Date.parse gave NaN, tagged in sample.
      const oos = await gatedBacktest(home, { ref: model, probaThreshold: 0.5, start: '1710547200' })
      expect(oos.inSample).toBe(false)
      expect(oos.result.time[0]!).toBe(1_710_547_200_000)
      await expect(gatedBacktest(home, { ref: model, probaThreshold: 0.5, start: '2024' })).rejects.toThrow('start (--start) "2024" is not a date/time; write 2024-01-01')
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  }, 120_000)
})
