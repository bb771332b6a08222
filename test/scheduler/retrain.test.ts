// A retrain job on a tiny pipeline: a seeded synthetic pair in the lake (lib/data's syntheticPair), its
// screen → features → dataset → train steps and the model registered with alias champion; then more bars
// arrive and the scheduler's retrain job (its real handler) refits the family on the lake's bars up to the
// job's start. Checked against facts outside the job: the bars with time ≤ the job's start (counted from the
// generator's own arrays), the original steps' params, the registry's versions, aliases and audit log.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ingestBars, syntheticPair } from '../../lib/data/index.js'
import { ManualClock } from '../../lib/live/index.js'
import { datasetStep, featuresStep, modelOrigin, registerModels, screenStep, trainStep } from '../../lib/pipeline/index.js'
import { checkJob, readHistory, Scheduler } from '../../lib/scheduler/index.js'
import { Registry, stepRun, Tracker } from '../../lib/track/index.js'

const H = 3_600_000
let home: string
let pair: ReturnType<typeof syntheticPair>
let original: { features: string; dataset: string; train: string; model: string }

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-scheduler-retrain-'))
  // 700 hourly bars generated; the first 400 are in the lake when the champion is trained.
  pair = syntheticPair({ bars: 700, timeframe: '1h', seed: 7, start: '2025-01-01T00:00:00Z', symbols: ['SYN-Y1', 'SYN-X1'], halfLife: 12 })
  const cut = (b: (typeof pair)[0], n: number) => ({ symbol: b.symbol, timeframe: b.timeframe, time: b.time.slice(0, n), open: b.open.slice(0, n), high: b.high.slice(0, n), low: b.low.slice(0, n), close: b.close.slice(0, n), volume: b.volume.slice(0, n) })
  for (const b of pair) await ingestBars(home, cut(b, 400), { source: 'synthetic' })
  const screen = await screenStep(home, { symbols: ['SYN-Y1', 'SYN-X1'], timeframe: '1h', maxPValue: 1, minCorr: 0 })
  const features = await featuresStep(home, { pairs: screen.runId, window: 30, windows: [10, 20] })
  const dataset = await datasetStep(home, { features: features.runId, label: 'revertDirection' })
  const train = await trainStep(home, { dataset: dataset.runId, model: 'tree', cv: 'walk-forward', folds: 3, hyper: { maxDepth: 3 } })
  const [model] = await registerModels(home, { from: train.runId, prefix: 'syn' })
  new Registry(home).setAlias('models', model!.name, 'champion', model!.version!, 'test: the first model')
  original = { features: features.runId, dataset: dataset.runId, train: train.runId, model: model!.name }
  // Then the rest of the bars arrive.
  for (const b of pair) await ingestBars(home, b, { source: 'synthetic' })
}, 240_000)

describe('retrain job', () => {
  it('refits the champion on the bars up to the job start and registers the result as challenger', async () => {
    // The job starts at bar 599's time: bars 0 … 599 (600 of them) are the window, the last 100 lie after it.
    const now = pair[0].time[599]!
    expect(pair[0].time[599]).toBe(Date.parse('2025-01-01T00:00:00Z') + 599 * H)
    const clock = new ManualClock(now)
    const scheduler = new Scheduler({ home, clock, jobs: [checkJob({ name: 'nightly-retrain', cron: '0 2 * * *', kind: 'retrain', args: { model: original.model } }, 0)] })
    const [done] = scheduler.runTrigger('nightly-retrain', 'manual')
    const record = (await done!) as { status: string; runId: string; error?: string }
    expect(record.status, record.error).toBe('ok')

    const registry = new Registry(home)
    const entry = registry.entry('models', original.model)
    expect(entry.versions.map((v) => v.version)).toEqual([1, 2])
    expect(entry.aliases).toEqual({ champion: 1, challenger: 2 })
    const audit = registry.auditLog('models', original.model).filter((e) => e.action === 'alias' && e.alias === 'challenger')
    expect(audit).toHaveLength(1)
    expect(audit[0]!.reason).toContain(`job nightly-retrain: ${original.model}@champion (v1) refitted on the lake's bars to ${new Date(now).toISOString()}`)

    // The new version's lineage: a new train → dataset → features chain with the original's params, on 600 bars.
    const tracker = new Tracker(home)
    const v2 = registry.resolve('models', `${original.model}@challenger`)
    const origin = await modelOrigin(home, v2)
    expect(origin.target).toBe('SYN-Y1~SYN-X1')
    expect(origin.trainRun).not.toBe(original.train)
    const train = stepRun(tracker, origin.trainRun, ['train'], 'new train')
    const dataset = stepRun(tracker, train.manifest.inputs[0]!.ref, ['dataset'], 'new dataset')
    const features = stepRun(tracker, dataset.manifest.inputs[0]!.ref, ['features'], 'new features')
    const old = { train: stepRun(tracker, original.train, ['train'], 't'), dataset: stepRun(tracker, original.dataset, ['dataset'], 'd'), features: stepRun(tracker, original.features, ['features'], 'f') }
    expect(train.manifest.params).toEqual(old.train.manifest.params)
    expect(dataset.manifest.params).toEqual(old.dataset.manifest.params)
    expect({ ...features.manifest.params, end: null }).toEqual({ ...old.features.manifest.params, end: null })
    expect(features.manifest.params.end).toBe(new Date(now).toISOString())
    expect(old.features.manifest.tables[0]!.rows).toBe(400)
    expect(features.manifest.tables[0]!.rows).toBe(600)
    // The same screen run feeds both.
    expect(features.manifest.inputs.find((i) => i.kind === 'run')!.ref).toBe(old.features.manifest.inputs.find((i) => i.kind === 'run')!.ref)

    // The job's own run and history line.
    const run = tracker.getRun(record.runId)
    expect(run.tags).toMatchObject({ 'mtflow.kind': 'job', 'mtflow.job': 'nightly-retrain', 'mtflow.trigger': 'manual', 'mtflow.job.model': `${original.model}@2`, 'mtflow.job.train': origin.trainRun })
    expect(readHistory(home, { job: 'nightly-retrain' }).map((l) => [l.status, l.runId])).toEqual([['ok', record.runId]])
  })

  it('a model name with no champion fails the run with the registry\'s reason', async () => {
    const scheduler = new Scheduler({ home, clock: new ManualClock(Date.parse('2025-02-01T00:00:00Z')), jobs: [checkJob({ name: 'r', cron: '0 2 * * *', kind: 'retrain', args: { model: 'nope' } }, 0)] })
    const [done] = scheduler.runTrigger('r')
    expect(await done!).toMatchObject({ status: 'failed', error: 'no model named "nope" in the registry' })
  })
})
