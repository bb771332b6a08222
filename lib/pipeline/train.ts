// Step 4 of the pair pipeline: one model per dataset (per pair or symbol), cross-validated on its rows with
// purged k-fold (the default), walk-forward or combinatorial purged CV (labels' windows purged from
// training, an embargo after each test block), then fitted on every row and packaged (model-<k>.json,
// as `models serve` reads). The target is binary — the label > 0 (a spread that reverts, a return that is
// up, a profit-take first) — so every family gives probabilities: ROC and PR AUC, F1, directional accuracy
// and log loss per fold (table "cv"), and their means per dataset (table "summary").

import { ConfigError, type ProgressSink } from '../core/index.js'
import type { Executor } from '../exec/index.js'
import type { TableColumn } from '../data/index.js'
import {
  checkFamily,
  combinatorialPurgedCV,
  createModel,
  directionalAccuracy,
  f1,
  logLoss,
  packageModel,
  prAuc,
  purgedKFold,
  rocAuc,
  serializePackage,
  walkForward,
  type Labeled,
  type ModelFamily,
  type Split,
} from '../ml/index.js'
import { stepRun, type StepInput, openTracker } from '../track/index.js'
import { readStepTable, runStep, type StepResult } from './step.js'

export type CvKind = 'purged' | 'walk-forward' | 'cpcv'

export interface TrainOptions {
  /** A dataset run. */
  dataset: string
  model: string
  cv?: CvKind
  /** Folds (purged, walk-forward; default 5) or groups (cpcv; default 6, 2 tested at a time). */
  folds?: number
  /** Rows left out of training after each test block, as a fraction of the rows (default 0.01). */
  embargo?: number
  /** The model's options (hyperparameters), e.g. { maxDepth: 4 }. */
  hyper?: Record<string, unknown>
  /** Train the datasets as jobs on an executor (lib/exec: local threads, or `mtflow worker` processes). */
  executor?: Executor
  progress?: ProgressSink
}

const NOT_FEATURES = new Set(['time', 'label', 'labelEnd'])
const CV_KINDS: readonly CvKind[] = ['purged', 'walk-forward', 'cpcv']

function splitsOf(kind: CvKind, n: number, folds: number | undefined, labelEnd: Float64Array, embargo: number): Split[] {
  // Training rows whose labels reach into the test window are purged (walk-forward has no rows after a test
  // window to embargo).
  if (kind === 'walk-forward') return walkForward({ n, nSplits: folds ?? 5, labelEnd })
  if (kind === 'cpcv') return combinatorialPurgedCV({ n, groups: folds ?? 6, testGroups: 2, labelEnd, embargo })
  return purgedKFold({ n, k: folds ?? 5, labelEnd, embargo })
}

function rowsOf(all: Labeled, rows: Int32Array): Labeled & { y: Float64Array } {
  const c = all.columns.length
  const X = new Float64Array(rows.length * c)
  const y = new Float64Array(rows.length)
  rows.forEach((r, i) => {
    X.set(all.X.subarray(r * c, r * c + c), i * c)
    y[i] = all.y[r]!
  })
  return { X, rows: rows.length, columns: all.columns, y }
}

/** The probability of class 1 per row, from a classifier's predictProba over its `classes`. */
function probabilityOfOne(proba: Float64Array, rows: number, classes: readonly number[]): Float64Array {
  const k = classes.indexOf(1)
  const width = classes.length
  return Float64Array.from({ length: rows }, (_, r) => (k < 0 ? 0 : proba[r * width + k]!))
}

/** `mtflow train`: a model per dataset of a dataset run, as a step (kind "train"). */
/** What every dataset's job of a train step shares. */
export interface TrainContext {
  family: ModelFamily
  hyper: Record<string, unknown>
  cv: CvKind
  folds: number | undefined
  embargo: number
  dataset: string
}

/** One dataset: its feature matrix (rows × columns), label and label ends. */
export interface TrainItem {
  name: string
  k: number
  columns: string[]
  X: Float64Array
  label: Float64Array
  labelEnd: Float64Array
}

export interface CvRow {
  name: string
  fold: number
  train: number
  test: number
  rocAuc: number
  prAuc: number
  f1: number
  directionalAccuracy: number
  logLoss: number
}

export interface TrainDone {
  cvRows: CvRow[]
  summary: { name: string; rows: number; positives: number; rocAuc: number; prAuc: number; f1: number; directionalAccuracy: number; logLoss: number; model: string }
  file: string
  packageText: string
}

/** Each dataset of a dataset run as a job's item: its feature columns as one row-major matrix. */
export async function trainItems(home: string, dataset: string, manifest: ReturnType<typeof stepRun>['manifest']): Promise<TrainItem[]> {
  const items: TrainItem[] = []
  for (const [i, entry] of manifest.tables.entries()) {
    const t = await readStepTable(home, dataset, manifest, entry.name)
    const columns = Object.keys(t).filter((c) => !NOT_FEATURES.has(c) && t[c] instanceof Float64Array)
    const label = t.label as Float64Array
    const n = label.length
    const X = new Float64Array(n * columns.length)
    for (let r = 0; r < n; r++) for (let c = 0; c < columns.length; c++) X[r * columns.length + c] = (t[columns[c]!] as Float64Array)[r]!
    items.push({ name: entry.name, k: i + 1, columns, X, label, labelEnd: t.labelEnd as Float64Array })
  }
  return items
}

/** A dataset's folds, then the model fitted on every row and packaged. */
export async function trainDataset(c: TrainContext, item: TrainItem): Promise<TrainDone> {
  const { columns, X, label, name } = item
  const n = label.length
  const target = Float64Array.from(label, (v) => (v > 0 ? 1 : 0))
  const all: Labeled = { X, rows: n, columns, y: target }
  const positives = target.reduce((a, v) => a + v, 0)
  if (positives === 0 || positives === n) throw new ConfigError(`dataset ${name}: every row has the same target (${positives === 0 ? 'none' : 'all'} of ${n} positive); a model cannot learn from it — another label or label parameters`)
  const splits = splitsOf(c.cv, n, c.folds, item.labelEnd, c.embargo)
  const sums = { rocAuc: 0, prAuc: 0, f1: 0, directionalAccuracy: 0, logLoss: 0 }
  const counts = { rocAuc: 0, prAuc: 0, f1: 0, directionalAccuracy: 0, logLoss: 0 }
  const cvRows: CvRow[] = []
  let folds = 0
  for (const [fold, split] of splits.entries()) {
    const train = rowsOf(all, split.train)
    const test = rowsOf(all, split.test)
    if (new Set(Array.from(train.y)).size < 2) continue // a fold whose training rows are one class teaches nothing
    const model = await createModel(c.family, 'classification', c.hyper).fit(train)
    const classes = (model.toJSON().classes ?? [0, 1]) as number[]
    const p = probabilityOfOne(model.predictProba(test), test.rows, classes)
    const pred = Float64Array.from(p, (v) => (v >= 0.5 ? 1 : 0))
    // A test block of one class has no ROC or PR AUC (NaN: left out of the means, shown as such per fold).
    const oneClass = new Set(Array.from(test.y)).size < 2
    const m = { rocAuc: oneClass ? NaN : rocAuc(test.y, p), prAuc: oneClass ? NaN : prAuc(test.y, p), f1: f1(test.y, pred), directionalAccuracy: directionalAccuracy(Float64Array.from(test.y, (v) => (v > 0 ? 1 : -1)), Float64Array.from(pred, (v) => (v > 0 ? 1 : -1))), logLoss: logLoss(test.y, p) }
    cvRows.push({ name, fold: fold + 1, train: train.rows, test: test.rows, ...m })
    for (const key of Object.keys(sums) as (keyof typeof sums)[]) {
      if (!Number.isFinite(m[key])) continue
      sums[key] += m[key]
      counts[key]++
    }
    folds++
  }
  if (folds === 0) throw new ConfigError(`dataset ${name}: no fold had both classes in its training rows; fewer folds or a longer history`)
  const means = Object.fromEntries(Object.entries(sums).map(([key, v]) => [key, counts[key as keyof typeof sums] === 0 ? NaN : v / counts[key as keyof typeof sums]])) as typeof sums
  const final = await createModel(c.family, 'classification', c.hyper).fit(all)
  const file = `model-${item.k}.json`
  const packageText = serializePackage(packageModel(final, { data: all, metrics: means, description: `${c.family} on ${name} (${c.dataset}), target: label > 0` }))
  return { cvRows, summary: { name, rows: n, positives, ...means, model: file }, file, packageText }
}

export async function trainStep(home: string, options: TrainOptions): Promise<StepResult> {
  const family = checkFamily(options.model)
  if (family === 'ridge') throw new ConfigError('--model ridge is a regressor; the pipeline trains classifiers (tree, forest, gbt, logistic)')
  const cv = options.cv ?? 'purged'
  if (!CV_KINDS.includes(cv)) throw new ConfigError(`--cv must be one of ${CV_KINDS.join(', ')} (received ${JSON.stringify(cv)})`)
  const embargo = options.embargo ?? 0.01
  if (!(embargo >= 0 && embargo < 0.5)) throw new ConfigError(`--embargo must be a fraction in [0, 0.5) (received ${embargo})`)
  createModel(family, 'classification', options.hyper ?? {}) // unknown hyperparameters refused before any work
  const source = stepRun(openTracker(home), options.dataset, ['dataset'], '--dataset')
  const inputs: StepInput[] = [{ kind: 'run', ref: options.dataset, sha256: source.manifest.key }]
  const params = { model: family, cv, folds: options.folds ?? null, embargo, hyper: options.hyper ?? {} }
  const packages: Record<string, string> = {}
  return runStep({
    home,
    step: 'train',
    name: `train ${family} (${cv}) on ${options.dataset}`,
    inputs,
    params,
    compute: async () => {
      const cvRows: CvRow[] = []
      const summary: TrainDone['summary'][] = []
      // Each dataset's folds and final fit: one job each (lib/pipeline/jobs.ts), here or on an executor.
      const items = await trainItems(home, options.dataset, source.manifest)
      const context: TrainContext = { family, hyper: options.hyper ?? {}, cv, folds: options.folds, embargo, dataset: options.dataset }
      let done: TrainDone[]
      if (options.executor === undefined) {
        done = []
        for (const item of items) done.push(await trainDataset(context, item))
      } else {
        const outcomes = await options.executor.run<TrainItem, TrainDone>({ kind: 'pipeline.trainDataset', label: `train ${family}`, context, items, ...(options.progress === undefined ? {} : { progress: options.progress }) })
        done = outcomes.map((o, i) => {
          if (!o.ok) throw new ConfigError(o.error.startsWith('dataset ') ? o.error : `dataset ${items[i]!.name}: ${o.error}`)
          return o.value
        })
      }
      for (const d of done) {
        cvRows.push(...d.cvRows)
        packages[d.file] = d.packageText
        summary.push(d.summary)
      }
      const col = <T>(rows: T[], key: keyof T) => Float64Array.from(rows, (r) => r[key] as unknown as number)
      const tables: Record<string, Record<string, TableColumn>> = {
        cv: { name: cvRows.map((r) => r.name), fold: col(cvRows, 'fold'), train: col(cvRows, 'train'), test: col(cvRows, 'test'), rocAuc: col(cvRows, 'rocAuc'), prAuc: col(cvRows, 'prAuc'), f1: col(cvRows, 'f1'), directionalAccuracy: col(cvRows, 'directionalAccuracy'), logLoss: col(cvRows, 'logLoss') },
        summary: { name: summary.map((r) => r.name), rows: col(summary, 'rows'), positives: col(summary, 'positives'), rocAuc: col(summary, 'rocAuc'), prAuc: col(summary, 'prAuc'), f1: col(summary, 'f1'), directionalAccuracy: col(summary, 'directionalAccuracy'), logLoss: col(summary, 'logLoss'), model: summary.map((r) => r.model) },
      }
      return tables
    },
    files: () => packages,
    metrics: (tables) => {
      const s = tables.summary!
      const mean = (c: string) => Array.from(s[c] as Float64Array).reduce((a, b) => a + b, 0) / (s[c] as Float64Array).length
      return { models: (s.name as string[]).length, rocAuc: mean('rocAuc'), prAuc: mean('prAuc'), f1: mean('f1'), directionalAccuracy: mean('directionalAccuracy'), logLoss: mean('logLoss') }
    },
  })
}
