// A registered model's features, rebuilt from its lineage: the model version's train run, that run's
// dataset run, the dataset's features run and its params (sets, windows, timeframe) and data inputs
// (source per symbol). inferLatest (infer.ts) and the model-gated backtests (gated.ts) read the same
// lineage walk, so a model sees the same feature columns wherever it is used.

import { DataError } from '../core/index.js'
import { loadBars, type Bars, type TableColumn } from '../data/index.js'
import { readPackage, type Model } from '../ml/index.js'
import { trainChain, type RegistryVersion, openTracker, openRegistry } from '../track/index.js'
import { pairFeatureTable, symbolFeatureTable, type FeatureSet } from './features.js'
import { modelOrigin } from './infer.js'

export interface ModelLineage {
  version: RegistryVersion
  /** "NAME@VERSION". */
  ref: string
  trainRun: string
  datasetRun: string
  featuresRun: string
  /** "Y~X" for a pair, else the symbol. */
  target: string
  /** [Y, X] for a pair model. */
  pair?: [string, string]
  /** The symbols whose bars the features read (a pair's two legs, or the one symbol). */
  symbols: string[]
  timeframe: string
  /** The lake source each symbol's bars came from (undefined: the only one holding it). */
  sources: Record<string, string | undefined>
  /** The features run's params (sets, window, windows, timeframe…). */
  featureParams: Record<string, unknown>
  /** The columns the model reads, in its signature's order. */
  columns: string[]
  model: Model
  /**
   * The last bar time (ms) its training saw: the end of the features run's tables (its dataset's rows and
   * their label windows lie within them). A backtest from before it is in sample.
   */
  trainedThrough: number
}

/** Walk a registered model's lineage (NAME@VERSION, NAME@ALIAS or NAME) back to its features run. */
export async function modelLineage(home: string, ref: string): Promise<ModelLineage> {
  const registry = openRegistry(home)
  const version = registry.resolve('models', ref)
  const { trainRun, target } = await modelOrigin(home, version)
  const tracker = openTracker(home)
  const { datasetRun, featuresRun, features } = trainChain(tracker, trainRun, `model ${version.name}@${version.version}'s run`)
  const featureParams = features.manifest.params
  const timeframe = String(featureParams.timeframe)
  const pair = target.includes('~') ? (target.split('~') as [string, string]) : undefined
  const symbols = pair ?? [target]
  const sources: Record<string, string | undefined> = {}
  for (const symbol of symbols) sources[symbol] = features.manifest.inputs.find((i) => i.kind === 'data' && i.ref.endsWith(`/${symbol}/${timeframe}`))?.ref.split('/')[0]
  const { pkg, model } = readPackage(registry.readFile('models', `${version.name}@${version.version}`).toString('utf8'), `model ${version.name}@${version.version}`)
  return {
    version,
    ref: `${version.name}@${version.version}`,
    trainRun,
    datasetRun,
    featuresRun,
    target,
    ...(pair === undefined ? {} : { pair }),
    symbols,
    timeframe,
    sources,
    featureParams,
    columns: pkg.signature.inputs.map((f) => f.name),
    model,
    trainedThrough: Math.max(...features.manifest.tables.map((t) => (t.timeRange === undefined ? -Infinity : Date.parse(t.timeRange[1])))),
  }
}

/** The lake's bars of each symbol the model's features read (all of them: the features are causal). */
export async function modelBars(home: string, lineage: ModelLineage): Promise<Record<string, Bars>> {
  const out: Record<string, Bars> = {}
  for (const symbol of lineage.symbols) {
    const source = lineage.sources[symbol]
    out[symbol] = await loadBars(home, { symbol, timeframe: lineage.timeframe, ...(source === undefined ? {} : { source }) })
  }
  return out
}

/** The model's feature table on these bars, built as its features run built it (a pair's legs on their shared times). */
export function modelFeatureTable(lineage: ModelLineage, bars: Record<string, Bars>): Record<string, TableColumn> {
  const p = lineage.featureParams
  const table = lineage.pair !== undefined ? pairFeatureTable(bars[lineage.pair[0]]!, bars[lineage.pair[1]]!, { sets: p.sets as FeatureSet[], window: p.window as number, windows: p.windows as number[] }) : symbolFeatureTable(bars[lineage.target]!, { windows: p.windows as number[] })
  for (const c of lineage.columns) if (!(table[c] instanceof Float64Array)) throw new DataError(`model ${lineage.ref} reads ${c}, which the rebuilt features of ${lineage.target} lack`)
  return table
}

/**
 * The probability of class 1 (the label > 0) at each row of a feature table, NaN where a feature the
 * model reads is missing or not finite (the rows a dataset drops). The models score each row on its
 * own, so a row's probability does not depend on which other rows are scored with it.
 */
export function modelProbabilityColumn(lineage: ModelLineage, table: Record<string, TableColumn>): Float64Array {
  const columns = lineage.columns
  const features = columns.map((c) => table[c] as Float64Array)
  const n = (table.time as Float64Array).length
  const out = new Float64Array(n).fill(NaN)
  const rows: number[] = []
  for (let i = 0; i < n; i++) if (features.every((f) => Number.isFinite(f[i]!))) rows.push(i)
  if (rows.length === 0) return out
  const X = new Float64Array(rows.length * columns.length)
  rows.forEach((i, r) => features.forEach((f, j) => (X[r * columns.length + j] = f[i]!)))
  const proba = lineage.model.predictProba({ X, rows: rows.length, columns })
  const classes = (lineage.model.toJSON().classes ?? [0, 1]) as number[]
  const one = classes.indexOf(1)
  rows.forEach((i, r) => (out[i] = one < 0 ? 0 : proba[r * classes.length + one]!))
  return out
}
