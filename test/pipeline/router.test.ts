// `mtflow router build` (lib/pipeline/router.ts) on the bundled European indices: screen → features →
// dataset → train over the four indices' pairs, then a router over the top 2 pairs by ROC AUC — the ranking
// read back from the train run's summary Parquet by DuckDB itself, the router served over a real socket
// (each row answered by its own pair's package, loaded separately here), and `infer ROUTER@Staging` giving
// per route exactly the signals of that pair's model registered on its own. A run of the wrong kind is
// refused with one line and exit 2.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { duckdb } from '../../lib/data/duckdb.js'
import { readPackage } from '../../lib/ml/index.js'
import { datasetStep, featuresStep, lineageFeatures, readStepTable, screenStep, trainDataset, trainItems, trainStep, type TrainContext } from '../../lib/pipeline/index.js'
import { LocalExecutor } from '../../lib/exec/index.js'
import { createModelApp, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, searchRuns, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

let home: string
let train: string
let datasetRun: string
const servers: Listening[] = []
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-router-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
  const screen = await screenStep(home, { symbols: ['DAX', 'SMI', 'CAC', 'FTSE'], timeframe: '1d', maxPValue: 1, minCorr: 0 })
  const features = await featuresStep(home, { pairs: screen.runId, window: 30, windows: [10, 20] })
  const dataset = await datasetStep(home, { features: features.runId, label: 'revertDirection' })
  datasetRun = dataset.runId
  train = (await trainStep(home, { dataset: dataset.runId, model: 'tree', cv: 'walk-forward', folds: 3, hyper: { maxDepth: 3 } })).runId
}, 240_000)
afterAll(async () => {
  for (const s of servers) await s.close()
})

describe('train on an executor', () => {
  it('trains each dataset as a job: folds, final model and package the same, byte for byte, as in this thread', async () => {
    const manifest = JSON.parse(new Tracker(home).readArtifact(datasetRun, 'manifest.json').bytes.toString('utf8'))
    const items = await trainItems(home, datasetRun, manifest)
    expect(items.length).toBeGreaterThanOrEqual(3)
    const context: TrainContext = { family: 'tree', hyper: { maxDepth: 3 }, cv: 'walk-forward', folds: 3, embargo: 0.01, dataset: datasetRun }
    const here = []
    for (const item of items) here.push(await trainDataset(context, item))
    const executor = new LocalExecutor(2)
    const there = await executor.run({ kind: 'pipeline.trainDataset', context, items })
    await executor.close()
    // Equal but for the package's creation time.
    const stamp = (d: unknown) => JSON.stringify(d).replace(/\\"createdAt\\":\d+/g, 'createdAt')
    expect(there.map((o) => stamp(o.ok ? o.value : o.error))).toEqual(here.map(stamp))
    expect(stamp(here)).toContain('createdAt')
    // And the step's summary table holds these means (the train run made in beforeAll, in this thread).
    const trainManifest = JSON.parse(new Tracker(home).readArtifact(train, 'manifest.json').bytes.toString('utf8'))
    const summary = await readStepTable(home, train, trainManifest, 'summary')
    expect((summary.name as string[])).toEqual(here.map((d) => d.summary.name))
    expect(Array.from(summary.rocAuc as Float64Array)).toEqual(here.map((d) => d.summary.rocAuc))
  })
})

describe('router build', () => {
  it('routes the top K pairs by ROC AUC, serves each row with its own pair model, and infers per route', async () => {
    const tracker = new Tracker(home)
    const manifest = JSON.parse(tracker.readArtifact(train, 'manifest.json').bytes.toString('utf8')) as { tables: { name: string; file: string }[] }
    const file = join(home, 'summary-check.parquet')
    writeFileSync(file, tracker.readArtifact(train, manifest.tables.find((t) => t.name === 'summary')!.file).bytes)
    const rows = (await (await duckdb()).runAndReadAll(`SELECT name, rocAuc, model FROM read_parquet('${file}')`)).getRowObjects() as { name: string; rocAuc: number; model: string }[]
    expect(rows.length).toBeGreaterThanOrEqual(3)
    const best = [...rows].sort((a, b) => b.rocAuc - a.rocAuc).slice(0, 2)

    const built = await runCli(['--home', home, 'router', 'build', '--from', train, '--top-k', '2', '--json'])
    expect(built.code, built.stderr).toBe(0)
    const out = JSON.parse(built.stdout) as { runId: string; name: string; version: number; stage: string; routes: { key: string; score: number; rank: number }[] }
    expect([out.name, out.version, out.stage]).toEqual(['tree-router', 1, 'Staging'])
    expect(out.routes.map((r) => r.key)).toEqual(best.map((r) => r.name))
    out.routes.forEach((r, i) => expect(r.score).toBeCloseTo(best[i]!.rocAuc, 12))
    expect(tracker.getRun(out.runId).info.lineage.runs).toEqual([train])
    // The same train run and options: the step is reused and the same version stays registered.
    const again = JSON.parse((await runCli(['--home', home, 'router', 'build', '--from', train, '--top-k', '2', '--json'])).stdout) as { runId: string; reused: boolean; version: number }
    expect([again.runId, again.reused, again.version]).toEqual([out.runId, true, 1])

    // Served by its stage: each row goes to its pair's own package.
    const token = workspaceToken(home)
    const served = await startServer({ home, token, port: 0, app: createModelApp({ home, token, ref: 'tree-router@Staging' }).app })
    servers.push(served)
    const inputs: Record<string, unknown>[] = []
    const expected: number[] = []
    for (const r of best) {
      const { model } = readPackage(tracker.readArtifact(train, r.model).bytes.toString('utf8'))
      const columns = model.toJSON().columns
      const { table } = await lineageFeatures(home, train, r.name)
      const usable = Array.from({ length: (table.time as Float64Array).length }, (_, i) => i).filter((i) => columns.every((c) => Number.isFinite((table[c] as Float64Array)[i]!))).slice(-3)
      for (const i of usable) {
        inputs.push({ pair: r.name, ...Object.fromEntries(columns.map((c) => [c, (table[c] as Float64Array)[i]!])) })
        expected.push(model.predict({ X: Float64Array.from(columns, (c) => (table[c] as Float64Array)[i]!), rows: 1, columns })[0]!)
      }
    }
    const res = await fetch(`${served.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }) })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { predictions: number[] }).predictions).toEqual(expected)
    const outsider = rows.find((r) => !best.some((b) => b.name === r.name))!
    const refused = await fetch(`${served.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ ...inputs[0], pair: outsider.name }] }) })
    expect(refused.status).toBe(400)

    // infer on the router: per route, the signals of that pair's model registered on its own.
    const reg = await runCli(['--home', home, 'registry', 'register-models', '--from', train, '--prefix', 'solo', '--json'])
    expect(reg.code, reg.stderr).toBe(0)
    const solo = JSON.parse(reg.stdout) as { dataset: string; name: string; version: number }[]
    const inferred = await runCli(['--home', home, 'infer', 'tree-router@Staging', '--last', '2', '--json', '--no-track'])
    expect(inferred.code, inferred.stderr).toBe(0)
    const signals = JSON.parse(inferred.stdout) as { time: string; target: string; model: string; probability: number; side: string }[]
    expect(signals.map((s) => s.target)).toEqual(best.flatMap((b) => [b.name, b.name]))
    for (const b of best) {
      const own = solo.find((m) => m.dataset === b.name)!
      const mine = JSON.parse((await runCli(['--home', home, 'infer', `${own.name}@${own.version}`, '--last', '2', '--json', '--no-track'])).stdout) as typeof signals
      expect(signals.filter((s) => s.target === b.name).map((s) => [s.time, s.probability, s.side, s.model])).toEqual(mine.map((s) => [s.time, s.probability, s.side, 'tree-router@1']))
    }
    expect(new Registry(home).resolve('models', 'tree-router@Staging').version).toBe(1)
  })

  it('refuses a run of the wrong kind and a bad --top-k with one line, exit 2, nothing registered', async () => {
    const screen = searchRuns(new Tracker(home), { filter: 'tags.mtflow.kind = "pairs-screen"' }).runs[0]!.info.runId
    const wrong = await runCli(['--home', home, 'router', 'build', '--from', screen, '--top-k', '2', '--name', 'nope-router'])
    expect([wrong.code, wrong.stderr]).toEqual([2, `mtflow: --from ${screen} is a pairs-screen run; expected the run id of a train step\n`])
    const zero = await runCli(['--home', home, 'router', 'build', '--from', train, '--top-k', '0', '--name', 'nope-router'])
    expect([zero.code, zero.stderr]).toEqual([2, 'mtflow: --top-k must be an integer ≥ 1 (received "0")\n'])
    const unknown = await runCli(['--home', home, 'router', 'build', '--from', train, '--top-k', '2', '--pairs', 'AAA~BBB', '--name', 'nope-router'])
    expect([unknown.code, unknown.stderr.split(', which')[0]]).toEqual([2, 'mtflow: --pairs names AAA~BBB'])
    expect(new Registry(home).list('models').map((e) => e.name)).not.toContain('nope-router')
    // --pairs keeps the routes to the pairs named (the champions a selection kept), however they rank.
    const tracker = new Tracker(home)
    const manifest = JSON.parse(tracker.readArtifact(train, 'manifest.json').bytes.toString('utf8')) as { tables: { name: string; file: string }[] }
    const file = join(home, 'summary-limited.parquet')
    writeFileSync(file, tracker.readArtifact(train, manifest.tables.find((t) => t.name === 'summary')!.file).bytes)
    const rows = (await (await duckdb()).runAndReadAll(`SELECT name, rocAuc FROM read_parquet('${file}') ORDER BY rocAuc`)).getRowObjects() as { name: string }[]
    const worst = rows[0]!.name
    const limited = JSON.parse((await runCli(['--home', home, 'router', 'build', '--from', train, '--top-k', '2', '--pairs', worst, '--name', 'limited-router', '--json'])).stdout) as { routes: { key: string }[] }
    expect(limited.routes.map((r) => r.key)).toEqual([worst])
  })
})
