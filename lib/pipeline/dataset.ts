// Step 3 of the pair pipeline: datasets — a label per feature table (zThreshold, revertDirection,
// forwardReturnSign, tripleBarrier), rows with a missing or infinite value dropped, each row with the bars its label
// looks ahead. Before anything is written the lookahead check recomputes every feature column on prefixes
// of the bars it came from (the lake's, verified against the features run's hashes): a feature whose value
// at bar t changes once later bars exist fails the step.

import { ConfigError, DataError } from '../core/index.js'
import { barsHash, loadBars, type Bars, type TableColumn } from '../data/index.js'
import { checkLookahead, forwardReturnSign, revertDirection, tripleBarrier, zThreshold, type SeriesRecord } from '../features/index.js'
import { makeDataset } from '../ml/index.js'
import { stepRun, type StepInput, type StepManifest, openTracker } from '../track/index.js'
import { pairFeatureTable, symbolFeatureTable, type FeatureSet } from './features.js'
import { readStepTable, runStep, type StepResult } from './step.js'

export type LabelKind = 'zThreshold' | 'revertDirection' | 'forwardReturnSign' | 'tripleBarrier'

export interface DatasetStepOptions {
  /** A features run. */
  features: string
  label: LabelKind
  /** Bars the label looks ahead (defaults: zThreshold 20, revertDirection 10, forwardReturnSign 1, tripleBarrier 20). */
  horizon?: number
  /** zThreshold: |z| at or above which a bar is stretched (default 2), and at or below which it has come back (default 0.5). */
  entry?: number
  exit?: number
  /** tripleBarrier: profit-take and stop as fractions of the close (default 0.02 each). */
  profit?: number
  stop?: number
}

const PRICE_COLUMNS = new Set(['time', 'y', 'x', 'open', 'high', 'low', 'close', 'volume'])
const LABELS: readonly LabelKind[] = ['zThreshold', 'revertDirection', 'forwardReturnSign', 'tripleBarrier']

/** The label of one feature table and how many bars each row's label looks ahead. */
function labelOf(table: Record<string, TableColumn>, name: string, o: DatasetStepOptions): { label: Float64Array; horizon: number | Float64Array } {
  const num = (c: string) => {
    const v = table[c]
    if (!(v instanceof Float64Array)) throw new ConfigError(`--label ${o.label} needs a ${c} column; table ${name} has none (${o.label === 'zThreshold' || o.label === 'revertDirection' ? 'build pair features: features build --pairs RUN --set pair' : 'it has no prices'})`)
    return v
  }
  const rows = num('time').length
  switch (o.label) {
    case 'zThreshold': {
      const horizon = o.horizon ?? 20
      return { label: zThreshold(num('z'), { entry: o.entry ?? 2, exit: o.exit ?? 0.5, horizon }), horizon }
    }
    case 'revertDirection': {
      const horizon = o.horizon ?? 10
      return { label: revertDirection(num('z'), { horizon }), horizon }
    }
    case 'forwardReturnSign': {
      const horizon = o.horizon ?? 1
      return { label: forwardReturnSign(table.close instanceof Float64Array ? table.close : num('y'), { horizon }), horizon }
    }
    case 'tripleBarrier': {
      const horizon = o.horizon ?? 20
      const close = table.close instanceof Float64Array ? table.close : num('y')
      const tb = tripleBarrier({ close, ...(table.high instanceof Float64Array ? { high: table.high } : {}), ...(table.low instanceof Float64Array ? { low: table.low } : {}) }, { profit: o.profit ?? 0.02, stop: o.stop ?? 0.02, horizon })
      // A row's label ends where its barrier was touched (or at the time limit).
      const ends = Float64Array.from({ length: rows }, (_, i) => (Number.isNaN(tb.bars[i]!) ? 0 : tb.bars[i]!))
      return { label: tb.label, horizon: ends }
    }
  }
}

/** The bars a features run was computed from, verified against its manifest's hashes. */
async function featureBars(home: string, runId: string, manifest: StepManifest): Promise<Record<string, Bars>> {
  const out: Record<string, Bars> = {}
  const p = manifest.params
  for (const input of manifest.inputs) {
    if (input.kind !== 'data') continue
    const parts = input.ref.split('/')
    const timeframe = parts.pop()!
    const source = parts.shift()!
    const symbol = parts.join('/')
    const bars = await loadBars(home, { symbol, timeframe, source, ...(typeof p.start === 'string' ? { start: p.start } : {}), ...(typeof p.end === 'string' ? { end: p.end } : {}) })
    if (barsHash(bars, source) !== input.sha256) throw new DataError(`the lake's ${input.ref} bars changed since features run ${runId} was built; build the features again`)
    out[symbol] = bars
  }
  return out
}

/** Every feature column recomputed on prefixes of its bars: the names of those that look ahead. */
function leaks(tableName: string, bars: Record<string, Bars>, p: Record<string, unknown>): string[] {
  const sets = p.sets as FeatureSet[]
  const windows = p.windows as number[]
  const fields = ['time', 'open', 'high', 'low', 'close', 'volume'] as const
  const pair = tableName.includes('~') ? (tableName.split('~') as [string, string]) : undefined
  const legs = pair ?? [tableName]
  // The bars as flat series (a pair's legs on their shared times, as the features step aligned them).
  const base = pair !== undefined ? pairFeatureTable(bars[legs[0]!]!, bars[legs[1]!]!, { sets: [], windows: [] }) : undefined
  const record: SeriesRecord = {}
  if (pair !== undefined) {
    const keep = new Set(Array.from(base!.time as Float64Array))
    legs.forEach((symbol, k) => {
      const b = bars[symbol]!
      const at: number[] = []
      for (let i = 0; i < b.time.length; i++) if (keep.has(b.time[i]!)) at.push(i)
      for (const f of fields) record[`${k}_${f}`] = Float64Array.from(at, (i) => b[f][i]!)
    })
  } else for (const f of fields) record[`0_${f}`] = bars[tableName]![f]
  const asBars = (r: SeriesRecord, k: number, symbol: string): Bars => ({ symbol, timeframe: '', time: r[`${k}_time`]!, open: r[`${k}_open`]!, high: r[`${k}_high`]!, low: r[`${k}_low`]!, close: r[`${k}_close`]!, volume: r[`${k}_volume`]! })
  const fn = (r: SeriesRecord): SeriesRecord => {
    const t = pair !== undefined ? pairFeatureTable(asBars(r, 0, legs[0]!), asBars(r, 1, legs[1]!), { sets, window: p.window as number, windows }) : symbolFeatureTable(asBars(r, 0, legs[0]!), { windows })
    const out: SeriesRecord = {}
    for (const [k, v] of Object.entries(t)) if (v instanceof Float64Array && !PRICE_COLUMNS.has(k)) out[k] = v
    return out
  }
  return checkLookahead(fn, record, { prefixes: 12 }).leaking
}

/** `mtflow dataset build`: one dataset per feature table, as a step (kind "dataset"). */
export async function datasetStep(home: string, options: DatasetStepOptions): Promise<StepResult> {
  if (!LABELS.includes(options.label)) throw new ConfigError(`--label must be one of ${LABELS.join(', ')} (received ${JSON.stringify(options.label)})`)
  if (options.horizon !== undefined && !(Number.isInteger(options.horizon) && options.horizon >= 1)) throw new ConfigError(`--horizon must be an integer ≥ 1 (received ${options.horizon})`)
  const source = stepRun(openTracker(home), options.features, ['features'], '--features')
  const inputs: StepInput[] = [{ kind: 'run', ref: options.features, sha256: source.manifest.key }]
  const params = { label: options.label, horizon: options.horizon ?? null, entry: options.entry ?? null, exit: options.exit ?? null, profit: options.profit ?? null, stop: options.stop ?? null }
  return runStep({
    home,
    step: 'dataset',
    name: `dataset ${options.label} of ${options.features}`,
    inputs,
    params,
    compute: async () => {
      const bars = await featureBars(home, options.features, source.manifest)
      const tables: Record<string, Record<string, TableColumn>> = {}
      for (const entry of source.manifest.tables) {
        const table = await readStepTable(home, options.features, source.manifest, entry.name)
        const leaking = leaks(entry.name, bars, source.manifest.params)
        if (leaking.length > 0) throw new DataError(`feature table ${entry.name} of run ${options.features}: ${leaking.join(', ')} look${leaking.length === 1 ? 's' : ''} ahead (a value at bar t changes once later bars exist); nothing was written`)
        const { label, horizon } = labelOf(table, entry.name, options)
        if (label.every((v) => Number.isNaN(v))) throw new ConfigError(`table ${entry.name}: no bar gets a ${options.label} label (${table.time!.length} bars; the label window is ${typeof horizon === 'number' ? horizon : 'up to the horizon'} bars)`)
        const features: Record<string, Float64Array> = {}
        // A value that is not finite (a half-life of Infinity: no reversion in its window) is missing to a
        // model: its row is dropped like one with a NaN.
        for (const [k, v] of Object.entries(table)) if (v instanceof Float64Array && !PRICE_COLUMNS.has(k)) features[k] = v.map((x) => (Number.isFinite(x) ? x : NaN))
        const ds = makeDataset({ features, label, horizon: typeof horizon === 'number' ? horizon : Int32Array.from(horizon), time: table.time as Float64Array })
        if (ds.rows === 0) throw new ConfigError(`table ${entry.name}: every labelled row has a missing feature; a shorter window or a longer history would leave rows`)
        const out: Record<string, TableColumn> = { time: ds.time! }
        ds.columns.forEach((c, j) => (out[c] = Float64Array.from({ length: ds.rows }, (_, r) => ds.X[r * ds.columns.length + j]!)))
        out.label = ds.y
        out.labelEnd = Float64Array.from(ds.labelEnd)
        tables[entry.name] = out
      }
      return tables
    },
    metrics: (tables) => ({ tables: Object.keys(tables).length, rows: Object.values(tables).reduce((a, t) => a + (t.time?.length ?? 0), 0) }),
  })
}
