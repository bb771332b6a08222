// Signal arrays for the vectorized form of a strategy (Strategy.signals): crosses and thresholds
// over whole series, each value at t from values ≤ t.

/** a crosses above b at t: a[t] > b[t] after a[t−1] ≤ b[t−1] (NaN never crosses). */
export function crossAbove(a: Float64Array, b: Float64Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let t = 1; t < a.length; t++) out[t] = a[t]! > b[t]! && a[t - 1]! <= b[t - 1]! ? 1 : 0
  return out
}

/** a crosses below b at t: a[t] < b[t] after a[t−1] ≥ b[t−1]. */
export function crossBelow(a: Float64Array, b: Float64Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let t = 1; t < a.length; t++) out[t] = a[t]! < b[t]! && a[t - 1]! >= b[t - 1]! ? 1 : 0
  return out
}

/** x[t] > y[t] (y a number or a series; NaN is false). */
export function above(x: Float64Array, y: number | Float64Array, lag = 0): Uint8Array {
  const out = new Uint8Array(x.length)
  for (let t = lag; t < x.length; t++) out[t] = x[t]! > (typeof y === 'number' ? y : y[t - lag]!) ? 1 : 0
  return out
}

/** x[t] < y[t] (y a number or a series, optionally y[t − lag]; NaN is false). */
export function below(x: Float64Array, y: number | Float64Array, lag = 0): Uint8Array {
  const out = new Uint8Array(x.length)
  for (let t = lag; t < x.length; t++) out[t] = x[t]! < (typeof y === 'number' ? y : y[t - lag]!) ? 1 : 0
  return out
}
