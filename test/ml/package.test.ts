// Packaged models: exact JSON round trips, the signature and data hash, registry storage by version and
// alias (a real Registry in a temporary workspace), and the router built from the best model per pair.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, GradientBoostingClassifier, LogisticRegression, RandomForestClassifier, RouterModel, dataHash, loadPackage, packageModel, readPackage, registerPackage, serializePackage } from '../../lib/ml/index.js'
import { Registry } from '../../lib/track/index.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-pkg-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

function data(seed: number, rows = 400) {
  const rng = seededRandom(seed)
  const X = new Float64Array(rows * 3)
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 3; c++) X[r * 3 + c] = rng.normal()
    y.push(X[r * 3]! + 0.5 * X[r * 3 + 1]! + 0.5 * rng.normal() > 0 ? 1 : 0)
  }
  return { X, rows, columns: ['z', 'mom', 'vol'], y }
}

describe('model packages', () => {
  it('round-trip exactly: same text, same predictions, for every family', async () => {
    const d = data(1)
    const models = [new DecisionTreeClassifier({ maxDepth: 5 }).fit(d), await new RandomForestClassifier({ nEstimators: 5, workers: 1 }).fit(d), new GradientBoostingClassifier({ nEstimators: 10 }).fit(d), new LogisticRegression().fit(d)]
    for (const model of models) {
      const pkg = packageModel(model, { data: d, label: 'up', metrics: { accuracy: 0.6 }, runId: 'abc123' })
      const text = serializePackage(pkg)
      const back = readPackage(text)
      expect(serializePackage(back.pkg)).toBe(text)
      expect(back.model.family).toBe(model.family)
      expect(Array.from(back.model.predictProba(d))).toEqual(Array.from(model.predictProba(d)))
      expect(pkg.signature.inputs).toEqual([
        { name: 'z', type: 'double', nullable: false },
        { name: 'mom', type: 'double', nullable: false },
        { name: 'vol', type: 'double', nullable: false },
      ])
      expect(pkg.signature.output).toEqual({ name: 'up', type: 'double', classes: [0, 1] })
      expect(pkg).toMatchObject({ format: 'mtflow-model', formatVersion: 1, task: 'classification', trainingRows: 400, runId: 'abc123', metrics: { accuracy: 0.6 } })
    }
  })

  it('hashes the training data: the same rows give the same hash, one changed label another', () => {
    const a = data(2)
    const b = data(2)
    expect(dataHash(a)).toBe(dataHash(b))
    expect(dataHash(a)).toMatch(/^[0-9a-f]{64}$/)
    b.y[7] = 1 - b.y[7]!
    expect(dataHash(b)).not.toBe(dataHash(a))
    expect(dataHash({ ...a, columns: ['z', 'mom', 'other'] })).not.toBe(dataHash(a))
  })

  it('is stored in the registry and loaded by version and by alias', () => {
    const registry = new Registry(home)
    const d = data(3)
    const first = packageModel(new DecisionTreeClassifier({ maxDepth: 3 }).fit(d), { data: d })
    const second = packageModel(new DecisionTreeClassifier({ maxDepth: 6 }).fit(d), { data: d, runId: 'run-2' })
    expect(registerPackage(registry, 'spread-clf', first)).toEqual({ version: 1, created: true })
    expect(registerPackage(registry, 'spread-clf', second, { alias: 'champion' })).toEqual({ version: 2, created: true })
    const byAlias = loadPackage(registry, 'spread-clf@champion')
    expect(byAlias.version).toBe(2)
    expect(byAlias.pkg).toEqual(JSON.parse(serializePackage(second)))
    expect(loadPackage(registry, 'spread-clf@1').pkg.model).toEqual(first.model)
    expect(registry.resolve('models', 'spread-clf@2').sourceRunId).toBe('run-2')
    expect(() => loadPackage(registry, 'spread-clf@best')).toThrow(/model spread-clf has no alias "best" \(aliases: champion\)/)
  })

  it('refuses what is not a package, and model types it does not know (models are data, never code)', () => {
    expect(() => readPackage('{"format":"pickle"}')).toThrow(/is not an mtflow-model package/)
    expect(() => readPackage('not json')).toThrow(/model package is not JSON/)
    const d = data(4)
    const pkg = packageModel(new DecisionTreeClassifier({ maxDepth: 2 }).fit(d), { data: d })
    const evil = { ...pkg, model: { ...pkg.model, type: 'function() { process.exit(1) }' } }
    expect(() => readPackage(JSON.stringify(evil))).toThrow(/unknown model type "function\(\) \{ process.exit\(1\) \}" \(known: .*forest-classifier.*\)/)
    expect(() => packageModel(new DecisionTreeClassifier().fit(d), { data: { ...d, columns: ['a', 'b', 'c'] } })).toThrow(/are not the model's \[z, mom, vol\]/)
  })
})

describe('RouterModel', () => {
  it('sends each row to its pair’s model and packages with the key as an input', () => {
    const a = data(5)
    const b = data(6)
    const ma = new DecisionTreeClassifier({ maxDepth: 4 }).fit(a)
    const mb = new LogisticRegression().fit(b)
    const router = new RouterModel({ 'KO/PEP': ma, 'XOM/CVX': mb })
    // Rows interleaved: even rows from a (KO/PEP), odd from b.
    const rows = 50
    const X = new Float64Array(rows * 3)
    const keys: string[] = []
    for (let r = 0; r < rows; r++) {
      const src = r % 2 === 0 ? a : b
      X.set(src.X.subarray(r * 3, r * 3 + 3), r * 3)
      keys.push(r % 2 === 0 ? 'KO/PEP' : 'XOM/CVX')
    }
    const proba = router.predictProba({ X, rows, columns: ['z', 'mom', 'vol'], keys })
    for (let r = 0; r < rows; r++) {
      const one = { X: X.subarray(r * 3, r * 3 + 3), rows: 1, columns: ['z', 'mom', 'vol'] }
      const expected = (r % 2 === 0 ? ma : mb).predictProba(one)
      expect(proba[r * 2 + 1]).toBe(expected[1])
    }
    expect(() => router.predict({ X: X.subarray(0, 3), rows: 1, columns: ['z', 'mom', 'vol'], keys: ['GLD/GDX'] })).toThrow(/no model for pair "GLD\/GDX" at row 0 \(routes: KO\/PEP, XOM\/CVX\)/)
    expect(() => router.predict({ X: X.subarray(0, 3), rows: 1, columns: ['z', 'mom', 'vol'] })).toThrow(/needs the pair of every row/)
    const pkg = packageModel(router, { data: a })
    expect(pkg.signature.inputs[0]).toEqual({ name: 'pair', type: 'string' })
    const back = readPackage(serializePackage(pkg)).model
    expect(Array.from(back.predictProba({ X, rows, columns: ['z', 'mom', 'vol'], keys }))).toEqual(Array.from(proba))
  })

  it('keeps the best-scoring model of each pair', () => {
    const d = data(7)
    const shallow = new DecisionTreeClassifier({ maxDepth: 1 }).fit(d)
    const deep = new DecisionTreeClassifier({ maxDepth: 6 }).fit(d)
    const router = RouterModel.fromBest([
      { key: 'A', model: shallow, score: 0.55 },
      { key: 'A', model: deep, score: 0.61 },
      { key: 'B', model: deep, score: 0.5 },
      { key: 'B', model: shallow, score: 0.58 },
      { key: 'C', model: deep, score: NaN },
    ])
    expect([...router.routes.keys()].sort()).toEqual(['A', 'B'])
    expect(router.routes.get('A')).toBe(deep)
    expect(router.routes.get('B')).toBe(shallow)
    expect(RouterModel.fromBest([{ key: 'A', model: shallow, score: 0.3 }, { key: 'A', model: deep, score: 0.2 }], { greaterIsBetter: false }).routes.get('A')).toBe(deep)
  })
})
