// Step 1 of the pair pipeline: screen symbols of the lake for cointegrated pairs (lib/features' screen)
// and, as a step, keep the screened pairs and the rules used (pairs table: y, x, corr, stat, pvalue, beta,
// halfLife, selected, reasons).

import { ConfigError, type ProgressSink } from '../core/index.js'
import { alignCloses, barsHash, loadBars, resolveKey, type Bars, type TableColumn } from '../data/index.js'
import { screenPairs, type PairCandidate } from '../features/index.js'
import type { StepInput } from '../track/index.js'
import { runStep, type StepResult } from './step.js'

export interface ScreenOptions {
  symbols: readonly string[]
  timeframe: string
  source?: string
  start?: string
  end?: string
  /** Largest cointegration p-value to select (default 0.05). */
  maxPValue?: number
  /** Smallest |correlation| of log returns to select (default 0.5). */
  minCorr?: number
  progress?: ProgressSink
}

export interface Screen {
  time: Float64Array
  candidates: PairCandidate[]
  selected: PairCandidate[]
  /** The lake datasets read, by content hash. */
  inputs: StepInput[]
}

/** The symbols' bars from the lake, each with its dataset's name and content hash. */
async function loadSymbols(home: string, options: ScreenOptions): Promise<{ datasets: Record<string, Bars>; inputs: StepInput[] }> {
  const symbols = [...options.symbols]
  if (symbols.length < 2) throw new ConfigError(`--symbols needs at least 2 symbols (received ${JSON.stringify(symbols.join(','))})`)
  const datasets: Record<string, Bars> = {}
  const inputs: StepInput[] = []
  for (const symbol of symbols) {
    const query = { symbol, timeframe: options.timeframe, source: options.source, start: options.start, end: options.end }
    const bars = await loadBars(home, query)
    datasets[symbol] = bars
    const source = resolveKey(home, query).source
    inputs.push({ kind: 'data', ref: `${source}/${symbol}/${options.timeframe}`, sha256: barsHash(bars, source) })
  }
  return { datasets, inputs }
}

function screenBars(datasets: Record<string, Bars>, inputs: StepInput[], options: ScreenOptions): Screen {
  const { time, closes } = alignCloses(datasets)
  if (time.length < 30) throw new ConfigError(`the symbols share only ${time.length} bars of ${options.timeframe}; expected at least 30 to test cointegration`)
  const result = screenPairs(closes, { maxPValue: options.maxPValue ?? 0.05, minCorr: options.minCorr ?? 0.5, ...(options.progress === undefined ? {} : { progress: options.progress }) })
  return { time, ...result, inputs }
}

/** The symbols' bars from the lake, aligned on shared times, screened pair by pair. */
export async function screenLake(home: string, options: ScreenOptions): Promise<Screen> {
  const { datasets, inputs } = await loadSymbols(home, options)
  return screenBars(datasets, inputs, options)
}

/** The screen's pairs as a table. */
export function pairsTable(candidates: readonly PairCandidate[]): Record<string, TableColumn> {
  return {
    y: candidates.map((p) => p.y),
    x: candidates.map((p) => p.x),
    corr: Float64Array.from(candidates, (p) => p.corr),
    stat: Float64Array.from(candidates, (p) => p.stat),
    pvalue: Float64Array.from(candidates, (p) => p.pvalue),
    beta: Float64Array.from(candidates, (p) => p.beta),
    halfLife: Float64Array.from(candidates, (p) => p.halfLife),
    selected: candidates.map((p) => p.passed),
    reasons: candidates.map((p) => p.reasons.join('; ')),
  }
}

/**
 * `mtflow pairs screen --save`: the screen as a step (kind "pairs-screen", table "pairs"); the same bars
 * screened by the same rules are the run that holds them already.
 */
export async function screenStep(home: string, options: ScreenOptions): Promise<StepResult & { screen?: Screen }> {
  const symbols = [...options.symbols]
  let screen: Screen | undefined
  // The inputs' hashes decide reuse: the bars are loaded (and hashed) first; the screen runs only when needed.
  const { datasets, inputs } = await loadSymbols(home, options)
  const rules = { maxPValue: options.maxPValue ?? 0.05, minCorr: options.minCorr ?? 0.5, timeframe: options.timeframe, symbols, start: options.start ?? null, end: options.end ?? null }
  const step = await runStep({
    home,
    step: 'pairs-screen',
    name: `pairs screen ${symbols.join(',')} ${options.timeframe}`,
    inputs,
    params: rules,
    compute: () => {
      screen = screenBars(datasets, inputs, options)
      return { pairs: pairsTable(screen.candidates) }
    },
    metrics: () => ({ pairs: screen!.candidates.length, selected: screen!.selected.length, bars: screen!.time.length }),
  })
  return { ...step, ...(screen === undefined ? {} : { screen }) }
}
