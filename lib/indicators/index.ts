// Technical indicators: batch kernels on Float64Arrays, streaming machines, and the INDICATORS registry.
// Each indicator is declared once (define.ts) as an incremental machine; batch runs it over arrays
// (or a plain array kernel for the hot ones, held to the machine's values by the tests).

import * as averages from './averages.js'
import { streamOf, unknownIndicator, type Stream } from './stream.js'
import type { Params } from './define.js'
import type { Indicator } from './define.js'
import * as momentum from './momentum.js'
import * as trend from './trend.js'
import * as volatility from './volatility.js'
import * as volume from './volume.js'

export * from './define.js'
export type { Stream, StreamBar } from './stream.js'
export { Ema, HighLow, Ring, RollingExtreme, RollingSum, Sma, Wma } from './primitives.js'
export { emaKernel, smaKernel } from './averages.js'
export { rsiKernel } from './momentum.js'
export { atrKernel, typicalPrice } from './volatility.js'

const ALL: Indicator[] = [
  ...[averages.sma, averages.ema, averages.wma, averages.dema, averages.tema, averages.hma, averages.zlema, averages.vwma, averages.kama],
  ...[momentum.rsi, momentum.cmo, momentum.roc, momentum.momentum, momentum.macd, momentum.ppo, momentum.zscore, momentum.trix, momentum.stoch, momentum.williamsR, momentum.cci, momentum.ultosc, momentum.dpo, momentum.stochRsi],
  ...[volatility.tr, volatility.atr, volatility.natr, volatility.bbands, volatility.keltner, volatility.donchian, volatility.stdev, volatility.volatility, volatility.supertrend],
  ...[trend.adx, trend.aroon, trend.sar, trend.vhf, trend.ichimoku, trend.linreg, trend.efficiencyRatio, trend.range],
  ...[volume.obv, volume.ad, volume.mfi, volume.cmf, volume.clv, volume.vwap, volume.vwapSession],
]

/** Every indicator by name: { inputs, params, outputs, compute(inputs, params) }. */
export const INDICATORS: Readonly<Record<string, Indicator>> = Object.freeze(Object.fromEntries(ALL.map((i) => [i.name, i])))

/** The indicator called `name`, or a ConfigError listing the known ones. */
export function indicator(name: string): Indicator {
  const found = Object.hasOwn(INDICATORS, name) ? INDICATORS[name] : undefined
  if (found === undefined) throw unknownIndicator(name, Object.keys(INDICATORS))
  return found
}

/** A streaming instance of an indicator: `update(bar)` → this bar's outputs. */
export function createStream(name: string, params?: Partial<Params>): Stream {
  return streamOf(indicator(name), params)
}
