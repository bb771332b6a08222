// Incremental building blocks every indicator is made of: moving averages, rolling windows, rolling
// extremes. Each takes one value per bar and returns its current output (NaN while warming up), so
// one implementation serves batch (run over an array) and streaming (fed bar by bar) — the two give
// bit-identical results by construction.
//
// NaN conventions (TTR's, extended to gaps): leading NaNs are skipped, an average starts at the first
// real value. A NaN after that is a missing bar: rolling windows answer NaN while it is inside them;
// recursive averages (EMA, Wilder) answer NaN for that bar and carry on from their previous value.

/**
 * max(x, 0) without a branch. V8 compiles Math.max(x, 0) and x > 0 ? x : 0 to compare-and-jump (the
 * jump handles −0 and NaN), and the sign of a price change is a coin flip, so half the jumps are
 * mispredicted; (x + |x|)/2 is exact for every finite x (2x and the halving are exact) and NaN for NaN.
 */
export function positive(x: number): number {
  return (x + Math.abs(x)) * 0.5
}

/**
 * True range max(h, pc) − min(l, pc), branch-free: h + (pc − h)⁺ is exactly max(h, pc) whenever
 * pc − h is exact, which Sterbenz's lemma guarantees for pc within a factor of two of h (within one
 * rounding otherwise). NaN when the previous close pc is.
 */
export function trueRange(h: number, l: number, pc: number): number {
  return h + positive(pc - h) - (l - positive(l - pc))
}

/** Fixed-length ring of the last n values. */
export class Ring {
  readonly values: Float64Array
  private next = 0
  /** Values pushed so far (capped at n). */
  count = 0

  constructor(readonly n: number) {
    this.values = new Float64Array(n)
  }

  /** Store x, returning the value it replaces (meaningful only when the ring was full). */
  push(x: number): number {
    const old = this.values[this.next]!
    this.values[this.next] = x
    this.next = this.next + 1 === this.n ? 0 : this.next + 1
    if (this.count < this.n) this.count++
    return old
  }

  /** The value pushed `back` steps ago (0 = the newest). */
  get(back: number): number {
    let at = this.next - 1 - back
    if (at < 0) at += this.n
    return this.values[at]!
  }

  get full(): boolean {
    return this.count === this.n
  }
}

/**
 * An exact running sum: values added and removed are held as Shewchuk's non-overlapping partials (as
 * Python's math.fsum), and `value()` is their sum correctly rounded. The value is thus a function of the
 * values held alone — not of what came and went before — so a window's sum is the same number whether the
 * series started one bar or a million bars earlier (a live session warm-started from the last bars, a
 * backtest from the lake's first). A plain running sum keeps the rounding of every value that ever passed
 * through it: after a 1e8 print left a window of 1e-8 closes, sma(2) read 1.49e-8; through a halt the flows
 * summed to a negative residue and MFI read 400. ±Infinity are counted apart (NaN never comes here).
 */
export class ExactSum {
  private readonly partials = new Float64Array(64)
  private size = 0
  private posInf = 0
  private negInf = 0

  add(x: number): void {
    if (x - x !== 0) {
      if (x > 0) this.posInf++
      else this.negInf++
      return
    }
    this.grow(x)
  }

  remove(x: number): void {
    if (x - x !== 0) {
      if (x > 0) this.posInf--
      else this.negInf--
      return
    }
    this.grow(-x)
  }

  private grow(x: number): void {
    const p = this.partials
    let i = 0
    for (let j = 0; j < this.size; j++) {
      let y = p[j]!
      if (Math.abs(x) < Math.abs(y)) {
        const t = x
        x = y
        y = t
      }
      const hi = x + y
      const lo = y - (hi - x)
      if (lo !== 0) p[i++] = lo
      x = hi
    }
    // Non-overlapping doubles: at most ~40 partials (2098 exponents / 53 bits); 64 is room enough.
    p[i++] = x
    this.size = i
  }

  /** The sum of the values held, correctly rounded (+0 when empty or exactly 0). */
  value(): number {
    if (this.posInf > 0 || this.negInf > 0) return this.posInf > 0 && this.negInf > 0 ? NaN : this.posInf > 0 ? Infinity : -Infinity
    const p = this.partials
    let n = this.size
    if (n === 0) return 0
    let hi = p[--n]!
    let lo = 0
    while (n > 0) {
      const x = hi
      const y = p[--n]!
      hi = x + y
      lo = y - (hi - x)
      if (lo !== 0) break
    }
    // Round half to even across the partials below (fsum's correction).
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2
      const x = hi + y
      if (y === x - hi) hi = x
    }
    return hi === 0 ? 0 : hi
  }
}

/**
 * Sum of the last n values (TTR's runSum, summed exactly: see ExactSum). NaN until n values have been seen
 * since the first real one, and while a NaN is inside the window. (Its own ring buffer rather than a Ring.)
 */
export class RollingSum {
  private readonly buffer: Float64Array
  private readonly sum = new ExactSum()
  private at = 0
  private count = 0
  private nans = 0
  private started = false

  constructor(readonly n: number) {
    this.buffer = new Float64Array(n)
  }

  push(x: number): number {
    if (!this.started) {
      if (x !== x) return NaN
      this.started = true
    }
    const n = this.n
    if (x === x) this.sum.add(x)
    else this.nans++
    if (this.count === n) {
      const old = this.buffer[this.at]!
      if (old === old) this.sum.remove(old)
      else this.nans--
    } else {
      this.count++
    }
    this.buffer[this.at] = x
    this.at = this.at + 1 === n ? 0 : this.at + 1
    return this.count === n && this.nans === 0 ? this.sum.value() : NaN
  }
}

/** Simple moving average over n values: RollingSum / n. */
export class Sma extends RollingSum {
  override push(x: number): number {
    return super.push(x) / this.n
  }
}

/**
 * Exponential moving average as TTR computes it: seeded with the mean of the first n real values
 * (accumulated as Σ x/n), then ema = x·ratio + ema·(1 − ratio); ratio 2/(n+1), or 1/n for Wilder's.
 */
export class Ema {
  private readonly ratio: number
  private readonly keep: number
  private seen = 0
  private seed = 0
  private value = NaN

  constructor(
    readonly n: number,
    wilder = false,
  ) {
    this.ratio = wilder ? 1 / n : 2 / (n + 1)
    this.keep = 1 - this.ratio
  }

  push(x: number): number {
    if (x !== x) return NaN
    if (this.seen < this.n) {
      this.seed += x / this.n
      if (++this.seen === this.n) this.value = this.seed
      return this.seen === this.n ? this.value : NaN
    }
    this.value = x * this.ratio + this.value * this.keep
    return this.value
  }
}

/** Weighted moving average with weights 1…n (the newest weighs n), as TTR's WMA. */
export class Wma {
  private readonly ring: Ring
  private readonly weightSum: number
  private started = false

  constructor(readonly n: number) {
    this.ring = new Ring(n)
    this.weightSum = (n * (n + 1)) / 2
  }

  push(x: number): number {
    if (!this.started) {
      if (Number.isNaN(x)) return NaN
      this.started = true
    }
    this.ring.push(x)
    if (!this.ring.full) return NaN
    // Σ x[i−n+1+j]·(j+1), oldest first — the order TTR adds in.
    let num = 0
    for (let j = 0; j < this.n; j++) num += this.ring.get(this.n - 1 - j) * (j + 1)
    return num / this.weightSum
  }
}

/** Maximum (or minimum) of the last n values, by a monotonic deque: O(1) amortised per value. */
export class RollingExtreme {
  private readonly times: Float64Array
  private readonly values: Float64Array
  private head = 0
  private size = 0
  private t = 0
  private lastNan = -Infinity

  constructor(
    readonly n: number,
    private readonly max: boolean,
  ) {
    this.times = new Float64Array(n)
    this.values = new Float64Array(n)
  }

  push(x: number): number {
    const t = this.t++
    if (Number.isNaN(x)) {
      this.lastNan = t
      this.size = 0
      return NaN
    }
    const n = this.n
    // First the value that leaves the window, then those the new one dominates (ties: the newer
    // stays); the deque never holds more than n entries.
    while (this.size > 0 && this.times[this.head]! <= t - n) {
      this.head = this.head + 1 === n ? 0 : this.head + 1
      this.size--
    }
    while (this.size > 0) {
      const last = (this.head + this.size - 1) % n
      const v = this.values[last]!
      if (this.max ? v <= x : v >= x) this.size--
      else break
    }
    const at = (this.head + this.size) % n
    this.times[at] = t
    this.values[at] = x
    this.size++
    return t >= n - 1 && t - this.lastNan >= n ? this.values[this.head]! : NaN
  }
}

/** The highest of one series and the lowest of another over the last n bars: ranges, %K, %R, channels. */
export class HighLow {
  private readonly hi: RollingExtreme
  private readonly lo: RollingExtreme
  high = NaN
  low = NaN

  constructor(n: number) {
    this.hi = new RollingExtreme(n, true)
    this.lo = new RollingExtreme(n, false)
  }

  push(high: number, low: number): this {
    this.high = this.hi.push(high)
    this.low = this.lo.push(low)
    return this
  }
}
