// `npm run bench` group ml (its own process): the decision tree on 50,000 × 20 to depth 20 (target ≤ 0.5 s)
// and a 100-tree random forest on the same rows across 2 worker threads against scikit-learn's
// RandomForestClassifier(n_jobs=2) on the same bytes (Debian python3-sklearn, when installed), with
// held-out accuracy of both. Prints the rows as JSON.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRandom } from '../../lib/core/index.js'
import { DecisionTreeClassifier, RandomForestClassifier, accuracy } from '../../lib/ml/index.js'

const RUNS = Number(process.argv[2] ?? 5)
const FOREST_RUNS = Number(process.argv[3] ?? 3)
const PYTHON = '/usr/bin/python3'

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** 20 normal features; the label a noisy nonlinear function of three of them. */
function make(seed: number, n: number, p = 20) {
  const rng = seededRandom(seed)
  const X = new Float64Array(n * p)
  for (let i = 0; i < X.length; i++) X[i] = rng.normal()
  const y = new Float64Array(n)
  for (let r = 0; r < n; r++) y[r] = X[r * p]! + 0.5 * X[r * p + 1]! * X[r * p + 2]! + 0.3 * rng.normal() > 0 ? 1 : 0
  return { X, rows: n, columns: Array.from({ length: p }, (_, i) => `f${i}`), y }
}

const train = make(1, 50_000)
const test = make(2, 20_000)
const rows: { workload: string; median: number; throughput: string; reference: string; ratio: string }[] = []

const treeTimes: number[] = []
let treeAcc = 0
for (let i = 0; i < RUNS + 1; i++) {
  const t0 = performance.now()
  const tree = new DecisionTreeClassifier({ maxDepth: 20 }).fit(train)
  const ms = performance.now() - t0
  if (i > 0) treeTimes.push(ms) // the first fit warms the JIT
  treeAcc = accuracy(Array.from(test.y), Array.from(tree.predict(test)))
}
const treeMs = median(treeTimes)

const forestTimes: number[] = []
let forestAcc = 0
for (let i = 0; i < FOREST_RUNS; i++) {
  const t0 = performance.now()
  const forest = await new RandomForestClassifier({ nEstimators: 100, workers: 2, seed: i }).fit(train)
  forestTimes.push(performance.now() - t0)
  forestAcc = accuracy(Array.from(test.y), Array.from(forest.predict(test)))
}
const forestMs = median(forestTimes)

// scikit-learn on the same bytes.
let sk: { tree: number; treeAcc: number; forest: number; forestAcc: number } | undefined
if (existsSync(PYTHON)) {
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-bench-ml-'))
  try {
    writeFileSync(join(dir, 'Xtr'), train.X)
    writeFileSync(join(dir, 'ytr'), train.y)
    writeFileSync(join(dir, 'Xte'), test.X)
    writeFileSync(join(dir, 'yte'), test.y)
    const script = `
import json, sys, time, numpy as np
from sklearn.tree import DecisionTreeClassifier
from sklearn.ensemble import RandomForestClassifier
d = sys.argv[1]
Xtr = np.fromfile(d + '/Xtr').reshape(-1, 20); ytr = np.fromfile(d + '/ytr')
Xte = np.fromfile(d + '/Xte').reshape(-1, 20); yte = np.fromfile(d + '/yte')
tt, ft = [], []
for i in range(${RUNS}):
    t = time.perf_counter(); m = DecisionTreeClassifier(max_depth=20, random_state=i).fit(Xtr, ytr); tt.append(time.perf_counter() - t)
tacc = float((m.predict(Xte) == yte).mean())
for i in range(${FOREST_RUNS}):
    t = time.perf_counter(); f = RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=i).fit(Xtr, ytr); ft.append(time.perf_counter() - t)
facc = float((f.predict(Xte) == yte).mean())
print(json.dumps({'tree': float(np.median(tt)) * 1000, 'treeAcc': tacc, 'forest': float(np.median(ft)) * 1000, 'forestAcc': facc}))
`
    const out = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' })
    if (out.status === 0) sk = JSON.parse(out.stdout) as typeof sk
    else process.stderr.write(`scikit-learn reference failed: ${out.stderr}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

rows.push({
  workload: 'decision tree, 50,000 × 20, depth 20',
  median: treeMs,
  throughput: `${((50_000 / treeMs) * 1000).toFixed(0)} rows/s; held-out accuracy ${(treeAcc * 100).toFixed(1)} %`,
  reference: `≤ 500 ms${sk === undefined ? '' : `; scikit-learn ${sk.tree.toFixed(0)} ms, ${(sk.treeAcc * 100).toFixed(1)} %`}`,
  ratio: `${(treeMs / 500).toFixed(2)}× target${sk === undefined ? '' : `, ${(treeMs / sk.tree).toFixed(2)}× sklearn`}`,
})
rows.push({
  workload: 'random forest, 100 trees, 50,000 × 20, 2 workers',
  median: forestMs,
  throughput: `${((100 / forestMs) * 1000).toFixed(1)} trees/s; held-out accuracy ${(forestAcc * 100).toFixed(1)} %`,
  reference: sk === undefined ? 'scikit-learn not installed (apt-get install python3-sklearn)' : `scikit-learn n_jobs=2: ${sk.forest.toFixed(0)} ms, ${(sk.forestAcc * 100).toFixed(1)} %`,
  ratio: sk === undefined ? '—' : `${(forestMs / sk.forest).toFixed(2)}× time, ${((forestAcc - sk.forestAcc) * 100).toFixed(1)} pt accuracy`,
})
process.stdout.write(JSON.stringify(rows))
