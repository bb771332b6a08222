// Step 2 of the pair pipeline: feature tables, one per screened pair (from a pairs-screen run) or per
// symbol. A pair's table: time, the legs' closes, the pair features on log prices (rolling hedge ratio and
// intercept, spread, its z-score and half-life, the z-score's velocity and acceleration), and each leg's
// factor set (range, trendiness, best-fit slope and R² over the windows; returns) prefixed y_ and x_. A
// symbol's table: time, OHLCV and its factor set. Every value at bar t uses bars ≤ t only.

import { ConfigError, type ProgressSink } from '../core/index.js'
import { barsHash, loadBars, resolveKey, type Bars, type TableColumn } from '../data/index.js'
import { DEFAULT_WINDOWS, factorSet, pairFeatures } from '../features/index.js'
import { stepRun, type StepInput, openTracker } from '../track/index.js'
import { readStepTable, runStep, type StepResult } from './step.js'

export type FeatureSet = 'pair' | 'factors'

export interface FeaturesOptions {
  /** A pairs-screen run: one table per pair it selected. */
  pairs?: string
  /** Or symbols: one table each. */
  symbols?: readonly string[]
  /** Default: the screen's timeframe (with --pairs); required with symbols. */
  timeframe?: string
  source?: string
  start?: string
  end?: string
  /** Default: pair and factors for pairs, factors for symbols. */
  sets?: readonly FeatureSet[]
  /** Bars in the hedge-ratio, z-score and half-life windows (default 60). */
  window?: number
  /** The factor set's windows (default 10, 20, 30, 50, 100). */
  windows?: readonly number[]
  progress?: ProgressSink
}

/** Two series' bars on the times both have. */
function alignBars(a: Bars, b: Bars): [Bars, Bars] {
  const ia: number[] = []
  const ib: number[] = []
  let j = 0
  for (let i = 0; i < a.time.length; i++) {
    while (j < b.time.length && b.time[j]! < a.time[i]!) j++
    if (j < b.time.length && b.time[j] === a.time[i]) {
      ia.push(i)
      ib.push(j)
    }
  }
  const pick = (bars: Bars, at: number[]): Bars => {
    const col = (c: Float64Array) => Float64Array.from(at, (k) => c[k]!)
    return { symbol: bars.symbol, timeframe: bars.timeframe, time: col(bars.time), open: col(bars.open), high: col(bars.high), low: col(bars.low), close: col(bars.close), volume: col(bars.volume) }
  }
  return [pick(a, ia), pick(b, ib)]
}

/** One pair's feature table (y regressed on x). */
export function pairFeatureTable(y: Bars, x: Bars, options: { sets?: readonly FeatureSet[]; window?: number; windows?: readonly number[] } = {}): Record<string, TableColumn> {
  const [ya, xa] = alignBars(y, x)
  const sets = options.sets ?? ['pair', 'factors']
  const out: Record<string, TableColumn> = { time: ya.time, y: ya.close, x: xa.close }
  if (sets.includes('pair')) {
    const f = pairFeatures(ya.close.map(Math.log), xa.close.map(Math.log), { window: options.window ?? 60 })
    Object.assign(out, { beta: f.beta, alpha: f.alpha, spread: f.spread, z: f.z, halfLife: f.halfLife, zVelocity: f.zVelocity, zAcceleration: f.zAcceleration })
  }
  if (sets.includes('factors')) {
    for (const [leg, bars] of [['y', ya], ['x', xa]] as const) {
      for (const [name, column] of Object.entries(factorSet(bars, { windows: options.windows ?? DEFAULT_WINDOWS }))) out[`${leg}_${name}`] = column
    }
  }
  return out
}

/** One symbol's feature table. */
export function symbolFeatureTable(bars: Bars, options: { windows?: readonly number[] } = {}): Record<string, TableColumn> {
  return { time: bars.time, open: bars.open, high: bars.high, low: bars.low, close: bars.close, volume: bars.volume, ...factorSet(bars, { windows: options.windows ?? DEFAULT_WINDOWS }) }
}

function checkOptions(o: FeaturesOptions): { window: number; windows: number[]; sets: FeatureSet[] } {
  const window = o.window ?? 60
  if (!(Number.isInteger(window) && window >= 3)) throw new ConfigError(`--window must be an integer ≥ 3 (received ${o.window})`)
  const windows = [...(o.windows ?? DEFAULT_WINDOWS)]
  for (const n of windows) if (!(Number.isInteger(n) && n >= 2)) throw new ConfigError(`--windows must be integers ≥ 2 (received ${windows.join(',')})`)
  const sets = [...(o.sets ?? (o.pairs !== undefined ? ['pair', 'factors'] : ['factors']))] as FeatureSet[]
  for (const s of sets) if (s !== 'pair' && s !== 'factors') throw new ConfigError(`--set must be pair and/or factors (received ${JSON.stringify(s)})`)
  if (o.pairs === undefined && sets.includes('pair')) throw new ConfigError('--set pair needs --pairs RUN (pair features are computed per pair)')
  return { window, windows, sets }
}

/** `mtflow features build`: the feature tables as a step (kind "features"), reused for the same inputs and options. */
export async function featuresStep(home: string, options: FeaturesOptions): Promise<StepResult> {
  if ((options.pairs === undefined) === (options.symbols === undefined)) throw new ConfigError('features build needs --pairs RUN or --symbols A,B (one of them)')
  const { window, windows, sets } = checkOptions(options)
  const inputs: StepInput[] = []
  let timeframe = options.timeframe
  let pairs: [string, string][] = []
  let symbols: string[]
  if (options.pairs !== undefined) {
    const screen = stepRun(openTracker(home), options.pairs, ['pairs-screen'], '--pairs')
    inputs.push({ kind: 'run', ref: options.pairs, sha256: screen.manifest.key })
    timeframe ??= String(screen.manifest.params.timeframe)
    const table = await readStepTable(home, options.pairs, screen.manifest, 'pairs')
    const y = table.y as string[]
    const x = table.x as string[]
    const selected = table.selected as boolean[]
    pairs = y.map((s, i) => [s, x[i]!] as [string, string]).filter((_, i) => selected[i])
    if (pairs.length === 0) throw new ConfigError(`--pairs ${options.pairs}: the screen selected no pair; loosen its rules (--max-pvalue, --min-corr) or pick pairs by --symbols`)
    symbols = [...new Set(pairs.flat())]
  } else {
    symbols = [...new Set(options.symbols!)]
    if (symbols.length === 0) throw new ConfigError('--symbols needs at least one symbol')
    if (timeframe === undefined) throw new ConfigError('--timeframe is needed with --symbols (e.g. 1h)')
  }
  const bars: Record<string, Bars> = {}
  for (const symbol of symbols) {
    const query = { symbol, timeframe, source: options.source, start: options.start, end: options.end }
    bars[symbol] = await loadBars(home, query)
    const source = resolveKey(home, query).source
    inputs.push({ kind: 'data', ref: `${source}/${symbol}/${timeframe}`, sha256: barsHash(bars[symbol]!, source) })
  }
  const params = { sets, window, windows, timeframe, start: options.start ?? null, end: options.end ?? null }
  return runStep({
    home,
    step: 'features',
    name: options.pairs !== undefined ? `features of ${pairs.length} pair${pairs.length === 1 ? '' : 's'} (${options.pairs}) ${timeframe}` : `features ${symbols.join(',')} ${timeframe}`,
    inputs,
    params,
    compute: () => {
      const tables: Record<string, Record<string, TableColumn>> = {}
      if (options.pairs !== undefined) for (const [y, x] of pairs) tables[`${y}~${x}`] = pairFeatureTable(bars[y]!, bars[x]!, { sets, window, windows })
      else for (const symbol of symbols) tables[symbol] = symbolFeatureTable(bars[symbol]!, { windows })
      return tables
    },
    metrics: (tables) => ({ tables: Object.keys(tables).length, rows: Object.values(tables).reduce((a, t) => a + (t.time?.length ?? 0), 0) }),
  })
}
