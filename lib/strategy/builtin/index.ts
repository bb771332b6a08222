// The built-in strategies, by name.

import type { Strategy } from '../types.js'
import { bollingerBreakout } from './bollinger-breakout.js'
import { donchianBreakout } from './donchian-breakout.js'
import { openingRangeBreakout } from './opening-range-breakout.js'
import { pairsZscore } from './pairs-zscore.js'
import { rsiReversion } from './rsi-reversion.js'
import { smaCross } from './sma-cross.js'

export { bollingerBreakout, donchianBreakout, openingRangeBreakout, pairsZscore, rsiReversion, smaCross }

export const STRATEGIES: Readonly<Record<string, Strategy<any>>> = {
  'sma-cross': smaCross,
  'rsi-reversion': rsiReversion,
  'bollinger-breakout': bollingerBreakout,
  'donchian-breakout': donchianBreakout,
  'opening-range-breakout': openingRangeBreakout,
  'pairs-zscore': pairsZscore,
}
