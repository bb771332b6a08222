// The normal distribution as TPE's Parzen estimators need it on top of lib/stats': the log of an
// interval's mass (in log space in the tails, where the difference would underflow) and truncated-normal
// draws by inversion.

import type { Random } from '../core/index.js'
import { logNormalCdf, normalCdf, normalQuantile } from '../stats/index.js'

export const LOG_SQRT_2PI = 0.9189385332046728

/** log(Φ(b) − Φ(a)) for a ≤ b, computed in the tail where the difference would underflow. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNormalCdf(b), logNormalCdf(a))
  if (a > 0) return logDiff(logNormalCdf(-a), logNormalCdf(-b))
  // Straddling 0: 1 − Φ(a) − Φ(−b) has no cancellation worth the log-space detour.
  return Math.log1p(-normalCdf(a) - normalCdf(-b))
}

function logDiff(logP: number, logQ: number): number {
  return logP + Math.log1p(-Math.exp(logQ - logP))
}

/**
 * A draw from N(0, 1) truncated to [a, b] (a < b) by inverting Φ on the side of the interval that
 * keeps the most digits (the left of 0 as is, the right mirrored, as Optuna's truncnorm.ppf does).
 */
export function truncatedNormal(rng: Random, a: number, b: number): number {
  const u = rng.next()
  let x: number
  if (a < 0) {
    const lo = normalCdf(a)
    x = normalQuantile(lo + u * (normalCdf(b) - lo))
  } else {
    const lo = normalCdf(-b)
    x = -normalQuantile(lo + (1 - u) * (normalCdf(-a) - lo))
  }
  return x < a ? a : x > b ? b : x
}
