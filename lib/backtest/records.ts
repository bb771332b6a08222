// Orders, fills and round trips as the engine finishes them, straight into columns: numbers in typed
// arrays grown by doubling, text as codes into a dictionary. The plain version was an object per
// record, turned into columns at the end: tens of thousands of records with a dozen boxed doubles
// each survived every young-generation collection of the run and were copied by each (a third of the
// run's time); growing plain arrays of strings cost ~50 ns a push for the same reason.

import type { OrderRole, Side } from '../strategy/index.js'
import type { Order } from './orders.js'
import type { Columns, OrderRecord } from './results.js'

export interface FillRecord {
  orderId: number
  strategy: string
  symbol: string
  side: Side
  qty: number
  price: number
  fee: number
  time: number
  liquidity: 'maker' | 'taker'
  role: OrderRole
}

export interface TradeRecord {
  strategy: string
  symbol: string
  direction: 'long' | 'short'
  entryTime: number
  entryPrice: number
  exitTime: number
  exitPrice: number
  qty: number
  fees: number
  pnl: number
  returnPct: number
  mae: number
  mfe: number
  barsHeld: number
  entryOrderId: number
  tag: string
  /** Closed by the end of the data (marked at the last close), not by a fill. */
  open: boolean
  /** Why it ended: stop-loss, take-profit, exit, signal, reversal, close at end, or open at end. */
  exitReason: string
  factors: Record<string, number> | undefined
}

const START = 1024

/** a copied into an array twice its length (the growable columns here and in vector.ts). */
export function grown(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length * 2)
  out.set(a)
  return out
}

/** A text column: a code per row into the distinct values (a few, usually: sides, roles, statuses). */
class Text<T extends string> {
  count = 0
  private codes = new Int32Array(START)
  private readonly values: T[] = []
  private readonly index = new Map<T, number>()

  push(v: T): void {
    let code: number
    // Short dictionaries by a scan (strings of one literal compare by identity), long ones by the map.
    if (this.values.length <= 8) {
      code = this.values.indexOf(v)
      if (code < 0) code = this.add(v)
    } else code = this.index.get(v) ?? this.add(v)
    const k = this.count
    if (k === this.codes.length) {
      const out = new Int32Array(k * 2)
      out.set(this.codes)
      this.codes = out
    }
    this.codes[k] = code
    this.count = k + 1
  }

  private add(v: T): number {
    this.values.push(v)
    this.index.set(v, this.values.length - 1)
    return this.values.length - 1
  }

  at(k: number): T {
    return this.values[this.codes[k]!]!
  }

  /** The values of the rows, in `order` when given. */
  read(order?: readonly number[]): T[] {
    const n = this.count
    const out = new Array<T>(n)
    for (let k = 0; k < n; k++) out[k] = this.values[this.codes[order === undefined ? k : order[k]!]!]!
    return out
  }
}

export class FillLog {
  count = 0
  private orderId = new Float64Array(START)
  private qty = new Float64Array(START)
  private price = new Float64Array(START)
  private fee = new Float64Array(START)
  private time = new Float64Array(START)
  private readonly side = new Text<Side>()
  private readonly liquidity = new Text<'maker' | 'taker'>()
  private readonly role = new Text<OrderRole>()
  private readonly symbol = new Text<string>()

  constructor(
    readonly strategy: string,
    private readonly symbols: readonly string[],
  ) {}

  push(orderId: number, symbolIndex: number, side: Side, qty: number, price: number, fee: number, time: number, liquidity: 'maker' | 'taker', role: OrderRole): void {
    const k = this.count
    if (k === this.qty.length) {
      this.orderId = grown(this.orderId)
      this.qty = grown(this.qty)
      this.price = grown(this.price)
      this.fee = grown(this.fee)
      this.time = grown(this.time)
    }
    this.orderId[k] = orderId
    this.qty[k] = qty
    this.price[k] = price
    this.fee[k] = fee
    this.time[k] = time
    this.side.push(side)
    this.liquidity.push(liquidity)
    this.role.push(role)
    this.symbol.push(this.symbols[symbolIndex]!)
    this.count = k + 1
  }

  columns(): Columns<FillRecord> {
    const n = this.count
    return {
      orderId: this.orderId.slice(0, n),
      strategy: new Array<string>(n).fill(this.strategy),
      symbol: this.symbol.read(),
      side: this.side.read(),
      qty: this.qty.slice(0, n),
      price: this.price.slice(0, n),
      fee: this.fee.slice(0, n),
      time: this.time.slice(0, n),
      liquidity: this.liquidity.read(),
      role: this.role.read(),
    }
  }
}

/** Round trips in columns; `factors` keeps each trade's entry-time indicator values (or undefined). */
export class TradeLog {
  count = 0
  private entryTime = new Float64Array(START)
  private entryPrice = new Float64Array(START)
  private exitTime = new Float64Array(START)
  private exitPrice = new Float64Array(START)
  private qty = new Float64Array(START)
  private fees = new Float64Array(START)
  private pnl = new Float64Array(START)
  private returnPct = new Float64Array(START)
  private mae = new Float64Array(START)
  private mfe = new Float64Array(START)
  private barsHeld = new Float64Array(START)
  private entryOrderId = new Float64Array(START)
  private readonly symbol = new Text<string>()
  private readonly direction = new Text<'long' | 'short'>()
  private readonly tag = new Text<string>()
  private readonly open = new Text<'open' | 'closed'>()
  private readonly exitReason = new Text<string>()
  /** Each trade's entry-time indicator values; rows without any are left out (sparse). */
  private readonly factorRows: number[] = []
  private readonly factorValues: Record<string, number>[] = []

  constructor(
    readonly strategy: string,
    private readonly symbols: readonly string[],
  ) {}

  push(symbolIndex: number, long: boolean, entryTime: number, entryPrice: number, exitTime: number, exitPrice: number, qty: number, fees: number, pnl: number, returnPct: number, mae: number, mfe: number, barsHeld: number, entryOrderId: number, tag: string, open: boolean, factors: Record<string, number> | undefined, exitReason: string): void {
    const k = this.count
    if (k === this.qty.length) this.grow()
    this.entryTime[k] = entryTime
    this.entryPrice[k] = entryPrice
    this.exitTime[k] = exitTime
    this.exitPrice[k] = exitPrice
    this.qty[k] = qty
    this.fees[k] = fees
    this.pnl[k] = pnl
    this.returnPct[k] = returnPct
    this.mae[k] = mae
    this.mfe[k] = mfe
    this.barsHeld[k] = barsHeld
    this.entryOrderId[k] = entryOrderId
    this.symbol.push(this.symbols[symbolIndex]!)
    this.direction.push(long ? 'long' : 'short')
    this.tag.push(tag)
    this.open.push(open ? 'open' : 'closed')
    this.exitReason.push(exitReason)
    if (factors !== undefined) {
      this.factorRows.push(k)
      this.factorValues.push(factors)
    }
    this.count = k + 1
  }

  private grow(): void {
    this.entryTime = grown(this.entryTime)
    this.entryPrice = grown(this.entryPrice)
    this.exitTime = grown(this.exitTime)
    this.exitPrice = grown(this.exitPrice)
    this.qty = grown(this.qty)
    this.fees = grown(this.fees)
    this.pnl = grown(this.pnl)
    this.returnPct = grown(this.returnPct)
    this.mae = grown(this.mae)
    this.mfe = grown(this.mfe)
    this.barsHeld = grown(this.barsHeld)
    this.entryOrderId = grown(this.entryOrderId)
  }

  /** P&L of the trades closed by a fill (the trade statistics leave out those still open at the end). */
  closedPnl(): Float64Array {
    const out = new Float64Array(this.count - this.openCount())
    let j = 0
    for (let k = 0; k < this.count; k++) if (this.open.at(k) === 'closed') out[j++] = this.pnl[k]!
    return out
  }

  openCount(): number {
    let open = 0
    for (let k = 0; k < this.count; k++) open += +(this.open.at(k) === 'open')
    return open
  }

  columns(): Columns<Omit<TradeRecord, 'factors'>> {
    const n = this.count
    return {
      strategy: new Array<string>(n).fill(this.strategy),
      symbol: this.symbol.read(),
      direction: this.direction.read(),
      entryTime: this.entryTime.slice(0, n),
      entryPrice: this.entryPrice.slice(0, n),
      exitTime: this.exitTime.slice(0, n),
      exitPrice: this.exitPrice.slice(0, n),
      qty: this.qty.slice(0, n),
      fees: this.fees.slice(0, n),
      pnl: this.pnl.slice(0, n),
      returnPct: this.returnPct.slice(0, n),
      mae: this.mae.slice(0, n),
      mfe: this.mfe.slice(0, n),
      barsHeld: this.barsHeld.slice(0, n),
      entryOrderId: this.entryOrderId.slice(0, n),
      tag: this.tag.read(),
      open: this.open.read().map((v) => v === 'open'),
      exitReason: this.exitReason.read(),
    }
  }

  /**
   * The indicator values each trade's entry order saw: entryOrderId, entryTime, one column per name (NaN
   * where absent), then — given the context's factor sets — the entry bar's factor set as `factor.<name>`
   * columns, written straight into them (no key per trade).
   */
  factorColumns(sets?: FactorSets): Record<string, Float64Array> {
    const n = this.count
    const out: Record<string, Float64Array> = { entryOrderId: this.entryOrderId.slice(0, n), entryTime: this.entryTime.slice(0, n) }
    const rows = this.factorRows
    const values = this.factorValues
    for (let j = 0; j < rows.length; j++) {
      const f = values[j]!
      for (const name in f) {
        if (name === 'entryOrderId' || name === 'entryTime') continue
        const col = (out[name] ??= new Float64Array(n).fill(NaN))
        // A missing value (null, undefined) is NaN, as a factor the trade did not record.
        col[rows[j]!] = f[name] ?? NaN
      }
    }
    if (sets !== undefined && rows.length > 0) {
      const width = sets.names.length
      const matrix = new Float64Array(n * width).fill(NaN)
      let any = false
      for (let j = 0; j < rows.length; j++) if (sets.write(values[j]!, matrix, rows[j]! * width)) any = true
      if (any) {
        for (let c = 0; c < width; c++) {
          const col = (out[sets.names[c]!] = new Float64Array(n))
          for (let r = 0; r < n; r++) col[r] = matrix[r * width + c]!
        }
      }
    }
    return out
  }
}

/** A strategy context's factor sets (context.ts factorSets): column names, and a writer per entry order's factors record. */
export interface FactorSets {
  readonly names: readonly string[]
  /** Writes the set of the order whose factors record this is into out[at …]; false when it has none. */
  write(factors: Record<string, number>, out: Float64Array, at: number): boolean
}

/**
 * Orders as they reach a terminal state (the engine then lets go of them: an order no longer lives
 * for the whole run). columns() hands them back in id order, the order they were created in.
 */
export class OrderLog {
  count = 0
  private id = new Float64Array(START)
  private qty = new Float64Array(START)
  private filled = new Float64Array(START)
  private avgPrice = new Float64Array(START)
  private limit = new Float64Array(START)
  private stop = new Float64Array(START)
  private parentId = new Float64Array(START)
  private createdAt = new Float64Array(START)
  private submittedAt = new Float64Array(START)
  private doneAt = new Float64Array(START)
  private fees = new Float64Array(START)
  private readonly symbol = new Text<string>()
  private readonly side = new Text<string>()
  private readonly type = new Text<string>()
  private readonly role = new Text<string>()
  private readonly status = new Text<string>()
  private readonly reason = new Text<string>()
  private readonly tag = new Text<string>()

  constructor(readonly strategy: string) {}

  push(o: Order): void {
    const k = this.count
    if (k === this.id.length) this.grow()
    this.id[k] = o.id
    this.qty[k] = o.qty
    this.filled[k] = o.filled
    this.avgPrice[k] = o.avgPrice
    this.limit[k] = o.limit
    this.stop[k] = o.stop
    this.parentId[k] = o.parentId
    this.createdAt[k] = o.createdAt
    this.submittedAt[k] = o.submittedAt
    this.doneAt[k] = o.doneAt
    this.fees[k] = o.fees
    this.symbol.push(o.symbol)
    this.side.push(o.side)
    this.type.push(o.type)
    this.role.push(o.role)
    this.status.push(o.status)
    this.reason.push(o.reason)
    this.tag.push(o.tag)
    this.count = k + 1
  }

  private grow(): void {
    this.id = grown(this.id)
    this.qty = grown(this.qty)
    this.filled = grown(this.filled)
    this.avgPrice = grown(this.avgPrice)
    this.limit = grown(this.limit)
    this.stop = grown(this.stop)
    this.parentId = grown(this.parentId)
    this.createdAt = grown(this.createdAt)
    this.submittedAt = grown(this.submittedAt)
    this.doneAt = grown(this.doneAt)
    this.fees = grown(this.fees)
  }

  columns(): Columns<OrderRecord> {
    const n = this.count
    // Terminal order is nearly id order (an order ends a bar or so after it starts): sort the rows
    // by id only when some are out of place.
    let sorted = true
    for (let k = 1; k < n && sorted; k++) sorted = this.id[k - 1]! < this.id[k]!
    const at = sorted ? undefined : Array.from({ length: n }, (_, k) => k).sort((a, b) => this.id[a]! - this.id[b]!)
    const num = (col: Float64Array): Float64Array => {
      if (at === undefined) return col.slice(0, n)
      const out = new Float64Array(n)
      for (let k = 0; k < n; k++) out[k] = col[at[k]!]!
      return out
    }
    const text = (col: Text<string>): string[] => col.read(at)
    return {
      id: num(this.id),
      strategy: new Array<string>(n).fill(this.strategy),
      symbol: text(this.symbol),
      side: text(this.side),
      type: text(this.type),
      role: text(this.role),
      qty: num(this.qty),
      filled: num(this.filled),
      avgPrice: num(this.avgPrice),
      limit: num(this.limit),
      stop: num(this.stop),
      status: text(this.status),
      reason: text(this.reason),
      parentId: num(this.parentId),
      tag: text(this.tag),
      createdAt: num(this.createdAt),
      submittedAt: num(this.submittedAt),
      doneAt: num(this.doneAt),
      fees: num(this.fees),
    }
  }
}
