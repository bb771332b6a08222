// The standard normal distribution as TPE's Parzen estimators need it: Φ, log Φ (accurate deep in the
// left tail), the log of the mass of an interval, Φ⁻¹, and truncated-normal draws by inversion.
// Φ is W. J. Cody's rational Chebyshev approximation (as in R's pnorm): full double precision.

import type { Random } from '../core/index.js'

const A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113]
const B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956]
const C = [0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711, 6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8]
const D = [22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091, 34900.952721145977266, 38912.003286093271411, 19685.429676859990727]
const P = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303]
const Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5]
const INV_SQRT_2PI = 0.3989422804014327
export const LOG_SQRT_2PI = 0.9189385332046728

/**
 * log Φ(-y) for y ≥ 0.67448975 (the tail beyond the quartile): exp(-y²/2)·R(y) with y² split into
 * a part exact in binary (trunc(16y)/16) and a remainder, so the exponent loses no digits.
 */
function logUpperTail(y: number): number {
  let r: number
  if (y <= 5.656854249492380) {
    let num = C[8]! * y
    let den = y
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]!) * y
      den = (den + D[i]!) * y
    }
    r = (num + C[7]!) / (den + D[7]!)
  } else {
    const z = 1 / (y * y)
    let num = P[5]! * z
    let den = z
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]!) * z
      den = (den + Q[i]!) * z
    }
    r = (INV_SQRT_2PI - (z * (num + P[4]!)) / (den + Q[4]!)) / y
  }
  const ysq = Math.trunc(y * 16) / 16
  const del = (y - ysq) * (y + ysq)
  return -ysq * ysq * 0.5 - del * 0.5 + Math.log(r)
}

function central(x: number): number {
  const xsq = x * x
  let num = A[4]! * xsq
  let den = xsq
  for (let i = 0; i < 3; i++) {
    num = (num + A[i]!) * xsq
    den = (den + B[i]!) * xsq
  }
  return (x * (num + A[3]!)) / (den + B[3]!)
}

/** Φ(x), the standard normal distribution function. */
export function ndtr(x: number): number {
  const y = Math.abs(x)
  if (y <= 0.67448975) return 0.5 + central(x)
  const tail = Math.exp(logUpperTail(y))
  return x > 0 ? 1 - tail : tail
}

/** log Φ(x), finite far into the left tail (log Φ(-40) ≈ -804.6). */
export function logNdtr(x: number): number {
  const y = Math.abs(x)
  if (y <= 0.67448975) return Math.log(0.5 + central(x))
  const logTail = logUpperTail(y)
  return x > 0 ? Math.log1p(-Math.exp(logTail)) : logTail
}

/** log(Φ(b) − Φ(a)) for a ≤ b, computed in the tail where the difference would underflow. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a))
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b))
  // Straddling 0: 1 − Φ(a) − Φ(−b) has no cancellation worth the log-space detour.
  return Math.log1p(-ndtr(a) - ndtr(-b))
}

function logDiff(logP: number, logQ: number): number {
  return logP + Math.log1p(-Math.exp(logQ - logP))
}

// Acklam's rational approximation of Φ⁻¹ (relative error 1.15e-9), then one Halley step on Φ.
const IA = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239]
const IB = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
const IC = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
const ID = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]

/** Φ⁻¹(p) for p in (0, 1); ±Infinity at 0 and 1. */
export function ndtri(p: number): number {
  if (!(p > 0)) return p === 0 ? -Infinity : NaN
  if (!(p < 1)) return p === 1 ? Infinity : NaN
  let x: number
  if (p < 0.02425 || p > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p))
    x = (((((IC[0]! * q + IC[1]!) * q + IC[2]!) * q + IC[3]!) * q + IC[4]!) * q + IC[5]!) / ((((ID[0]! * q + ID[1]!) * q + ID[2]!) * q + ID[3]!) * q + 1)
    if (p > 0.5) x = -x
  } else {
    const q = p - 0.5
    const r = q * q
    x = ((((((IA[0]! * r + IA[1]!) * r + IA[2]!) * r + IA[3]!) * r + IA[4]!) * r + IA[5]!) * q) / (((((IB[0]! * r + IB[1]!) * r + IB[2]!) * r + IB[3]!) * r + IB[4]!) * r + 1)
  }
  // Halley refinement: the error e = Φ(x) − p divided by the density, with the curvature term.
  const e = ndtr(x) - p
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2)
  return x - u / (1 + (x * u) / 2)
}

/**
 * A draw from N(0, 1) truncated to [a, b] (a < b) by inverting Φ on the side of the interval that
 * keeps the most digits (the left of 0 as is, the right mirrored, as Optuna's truncnorm.ppf does).
 */
export function truncatedNormal(rng: Random, a: number, b: number): number {
  const u = rng.next()
  let x: number
  if (a < 0) {
    const lo = ndtr(a)
    x = ndtri(lo + u * (ndtr(b) - lo))
  } else {
    const lo = ndtr(-b)
    x = -ndtri(lo + (1 - u) * (ndtr(-a) - lo))
  }
  return x < a ? a : x > b ? b : x
}
