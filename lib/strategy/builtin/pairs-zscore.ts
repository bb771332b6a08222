// Pairs trading on the spread's z-score. Y = the first symbol, X = the second; over the last `window`
// aligned bars (log prices with log = 1) a rolling OLS gives β and α (lib/features' Cov/Var), the
// spread is Y − (β·X + α) and z its z-score over the last `window` spreads — the values
// pairFeatures computes, built bar by bar from the past. Enter at |z| > entry (short the spread when
// z > 0: sell Y, buy X), exit at |z| < exit, stop out at |z| > stop. Legs: `gross` of equity in all,
// X hedged by β (in notional with log prices, in units without).

import { rollingOls, rollingZ } from '../../features/index.js'
import { intParam, realParam } from '../params.js'
import { defineStrategy } from '../types.js'
import { twoSymbols } from './common.js'

export interface PairsParams {
  window: number
  entry: number
  exit: number
  stop: number
  log: number
  gross: number
}

interface PairState {
  y: string
  x: string
  lastTime: number[]
  lastClose: number[]
  ys: number[]
  xs: number[]
  spreads: number[]
  z: number
}

export const pairsZscore = defineStrategy<PairsParams>({
  name: 'pairs-zscore',
  description: 'Trade the z-score of the rolling-OLS spread of two symbols: enter stretched, exit near the mean',
  params: {
    window: intParam(60, 10, 1000, 'bars in the hedge-ratio and z-score windows', 10),
    entry: realParam(2, 0.5, 5, 'enter at |z| above this', 0.25),
    exit: realParam(0.5, 0, 3, 'exit at |z| below this', 0.25),
    stop: realParam(4, 1, 10, 'stop out at |z| above this', 0.5),
    log: intParam(1, 0, 1, '1: log prices'),
    gross: realParam(1, 0.01, 4, 'both legs together, as a fraction of equity'),
  },
  universe: twoSymbols,
  warmup: () => 1,
  validate: (p) => (p.exit < p.entry && p.entry < p.stop ? undefined : `thresholds must satisfy exit < entry < stop (received ${p.exit}, ${p.entry}, ${p.stop})`),
  onStart(ctx) {
    const [y, x] = ctx.subscriptions.map((s) => s.symbol)
    ctx.state.pair = { y: y!, x: x!, lastTime: [NaN, NaN], lastClose: [NaN, NaN], ys: [], xs: [], spreads: [], z: NaN } satisfies PairState
  },
  onBar(ctx, bar) {
    const s = ctx.state.pair as PairState
    const p = ctx.params
    const leg = bar.symbol === s.y ? 0 : 1
    s.lastTime[leg] = bar.time
    s.lastClose[leg] = bar.close
    // Act once both legs have their bar at this time.
    if (s.lastTime[0] !== s.lastTime[1]) return
    const f = p.log === 1 ? Math.log : (v: number) => v
    s.ys.push(f(s.lastClose[0]!))
    s.xs.push(f(s.lastClose[1]!))
    const n = p.window
    if (s.ys.length < n) return
    const ys = s.ys.slice(-n)
    const xs = s.xs.slice(-n)
    const { beta, alpha } = rollingOls(ys, xs, n)
    const b = beta[n - 1]!
    const a = alpha[n - 1]!
    s.spreads.push(ys[n - 1]! - (b * xs[n - 1]! + a))
    if (s.spreads.length < n) return
    const z = rollingZ(s.spreads.slice(-n), n)[n - 1]!
    s.z = z
    const py = s.lastClose[0]!
    const px = s.lastClose[1]!
    const position = ctx.position(s.y)
    if (position === 0) {
      if (!(Math.abs(z) > p.entry) || Math.abs(z) > p.stop || !Number.isFinite(b)) return
      const equity = ctx.equity()
      const hb = Math.abs(b)
      const qy = p.log === 1 ? (p.gross * equity) / (py * (1 + hb)) : (p.gross * equity) / (py + hb * px)
      const qx = p.log === 1 ? (hb * qy * py) / px : hb * qy
      const tag = `z ${z.toFixed(2)} β ${b.toFixed(3)}`
      // z > 0: Y is rich against X: sell Y, buy X (for β > 0; a negative β hedges on the same side).
      const sellY = z > 0
      if (sellY) ctx.sell(s.y, { qty: qy, tag })
      else ctx.buy(s.y, { qty: qy, tag })
      const buyX = sellY === b > 0
      if (buyX) ctx.buy(s.x, { qty: qx, tag })
      else ctx.sell(s.x, { qty: qx, tag })
    } else if (Math.abs(z) < p.exit || Math.abs(z) > p.stop) {
      const why = Math.abs(z) > p.stop ? 'stop' : 'exit'
      ctx.close(s.y, { tag: why })
      ctx.close(s.x, { tag: why })
    }
  },
})
