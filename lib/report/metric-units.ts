// The unit of each metric a run logs, and the one way pages show a metric's value with it: fractions as
// percentages ("12.34 %"), ratios with two decimals, counts grouped ("1,234"), money with cents
// ("10,980.00"), durations readable ("2 d 3 h"). A metric we do not know is a plain number (fmtNumber).

import { fmtNumber, fmtSpan } from './html.js'

export type MetricUnit = 'percent' | 'ratio' | 'count' | 'money' | 'duration' | 'bars' | 'number'

/** Fractions shown as percentages (0.1234 → "12.34 %"). */
const PERCENT = new Set([
  'totalReturn',
  'cagr',
  'maxDrawdown',
  'drawdown',
  'volatility',
  'winRate',
  'avgExposure',
  'exposure',
  'monthsProfitable',
  'weeksProfitable',
  'returnPct',
  'avgReturn',
  'probabilisticSharpe',
  'deflatedSharpe',
  'bestDay',
  'worstDay',
  'bestMonth',
  'worstMonth',
])
/** Dimensionless ratios (two decimals). */
const RATIO = new Set(['sharpe', 'sortino', 'calmar', 'profitFactor', 'omega', 'payoffRatio', 'tailRatio', 'recoveryFactor', 'turnover', 'skew', 'kurtosis', 'beta'])
/** Counts (whole numbers, grouped). */
const COUNT = new Set(['trades', 'openTrades', 'wins', 'losses', 'orders', 'fills'])
/** Amounts in the account's currency (two decimals, grouped). */
const MONEY = new Set(['equity', 'endEquity', 'startEquity', 'fees', 'cash', 'pnl', 'expectancy', 'avgWin', 'avgLoss', 'grossProfit', 'grossLoss'])
/** Lengths in bars of the run's timeframe. */
const BARS = new Set(['maxDrawdownDuration', 'barsHeld'])
/** Every name with a unit of its own. */
const KNOWN = new Set([...PERCENT, ...RATIO, ...COUNT, ...MONEY, ...BARS])

/**
 * A key's metric name: its last dot-separated part ("test.sharpe": sharpe), and of a prefixed name whose part
 * after the last "_" is a metric we know, that part ("ungated_totalReturn": totalReturn). The gated backtests
 * log ungated_totalReturn, ungated_maxDrawdown … beside totalReturn, maxDrawdown: the same fractions, which the
 * run and compare pages showed as 0.1234 next to "12.34 %" (an audit).
 */
function metricName(key: string): string {
  const name = key.slice(key.lastIndexOf('.') + 1)
  const tail = name.slice(name.lastIndexOf('_') + 1)
  return tail !== name && KNOWN.has(tail) ? tail : name
}

/** A metric's unit by its key (the last dot-separated part: "test.sharpe" is a ratio); "number" when unknown. */
export function metricUnit(key: string): MetricUnit {
  const name = metricName(key)
  if (PERCENT.has(name)) return 'percent'
  if (RATIO.has(name)) return 'ratio'
  if (COUNT.has(name)) return 'count'
  if (MONEY.has(name)) return 'money'
  if (BARS.has(name)) return 'bars'
  // Milliseconds by name: durationMs, holdMs, elapsed_ms.
  if (/(Ms|_ms)$/.test(name)) return 'duration'
  return 'number'
}

/** A value in a unit. NaN and ±∞ are spelled out ("NaN", "∞"); undefined/null is "". */
export function fmtUnit(unit: MetricUnit, v: number | undefined | null): string {
  if (v === undefined || v === null) return ''
  if (!Number.isFinite(v)) return fmtNumber(v)
  switch (unit) {
    case 'percent':
      return `${grouped(v * 100, 2)} %`
    case 'ratio':
      return grouped(v, 2)
    case 'count':
      return Number.isInteger(v) ? grouped(v, 0) : fmtNumber(v)
    case 'money':
      return grouped(v, 2)
    case 'bars':
      return `${grouped(v, Number.isInteger(v) ? 0 : 1)} bars`
    case 'duration':
      return fmtSpan(v)
    default:
      return fmtNumber(v)
  }
}

/** A metric's value with its unit, by the metric's key. */
export function fmtMetric(key: string, v: number | undefined | null): string {
  return fmtUnit(metricUnit(key), v)
}

/** One formatter per decimals count: toLocaleString with options builds one per call (~40 µs; a kept one ~1 µs). */
const FORMATS = new Map<number, Intl.NumberFormat>()

/** A number with `digits` decimals, thousands grouped ("-1,234.50"; -0 as "0.00"). */
function grouped(v: number, digits: number): string {
  let format = FORMATS.get(digits)
  if (format === undefined) FORMATS.set(digits, (format = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })))
  const text = format.format(v)
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text
}


/** Lower is better for these (losses, risk, costs); higher for the returns and ratios in the sets above. */
const LOWER = new Set(['maxDrawdown', 'drawdown', 'volatility', 'fees', 'maxDrawdownDuration', 'loss', 'error', 'mse', 'rmse', 'mae', 'logloss', 'turnover'])
const HIGHER = new Set(['totalReturn', 'cagr', 'sharpe', 'sortino', 'calmar', 'profitFactor', 'omega', 'winRate', 'endEquity', 'expectancy', 'payoffRatio', 'recoveryFactor', 'monthsProfitable', 'weeksProfitable', 'accuracy', 'auc', 'f1', 'r2', 'precision', 'recall', 'probabilisticSharpe', 'deflatedSharpe', 'avgWin', 'avgLoss'])

/** Names that read as a cost or an error wherever they stand: maxDrawdown, logLoss, val_rmse, errorCount, feesPaid … */
const LOWER_PATTERN = /drawdown|loss|error|rmse|mse|mae|volatility|turnover|fees/i

/**
 * Which way a metric is better, by its key's last dotted part: the named sets first (avgLoss, a negative
 * mean, is better higher), then cost- and error-like names; undefined when it has no better (trades,
 * exposure, unknown keys). The compare page and the sweep page (sweep-grid.ts defaultDirection) both ask here.
 */
export function metricDirection(key: string): 'higher' | 'lower' | undefined {
  const name = metricName(key)
  if (HIGHER.has(name)) return 'higher'
  if (LOWER.has(name) || LOWER_PATTERN.test(name)) return 'lower'
  return undefined
}

/** The difference b − a of two values of a metric in its unit, signed: "+2.10 pp" (percent points), "-0.35", "+1,234.00". */
export function fmtMetricDelta(key: string, a: number, b: number): string {
  const d = b - a
  if (!Number.isFinite(d)) return ''
  const unit = metricUnit(key)
  const sign = d > 0 ? '+' : d < 0 ? '-' : '±'
  const size = unit === 'percent' ? `${fmtUnit('ratio', Math.abs(d) * 100)} pp` : fmtUnit(unit === 'count' && !Number.isInteger(d) ? 'number' : unit, Math.abs(d))
  return `${sign}${size}`
}
