// Pipeline steps as processes (lib/pipeline, lib/cli/pipeline.ts) on the bundled European indices:
// `pairs screen --save` → `features build --pairs RUN`. The feature values are checked against a plain
// computation here (rolling OLS of log prices by sums, the spread's rolling z-score), the Parquet tables
// are read by DuckDB itself, and a run of the wrong kind is refused with one line and exit 2.

import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { alignCloses, loadBars } from '../../lib/data/index.js'
import { duckdb } from '../../lib/data/duckdb.js'
import { Tracker } from '../../lib/track/index.js'
import { readPackage } from '../../lib/ml/index.js'
import { runCli, runCliBatch, type CliResult } from '../helpers.js'

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-pipeline-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

/** y ~ x by OLS over the n bars ending at t, then the spread's z over the n spreads ending at t (the same window). */
function plainZ(y: Float64Array, x: Float64Array, n: number, t: number): number {
  const spreadAt = (u: number) => {
    let sx = 0
    let sy = 0
    let sxx = 0
    let sxy = 0
    for (let i = u - n + 1; i <= u; i++) {
      sx += x[i]!
      sy += y[i]!
      sxx += x[i]! * x[i]!
      sxy += x[i]! * y[i]!
    }
    const beta = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    const alpha = (sy - beta * sx) / n
    return y[u]! - (beta * x[u]! + alpha)
  }
  const s = Array.from({ length: n }, (_, k) => spreadAt(t - n + 1 + k))
  const mean = s.reduce((a, b) => a + b, 0) / n
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  return (s[n - 1]! - mean) / sd
}

describe('mtflow features build', () => {
  it('one table per selected pair, the pair features as computed by hand; reused when run again; a wrong run kind refused', async () => {
    const screen = await runCli(['--home', home, 'pairs', 'screen', '--symbols', 'DAX,SMI,CAC', '--timeframe', '1d', '--max-pvalue', '0.9', '--min-corr', '0.1', '--save', '--json'])
    expect(screen.code, screen.stderr).toBe(0)
    const screenRun = (JSON.parse(screen.stdout) as { runId: string; selected: { y: string; x: string }[] })
    expect(screenRun.selected.length).toBeGreaterThan(0)
    const r = await runCli(['--home', home, 'features', 'build', '--pairs', screenRun.runId, '--window', '40', '--windows', '10,20', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; reused: boolean; manifest: { inputs: { kind: string; ref: string }[]; tables: { name: string; file: string; rows: number; columns: { name: string }[] }[] } }
    expect(out.reused).toBe(false)
    expect(out.manifest.inputs[0]).toMatchObject({ kind: 'run', ref: screenRun.runId })
    expect(out.manifest.tables.map((t) => t.name)).toEqual(screenRun.selected.map((p) => `${p.y}~${p.x}`))
    const first = out.manifest.tables[0]!
    expect(first.columns.map((c) => c.name)).toEqual(['time', 'y', 'x', 'beta', 'alpha', 'spread', 'z', 'halfLife', 'zVelocity', 'zAcceleration', 'y_range_10', 'y_trend_10', 'y_slope_10', 'y_r2_10', 'y_range_20', 'y_trend_20', 'y_slope_20', 'y_r2_20', 'y_ret_1', 'y_ret_5', 'y_ret_20', 'x_range_10', 'x_trend_10', 'x_slope_10', 'x_r2_10', 'x_range_20', 'x_trend_20', 'x_slope_20', 'x_r2_20', 'x_ret_1', 'x_ret_5', 'x_ret_20'])
    // The first pair's z at a few bars, against the plain computation on the lake's aligned closes.
    const [ySym, xSym] = first.name.split('~') as [string, string]
    const { time, closes } = alignCloses({ [ySym]: await loadBars(home, { symbol: ySym, timeframe: '1d' }), [xSym]: await loadBars(home, { symbol: xSym, timeframe: '1d' }) })
    expect(first.rows).toBe(time.length)
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-pipeline-t-'))
    const file = join(dir, first.file)
    writeFileSync(file, new Tracker(home).readArtifact(out.runId, first.file).bytes)
    const rows = (await (await duckdb()).runAndReadAll(`SELECT epoch_ms(time) AS t, z FROM read_parquet('${file}') ORDER BY t`)).getRowObjects()
    const ly = closes[ySym]!.map(Math.log)
    const lx = closes[xSym]!.map(Math.log)
    expect(rows[0]!.z).toBeNull() // no window yet
    for (const t of [2 * 40 - 2, 500, time.length - 1]) {
      expect(Number(rows[t]!.t)).toBe(time[t])
      expect(rows[t]!.z as number).toBeCloseTo(plainZ(ly, lx, 40, t), 9)
    }
    // The same inputs and options: reused.
    const again = await runCli(['--home', home, 'features', 'build', '--pairs', screenRun.runId, '--window', '40', '--windows', '10,20'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`the same inputs and options: run ${out.runId} (reused)`)
    // A run of the wrong kind (this features run given as --pairs), and bad options.
    // One process for the refusals (they are main's, not the process's).
    const [wrong, none, both] = (await runCliBatch([
      ['--home', home, 'features', 'build', '--pairs', out.runId],
      ['--home', home, 'features', 'build', '--pairs', 'nosuchrun'],
      ['--home', home, 'features', 'build', '--symbols', 'DAX', '--set', 'pair', '--timeframe', '1d'],
    ])) as [CliResult, CliResult, CliResult]
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toBe(`mtflow: --pairs ${out.runId} is a features run; expected the run id of a pairs-screen step\n`)
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('mtflow: --pairs nosuchrun: no such run; expected the run id of a pairs-screen step\n')
    expect(both.code).toBe(2)
    expect(both.stderr).toBe('mtflow: --set pair needs --pairs RUN (pair features are computed per pair)\n')
  })

  it('per symbol: OHLCV and the factor set, a table each', async () => {
    const r = await runCli(['--home', home, 'features', 'build', '--symbols', 'DAX,SMI', '--timeframe', '1d', '--windows', '10', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { manifest: { tables: { name: string; rows: number; columns: { name: string }[]; timeRange: [string, string] }[] } }
    expect(out.manifest.tables.map((t) => t.name)).toEqual(['DAX', 'SMI'])
    const dax = await loadBars(home, { symbol: 'DAX', timeframe: '1d' })
    expect(out.manifest.tables[0]!.rows).toBe(dax.time.length)
    expect(out.manifest.tables[0]!.timeRange).toEqual([new Date(dax.time[0]!).toISOString(), new Date(dax.time[dax.time.length - 1]!).toISOString()])
    expect(out.manifest.tables[0]!.columns.map((c) => c.name)).toEqual(['time', 'open', 'high', 'low', 'close', 'volume', 'range_10', 'trend_10', 'slope_10', 'r2_10', 'ret_1', 'ret_5', 'ret_20'])
  })
})

/** zThreshold by hand: stretched at |z| ≥ entry, 1 when |z| ≤ exit within the next h bars, 0 when not. */
function plainZThreshold(z: Float64Array, entry: number, exit: number, h: number): number[] {
  return Array.from(z, (zt, t) => {
    if (t + h >= z.length || !(Math.abs(zt) >= entry)) return NaN
    for (let k = 1; k <= h; k++) if (Math.abs(z[t + k]!) <= exit) return 1
    return 0
  })
}

describe('mtflow dataset build', () => {
  it('a labelled dataset per pair: labels as computed by hand from the stored z, rows without a missing value; wrong inputs refused', async () => {
    const screen = JSON.parse((await runCli(['--home', home, 'pairs', 'screen', '--symbols', 'DAX,SMI', '--timeframe', '1d', '--max-pvalue', '1', '--min-corr', '0', '--save', '--json'])).stdout) as { runId: string }
    const feats = JSON.parse((await runCli(['--home', home, 'features', 'build', '--pairs', screen.runId, '--window', '30', '--windows', '10', '--json'])).stdout) as { runId: string; manifest: { tables: { name: string; file: string }[] } }
    const r = await runCli(['--home', home, 'dataset', 'build', '--features', feats.runId, '--label', 'zThreshold', '--horizon', '15', '--entry', '1.5', '--exit', '0.3', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; manifest: { inputs: { kind: string; ref: string }[]; tables: { name: string; file: string; rows: number; columns: { name: string }[] }[] } }
    expect(out.manifest.inputs).toEqual([expect.objectContaining({ kind: 'run', ref: feats.runId })])
    const ds = out.manifest.tables[0]!
    expect(ds.name).toBe(feats.manifest.tables[0]!.name)
    expect(ds.columns.map((c) => c.name)).toEqual(['time', 'beta', 'alpha', 'spread', 'z', 'halfLife', 'zVelocity', 'zAcceleration', 'y_range_10', 'y_trend_10', 'y_slope_10', 'y_r2_10', 'y_ret_1', 'y_ret_5', 'y_ret_20', 'x_range_10', 'x_trend_10', 'x_slope_10', 'x_r2_10', 'x_ret_1', 'x_ret_5', 'x_ret_20', 'label', 'labelEnd'])
    // The features table's z, labelled here by hand; the dataset keeps the labelled rows with every feature present.
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-pipeline-d-'))
    const featFile = join(dir, 'features.parquet')
    writeFileSync(featFile, new Tracker(home).readArtifact(feats.runId, feats.manifest.tables[0]!.file).bytes)
    const dsFile = join(dir, 'dataset.parquet')
    writeFileSync(dsFile, new Tracker(home).readArtifact(out.runId, ds.file).bytes)
    const conn = await duckdb()
    const f = (await conn.runAndReadAll(`SELECT epoch_ms(time) AS t, z, (zAcceleration IS NULL OR y_ret_20 IS NULL OR x_ret_20 IS NULL OR halfLife IS NULL OR isinf(halfLife) OR y_r2_10 IS NULL OR x_r2_10 IS NULL) AS missing FROM read_parquet('${featFile}') ORDER BY t`)).getRowObjects()
    const z = Float64Array.from(f, (row) => (row.z === null ? NaN : Number(row.z)))
    const labels = plainZThreshold(z, 1.5, 0.3, 15)
    const expected = f.map((row, i) => [Number(row.t), labels[i]!, row.missing]).filter(([, l, missing]) => !Number.isNaN(l as number) && missing === false).map(([t, l]) => [t, l])
    const got = (await conn.runAndReadAll(`SELECT epoch_ms(time) AS t, label, labelEnd FROM read_parquet('${dsFile}') ORDER BY t`)).getRowObjects()
    expect(got.map((row) => [Number(row.t), Number(row.label)])).toEqual(expected)
    expect(ds.rows).toBe(expected.length)
    expect(ds.rows).toBeGreaterThan(50)
    expect(new Set(got.map((row) => Number(row.label)))).toEqual(new Set([0, 1]))
    // Each row's label ends at or after itself, 15 bars on at most.
    got.forEach((row, i) => expect(Number(row.labelEnd)).toBeGreaterThanOrEqual(i))
    // Wrong inputs: a run of another kind, an unknown label, a label window longer than the data.
    const [wrong, label, long] = (await runCliBatch([
      ['--home', home, 'dataset', 'build', '--features', screen.runId, '--label', 'zThreshold'],
      ['--home', home, 'dataset', 'build', '--features', feats.runId, '--label', 'zScore'],
      ['--home', home, 'dataset', 'build', '--features', feats.runId, '--label', 'revertDirection', '--horizon', '100000'],
    ])) as [CliResult, CliResult, CliResult]
    expect([wrong.code, wrong.stderr]).toEqual([2, `mtflow: --features ${screen.runId} is a pairs-screen run; expected the run id of a features step\n`])
    expect([label.code, label.stderr]).toEqual([2, 'mtflow: --label must be one of zThreshold, revertDirection, forwardReturnSign, tripleBarrier (received "zScore")\n'])
    expect(long.code).toBe(2)
    expect(long.stderr).toMatch(/^mtflow: table (DAX~SMI|SMI~DAX): no bar gets a revertDirection label \(\d+ bars; the label window is 100000 bars\)\n$/)
  })
})

describe('mtflow train', () => {
  it('a model per dataset: walk-forward folds of the sizes TimeSeriesSplit gives less the purged rows, per-fold metrics and their means, a package that predicts; registered in bulk; inferred on the latest bars; bad input refused', async () => {
    const screen = JSON.parse((await runCli(['--home', home, 'pairs', 'screen', '--symbols', 'DAX,CAC', '--timeframe', '1d', '--max-pvalue', '1', '--min-corr', '0', '--save', '--json'])).stdout) as { runId: string }
    const feats = JSON.parse((await runCli(['--home', home, 'features', 'build', '--pairs', screen.runId, '--window', '30', '--windows', '10', '--json'])).stdout) as { runId: string }
    const ds = JSON.parse((await runCli(['--home', home, 'dataset', 'build', '--features', feats.runId, '--label', 'revertDirection', '--horizon', '5', '--json'])).stdout) as { runId: string; manifest: { tables: { name: string; rows: number }[] } }
    const r = await runCli(['--home', home, 'train', '--dataset', ds.runId, '--model', 'tree', '--cv', 'walk-forward', '--folds', '4', '--hyper', 'maxDepth=3', '--hyper', 'seed=1', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { runId: string; manifest: { tables: { name: string; file: string }[] } }
    expect(out.manifest.tables.map((t) => t.name)).toEqual(['cv', 'summary'])
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-pipeline-m-'))
    const tracker = new Tracker(home)
    const read = async (name: string) => {
      const file = join(dir, name)
      writeFileSync(file, tracker.readArtifact(out.runId, name).bytes)
      return (await (await duckdb()).runAndReadAll(`SELECT * FROM read_parquet('${file}')`)).getRowObjects()
    }
    const cv = await read('cv.parquet')
    const summary = await read('summary.parquet')
    // scikit-learn's TimeSeriesSplit(n_splits=4) on n rows: test blocks of ⌊n/5⌋, training on everything before
    // less the 5 rows whose 5-bar label reaches into the test block (purged: they were trained on before).
    const n = ds.manifest.tables[0]!.rows
    const t = Math.floor(n / 5)
    expect(cv.map((row) => [Number(row.fold), Number(row.train), Number(row.test)])).toEqual([1, 2, 3, 4].map((k) => [k, n - (5 - k) * t - 5, t]))
    for (const metric of ['rocAuc', 'prAuc', 'f1', 'directionalAccuracy']) {
      for (const row of cv) expect(Number(row[metric])).toBeGreaterThanOrEqual(0)
      for (const row of cv) expect(Number(row[metric])).toBeLessThanOrEqual(1)
      const mean = cv.reduce((a, row) => a + Number(row[metric]), 0) / cv.length
      expect(Number(summary[0]![metric])).toBeCloseTo(mean, 12)
    }
    // The package predicts a probability for every row of its dataset.
    const { model, pkg } = readPackage(tracker.readArtifact(out.runId, String(summary[0]!.model)).bytes.toString('utf8'))
    expect(pkg.family).toBe('tree')
    expect(pkg.trainingRows).toBe(n)
    expect(pkg.metrics.rocAuc).toBeCloseTo(Number(summary[0]!.rocAuc), 12)
    const cols = pkg.signature.inputs.map((f) => f.name)
    expect(model.predictProba({ X: new Float64Array(cols.length), rows: 1, columns: cols }).length).toBe(2)
    // Into the registry in bulk: one model per dataset, in Staging; a ROC AUC floor above every model leaves all out.
    const reg = await runCli(['--home', home, 'registry', 'register-models', '--from', out.runId, '--prefix', 'pairs-tree', '--json'])
    expect(reg.code, reg.stderr).toBe(0)
    const registered = JSON.parse(reg.stdout) as { dataset: string; name: string; version: number; stage: string; created: boolean }[]
    expect(registered.map((m) => [m.name, m.version, m.stage, m.created])).toEqual([[`pairs-tree.${String(summary[0]!.name).toLowerCase().replace('~', '-')}`, 1, 'Staging', true]])
    const shown = JSON.parse((await runCli(['--home', home, 'registry', 'models', registered[0]!.name, '--json'])).stdout) as { versions: { version: number; stage: string; sha256: string }[] }
    expect(shown.versions.map((v) => [v.version, v.stage])).toEqual([[1, 'Staging']])
    expect(shown.versions[0]!.sha256).toBe(createHash('sha256').update(tracker.readArtifact(out.runId, String(summary[0]!.model)).bytes).digest('hex'))
    // Batch inference with the registered model: the features rebuilt from the lake as the lineage says, the
    // last 3 bars the model can read, each probability what the package gives for the features run's stored rows.
    const signalsFile = join(dir, 'signals.jsonl')
    const inf = await runCli(['--home', home, 'infer', `${registered[0]!.name}@1`, '--last', '3', '--out', signalsFile, '--json'])
    expect(inf.code, inf.stderr).toBe(0)
    const inferred = JSON.parse(inf.stdout) as { runId: string; signals: { time: string; target: string; model: string; probability: number; side: string; confidence: number }[] }
    const signals = inferred.signals
    expect(readFileSync(signalsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual(signals)
    // The run it recorded holds the same lines, its lineage the train run.
    expect(tracker.readArtifact(inferred.runId, 'signals.jsonl').bytes.toString('utf8')).toBe(readFileSync(signalsFile, 'utf8'))
    expect(tracker.getRun(inferred.runId).tags['mtflow.kind']).toBe('infer')
    const featsManifest = JSON.parse(tracker.readArtifact(feats.runId, 'manifest.json').bytes.toString('utf8')) as { tables: { file: string }[] }
    const featFile = join(dir, 'features-infer.parquet')
    writeFileSync(featFile, tracker.readArtifact(feats.runId, featsManifest.tables[0]!.file).bytes)
    const stored = (await (await duckdb()).runAndReadAll(`SELECT * EXCLUDE (time), epoch_ms(time) AS t FROM read_parquet('${featFile}') ORDER BY t`)).getRowObjects()
    const usable = stored.filter((row) => cols.every((c) => row[c] !== null && Number.isFinite(Number(row[c]))))
    const lastRows = usable.slice(-3)
    const X = Float64Array.from(lastRows.flatMap((row) => cols.map((c) => Number(row[c]))))
    const proba = model.predictProba({ X, rows: 3, columns: cols })
    expect(signals.map((sg) => [sg.time, sg.target, sg.model, sg.side])).toEqual(lastRows.map((row) => [new Date(Number(row.t)).toISOString(), String(summary[0]!.name), `${registered[0]!.name}@1`, Number(row.z) > 0 ? 'short spread' : 'long spread']))
    signals.forEach((sg, r) => {
      expect(sg.probability).toBeCloseTo(proba[r * 2 + 1]!, 12)
      expect(sg.confidence).toBeCloseTo(Math.abs(2 * sg.probability - 1), 12)
    })
    const [noModel, notTrain, wrong, family, hyper] = (await runCliBatch([
      ['--home', home, 'infer', 'nosuch.model@1'],
      ['--home', home, 'registry', 'register-models', '--from', ds.runId],
      ['--home', home, 'train', '--dataset', feats.runId, '--model', 'tree'],
      ['--home', home, 'train', '--dataset', ds.runId, '--model', 'svm'],
      ['--home', home, 'train', '--dataset', ds.runId, '--model', 'tree', '--hyper', 'depth=3'],
    ])) as [CliResult, CliResult, CliResult, CliResult, CliResult]
    expect([noModel.code, noModel.stderr]).toEqual([2, 'mtflow: no model named "nosuch.model" in the registry\n'])
    const floor = JSON.parse((await runCli(['--home', home, 'registry', 'register-models', '--from', out.runId, '--min-roc-auc', '1', '--json'])).stdout) as { skipped?: string }[]
    expect(floor.every((m) => m.skipped !== undefined && m.skipped.startsWith('ROC AUC '))).toBe(true)
    expect([notTrain.code, notTrain.stderr]).toEqual([2, `mtflow: --from ${ds.runId} is a dataset run; expected the run id of a train step\n`])
    // Bad input: a dataset of the wrong kind, an unknown model family, an unknown hyperparameter.
    expect([wrong.code, wrong.stderr]).toEqual([2, `mtflow: --dataset ${feats.runId} is a features run; expected the run id of a dataset step\n`])
    expect([family.code, family.stderr]).toEqual([2, 'mtflow: unknown model family "svm" (known: tree, forest, gbt, logistic, ridge)\n'])
    expect(hyper.code).toBe(2)
    expect(hyper.stderr).toMatch(/^mtflow: tree has no option "depth" \(options: maxDepth, /)
  })
})
