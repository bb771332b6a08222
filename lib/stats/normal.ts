// The standard normal distribution: Φ and log Φ by W. J. Cody's rational Chebyshev approximations (as in
// R's pnorm: full double precision, log Φ exact deep in the left tail where Φ underflows), erfc from Φ,
// and the quantile (Acklam's rational approximation, refined by one Halley step).

const A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113]
const B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956]
const C = [0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711, 6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8]
const D = [22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091, 34900.952721145977266, 38912.003286093271411, 19685.429676859990727]
const P = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303]
const Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5]
const INV_SQRT_2PI = 0.3989422804014327

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

/** Φ(x), the standard normal CDF (full double precision). */
export function normalCdf(x: number): number {
  const y = Math.abs(x)
  if (y <= 0.67448975) return 0.5 + central(x)
  const tail = Math.exp(logUpperTail(y))
  return x > 0 ? 1 - tail : tail
}

/** log Φ(x), finite far into the left tail (log Φ(−40) ≈ −804.6), where Φ itself underflows. */
export function logNormalCdf(x: number): number {
  const y = Math.abs(x)
  if (y <= 0.67448975) return Math.log(0.5 + central(x))
  const logTail = logUpperTail(y)
  return x > 0 ? Math.log1p(-Math.exp(logTail)) : logTail
}

/** erfc(x) = 2Φ(−x√2). */
export function erfc(x: number): number {
  return 2 * normalCdf(-x * Math.SQRT2)
}

/** Φ⁻¹(p). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239]
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]
  let x: number
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p))
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
  } else if (p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(1 - p))
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
  } else {
    const q = p - 0.5
    const r = q * q
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  }
  // One Halley step on Φ(x) − p.
  const e = normalCdf(x) - p
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2)
  return x - u / (1 + (x * u) / 2)
}
