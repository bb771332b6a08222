// Static weights for a portfolio backtest, derived from a results table (backtests or sweep rows
// of the candidates): winners (1 for a metric above a threshold, 0 otherwise), equal, or inverse
// volatility. Weights are normalised to sum to 1; all zero is an error, not a silent empty book.

import { ConfigError } from '../core/index.js'

export type WeightMethod = 'winners' | 'equal' | 'inverse-vol'

export interface WeightOptions {
  /** winners: the metric that decides (default totalReturn) and the bar to clear (default 0). */
  metric?: string
  threshold?: number
}

/** Weights, one per row, summing to 1. */
export function weightsFrom(rows: readonly { metrics: Readonly<Record<string, unknown>> }[], method: WeightMethod, options: WeightOptions = {}): number[] {
  if (rows.length === 0) throw new ConfigError('weights need at least one row of results')
  const value = (row: { metrics: Readonly<Record<string, unknown>> }, name: string): number => {
    const v = row.metrics[name]
    if (typeof v !== 'number') throw new ConfigError(`results have no numeric metric "${name}"`)
    return v
  }
  let raw: number[]
  switch (method) {
    case 'equal':
      raw = rows.map(() => 1)
      break
    case 'winners': {
      const metric = options.metric ?? 'totalReturn'
      const threshold = options.threshold ?? 0
      raw = rows.map((r) => (value(r, metric) > threshold ? 1 : 0))
      break
    }
    case 'inverse-vol':
      raw = rows.map((r) => {
        const vol = value(r, 'volatility')
        return vol > 0 && Number.isFinite(vol) ? 1 / vol : 0
      })
      break
    default:
      throw new ConfigError(`weight method must be winners, equal or inverse-vol (received ${String(method)})`)
  }
  const total = raw.reduce((a, b) => a + b, 0)
  if (!(total > 0)) throw new ConfigError(`no row qualifies for ${method} weights${method === 'winners' ? ` (${options.metric ?? 'totalReturn'} > ${options.threshold ?? 0})` : ''}`)
  return raw.map((w) => w / total)
}
