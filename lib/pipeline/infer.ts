// Batch inference (issue 20): a model a train run made, registered (NAME@VERSION or NAME@ALIAS), on
// the latest bars of its pair or symbol. Its lineage says how its features were built — the train run's
// dataset, that dataset's features run, its params and the table the model learned from — so the features
// are rebuilt the same way on the lake's bars as they are now, and the model gives each of the last N bars
// with every feature present a probability that the label will be positive (a spread that reverts, a return
// that is up). A signal: time, the pair or symbol, the model version, the probability, the side (for a pair:
// against the spread's z — short the spread when z > 0; for a symbol: long when p ≥ 0.5) and a confidence
// |2p − 1|. A router (`router build`) gives the signals of each of its routes, each route's features
// rebuilt from the lineage of the train run it came from.

import { ConfigError, DataError } from '../core/index.js'
import { loadBars, type Bars, type TableColumn } from '../data/index.js'
import { readPackage, RouterModel, type Model } from '../ml/index.js'
import { stepRun, trainChain, type RegistryVersion, openTracker, openRegistry } from '../track/index.js'
import { pairFeatureTable, symbolFeatureTable, type FeatureSet } from './features.js'
import { readStepTable } from './step.js'

export interface Signal {
  time: string
  /** "Y~X" for a pair, else the symbol. */
  target: string
  model: string
  probability: number
  side: 'long' | 'short' | 'long spread' | 'short spread'
  confidence: number
}

export interface InferResult {
  signals: Signal[]
  /** The tracked run holding signals.jsonl (unless track: false). */
  runId?: string
}

/** The features of `target` rebuilt on the lake's bars as the train run's lineage says (train → dataset → features). */
export async function lineageFeatures(home: string, trainRun: string, target: string): Promise<{ table: Record<string, TableColumn>; timeframe: string }> {
  const tracker = openTracker(home)
  const { features } = trainChain(tracker, trainRun, "the model's train run")
  const p = features.manifest.params
  const timeframe = String(p.timeframe)
  const source = (symbol: string) => features.manifest.inputs.find((i) => i.kind === 'data' && i.ref.endsWith(`/${symbol}/${timeframe}`))?.ref.split('/')[0]
  const bars = async (symbol: string): Promise<Bars> => loadBars(home, { symbol, timeframe, ...(source(symbol) === undefined ? {} : { source: source(symbol)! }) })
  const pair = target.includes('~') ? (target.split('~') as [string, string]) : undefined
  const table = pair !== undefined ? pairFeatureTable(await bars(pair[0]), await bars(pair[1]), { sets: p.sets as FeatureSet[], window: p.window as number, windows: p.windows as number[] }) : symbolFeatureTable(await bars(target), { windows: p.windows as number[] })
  return { table, timeframe }
}

/** The signals of one model on the last `last` bars of `target` with every feature it reads present. */
async function targetSignals(home: string, trainRun: string, target: string, model: Model, label: string, last: number): Promise<Signal[]> {
  const { table, timeframe } = await lineageFeatures(home, trainRun, target)
  const json = model.toJSON()
  const columns = json.columns
  for (const c of columns) if (!(table[c] instanceof Float64Array)) throw new DataError(`model ${label} reads ${c}, which the rebuilt features of ${target} lack`)
  const time = table.time as Float64Array
  // The last `last` bars with every feature finite (the rows a dataset would keep).
  const rows: number[] = []
  for (let i = time.length - 1; i >= 0 && rows.length < last; i--) if (columns.every((c) => Number.isFinite((table[c] as Float64Array)[i]!))) rows.unshift(i)
  if (rows.length === 0) throw new DataError(`${target}: no recent bar has every feature the model reads (the lake holds ${time.length} bars of ${timeframe})`)
  const X = new Float64Array(rows.length * columns.length)
  rows.forEach((i, r) => columns.forEach((c, j) => (X[r * columns.length + j] = (table[c] as Float64Array)[i]!)))
  const proba = model.predictProba({ X, rows: rows.length, columns })
  const classes = (json.classes ?? [0, 1]) as number[]
  const one = classes.indexOf(1)
  const z = table.z instanceof Float64Array ? table.z : undefined
  const pair = target.includes('~')
  return rows.map((i, r) => {
    const probability = one < 0 ? 0 : proba[r * classes.length + one]!
    const side: Signal['side'] = pair ? (z !== undefined && z[i]! > 0 ? 'short spread' : 'long spread') : probability >= 0.5 ? 'long' : 'short'
    return { time: new Date(time[i]!).toISOString(), target, model: label, probability, side, confidence: Math.abs(2 * probability - 1) }
  })
}

/** The train run and the target a registered model (not a router) came from. */
export async function modelOrigin(home: string, version: RegistryVersion): Promise<{ trainRun: string; target: string }> {
  const trainRun = version.sourceRunId
  if (trainRun === undefined) throw new ConfigError(`model ${version.name}@${version.version} was not made by a run; infer needs a model a \`train\` step made`)
  const train = stepRun(openTracker(home), trainRun, ['train'], `model ${version.name}@${version.version}'s run`)
  const summary = await readStepTable(home, trainRun, train.manifest, 'summary')
  // The registered artifact's path in the run (source "runs:/RUN/PATH").
  const artifact = version.source?.startsWith(`runs:/${trainRun}/`) === true ? version.source.slice(`runs:/${trainRun}/`.length) : version.files[0]!.name
  const at = (summary.model as string[]).indexOf(artifact)
  if (at < 0) throw new DataError(`model ${version.name}@${version.version}: its artifact is not in train run ${trainRun}'s summary`)
  return { trainRun, target: (summary.name as string[])[at]! }
}

/** Signals of a registered model — a train step's model, or a router over several — on the latest bars. */
export async function inferSignals(home: string, ref: string, last: number): Promise<Signal[]> {
  if (!(Number.isInteger(last) && last >= 1)) throw new ConfigError(`--last must be an integer ≥ 1 (received ${last})`)
  const registry = openRegistry(home)
  const version = registry.resolve('models', ref)
  const label = `${version.name}@${version.version}`
  const { model } = readPackage(registry.readFile('models', label).toString('utf8'), `model ${label}`)
  if (model instanceof RouterModel) {
    const routes = await routerRoutes(home, version)
    const out: Signal[] = []
    for (const [key, m] of model.routes) {
      const trainRun = routes.get(key)
      if (trainRun === undefined) throw new DataError(`router ${label}: route ${key} is not in its router run's routes table`)
      out.push(...(await targetSignals(home, trainRun, key, m, label, last)))
    }
    return out
  }
  const { trainRun, target } = await modelOrigin(home, version)
  return targetSignals(home, trainRun, target, model, label, last)
}

/** A router's route keys → the train run each route's model came from (its `router build` run's routes table). */
async function routerRoutes(home: string, version: RegistryVersion): Promise<Map<string, string>> {
  const runId = version.sourceRunId
  if (runId === undefined) throw new ConfigError(`router ${version.name}@${version.version} was not made by \`router build\`; infer needs its routes' lineage`)
  const step = stepRun(openTracker(home), runId, ['router'], `router ${version.name}@${version.version}'s run`)
  const routes = await readStepTable(home, runId, step.manifest, 'routes')
  return new Map((routes.key as string[]).map((k, i) => [k, (routes.trainRun as string[])[i]!]))
}

/** `mtflow infer`: the signals, recorded as a run (kind "infer") holding signals.jsonl, its lineage the model's run. */
export async function inferLatest(home: string, ref: string, last: number, options: { track?: boolean } = {}): Promise<InferResult> {
  const signals = await inferSignals(home, ref, last)
  if (options.track === false) return { signals }
  const version = openRegistry(home).resolve('models', ref)
  const tracker = openTracker(home)
  const run = tracker.startRun({
    experiment: 'pipeline',
    name: `infer ${version.name}@${version.version} (last ${last})`,
    params: { model: `${version.name}@${version.version}`, ref, last },
    tags: { 'mtflow.kind': 'infer' },
    ...(version.sourceRunId === undefined ? {} : { lineage: { runs: [version.sourceRunId] } }),
  })
  try {
    run.logArtifact({ name: 'signals.jsonl', data: signals.map((s) => `${JSON.stringify(s)}\n`).join('') })
    run.logMetrics({ signals: signals.length, meanProbability: signals.reduce((a, s) => a + s.probability, 0) / signals.length })
    run.end()
  } catch (error) {
    run.end('FAILED')
    throw error
  }
  return { signals, runId: run.id }
}
