// Orders, fills and round trips as the engine finishes them, straight into columnar records: each
// log one row-major Float64Array grown by doubling (numbers, and text as codes into a dictionary),
// turned into columns at the end. The plain version was an object per
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
  factors: Record<string, number> | undefined
}

const START = 1024

/** Rows of `stride` numbers in one array (one capacity check and one array per record, not per field). */
class Rows {
  data: Float64Array
  count = 0
  constructor(readonly stride: number) {
    this.data = new Float64Array(START * stride)
  }

  /** Room for one more row: the index of its first field. */
  add(): number {
    const at = this.count * this.stride
    if (at + this.stride > this.data.length) {
      const out = new Float64Array(this.data.length * 2)
      out.set(this.data)
      this.data = out
    }
    this.count++
    return at
  }

  get(row: number, field: number): number {
    return this.data[row * this.stride + field]!
  }

  /** One field of every row (in `order` when given). */
  column(field: number, order?: readonly number[]): Float64Array {
    const n = this.count
    const out = new Float64Array(n)
    const d = this.data
    const s = this.stride
    if (order === undefined) for (let k = 0; k < n; k++) out[k] = d[k * s + field]!
    else for (let k = 0; k < n; k++) out[k] = d[order[k]! * s + field]!
    return out
  }

  /** A text field (codes into `dict`) of every row. */
  text<T extends string>(field: number, dict: Dict<T>, order?: readonly number[]): T[] {
    const codes = this.column(field, order)
    const out = new Array<T>(codes.length)
    for (let k = 0; k < codes.length; k++) out[k] = dict.values[codes[k]!]!
    return out
  }
}

/** Distinct values of a text field, by code (a few, usually: sides, roles, statuses). */
class Dict<T extends string> {
  readonly values: T[] = []
  private readonly index = new Map<T, number>()

  code(v: T): number {
    // Short dictionaries by a scan (strings of one literal compare by identity), long ones by the map.
    if (this.values.length <= 8) {
      const c = this.values.indexOf(v)
      if (c >= 0) return c
    } else {
      const c = this.index.get(v)
      if (c !== undefined) return c
    }
    this.values.push(v)
    this.index.set(v, this.values.length - 1)
    return this.values.length - 1
  }
}

// Field positions in each log's rows.
const F = { orderId: 0, qty: 1, price: 2, fee: 3, time: 4, side: 5, liquidity: 6, role: 7, symbol: 8 } as const

export class FillLog {
  private readonly rows = new Rows(9)
  private readonly side = new Dict<Side>()
  private readonly liquidity = new Dict<'maker' | 'taker'>()
  private readonly role = new Dict<OrderRole>()
  private readonly symbol = new Dict<string>()

  constructor(
    readonly strategy: string,
    private readonly symbols: readonly string[],
  ) {}

  get count(): number {
    return this.rows.count
  }

  push(orderId: number, symbolIndex: number, side: Side, qty: number, price: number, fee: number, time: number, liquidity: 'maker' | 'taker', role: OrderRole): void {
    const at = this.rows.add()
    const d = this.rows.data
    d[at] = orderId
    d[at + 1] = qty
    d[at + 2] = price
    d[at + 3] = fee
    d[at + 4] = time
    d[at + 5] = this.side.code(side)
    d[at + 6] = this.liquidity.code(liquidity)
    d[at + 7] = this.role.code(role)
    d[at + 8] = this.symbol.code(this.symbols[symbolIndex]!)
  }

  columns(): Columns<FillRecord> {
    const r = this.rows
    return {
      orderId: r.column(F.orderId),
      strategy: new Array<string>(r.count).fill(this.strategy),
      symbol: r.text(F.symbol, this.symbol),
      side: r.text(F.side, this.side),
      qty: r.column(F.qty),
      price: r.column(F.price),
      fee: r.column(F.fee),
      time: r.column(F.time),
      liquidity: r.text(F.liquidity, this.liquidity),
      role: r.text(F.role, this.role),
    }
  }
}

const T = { entryTime: 0, entryPrice: 1, exitTime: 2, exitPrice: 3, qty: 4, fees: 5, pnl: 6, returnPct: 7, mae: 8, mfe: 9, barsHeld: 10, entryOrderId: 11, symbol: 12, long: 13, tag: 14, open: 15 } as const

/** Round trips in columns, with each trade's entry-time indicator values kept aside (sparse). */
export class TradeLog {
  private readonly rows = new Rows(16)
  private readonly symbol = new Dict<string>()
  private readonly tag = new Dict<string>()
  private readonly factorRows: number[] = []
  private readonly factorValues: Record<string, number>[] = []

  constructor(
    readonly strategy: string,
    private readonly symbols: readonly string[],
  ) {}

  get count(): number {
    return this.rows.count
  }

  push(symbolIndex: number, long: boolean, entryTime: number, entryPrice: number, exitTime: number, exitPrice: number, qty: number, fees: number, pnl: number, returnPct: number, mae: number, mfe: number, barsHeld: number, entryOrderId: number, tag: string, open: boolean, factors: Record<string, number> | undefined): void {
    const k = this.rows.count
    const at = this.rows.add()
    const d = this.rows.data
    d[at] = entryTime
    d[at + 1] = entryPrice
    d[at + 2] = exitTime
    d[at + 3] = exitPrice
    d[at + 4] = qty
    d[at + 5] = fees
    d[at + 6] = pnl
    d[at + 7] = returnPct
    d[at + 8] = mae
    d[at + 9] = mfe
    d[at + 10] = barsHeld
    d[at + 11] = entryOrderId
    d[at + 12] = this.symbol.code(this.symbols[symbolIndex]!)
    d[at + 13] = long ? 1 : 0
    d[at + 14] = this.tag.code(tag)
    d[at + 15] = open ? 1 : 0
    if (factors !== undefined) {
      this.factorRows.push(k)
      this.factorValues.push(factors)
    }
  }

  /** P&L of the trades closed by a fill (the trade statistics leave out those still open at the end). */
  closedPnl(): Float64Array {
    const r = this.rows
    const out = new Float64Array(r.count - this.openCount())
    let j = 0
    for (let k = 0; k < r.count; k++) if (r.get(k, T.open) === 0) out[j++] = r.get(k, T.pnl)
    return out
  }

  openCount(): number {
    let open = 0
    for (let k = 0; k < this.rows.count; k++) open += this.rows.get(k, T.open)
    return open
  }

  columns(): Columns<Omit<TradeRecord, 'factors'>> {
    const r = this.rows
    const n = r.count
    const long = r.column(T.long)
    const open = r.column(T.open)
    const direction = new Array<'long' | 'short'>(n)
    const isOpen = new Array<boolean>(n)
    for (let k = 0; k < n; k++) {
      direction[k] = long[k] === 1 ? 'long' : 'short'
      isOpen[k] = open[k] === 1
    }
    return {
      strategy: new Array<string>(n).fill(this.strategy),
      symbol: r.text(T.symbol, this.symbol),
      direction,
      entryTime: r.column(T.entryTime),
      entryPrice: r.column(T.entryPrice),
      exitTime: r.column(T.exitTime),
      exitPrice: r.column(T.exitPrice),
      qty: r.column(T.qty),
      fees: r.column(T.fees),
      pnl: r.column(T.pnl),
      returnPct: r.column(T.returnPct),
      mae: r.column(T.mae),
      mfe: r.column(T.mfe),
      barsHeld: r.column(T.barsHeld),
      entryOrderId: r.column(T.entryOrderId),
      tag: r.text(T.tag, this.tag),
      open: isOpen,
    }
  }

  /** The indicator values each trade's entry order saw: entryOrderId, entryTime, one column per name (NaN where absent). */
  factorColumns(): Record<string, Float64Array> {
    const n = this.rows.count
    const out: Record<string, Float64Array> = { entryOrderId: this.rows.column(T.entryOrderId), entryTime: this.rows.column(T.entryTime) }
    const rows = this.factorRows
    const values = this.factorValues
    for (let j = 0; j < rows.length; j++) {
      const f = values[j]!
      for (const name in f) {
        if (name === 'entryOrderId' || name === 'entryTime') continue
        const col = (out[name] ??= new Float64Array(n).fill(NaN))
        col[rows[j]!] = f[name]!
      }
    }
    return out
  }
}

const O = { id: 0, qty: 1, filled: 2, avgPrice: 3, limit: 4, stop: 5, parentId: 6, createdAt: 7, submittedAt: 8, doneAt: 9, fees: 10, symbol: 11, side: 12, type: 13, role: 14, status: 15, reason: 16, tag: 17 } as const

/**
 * Orders as they reach a terminal state (the engine then lets go of them: an order no longer lives
 * for the whole run). columns() hands them back in id order, the order they were created in.
 */
export class OrderLog {
  private readonly rows = new Rows(18)
  private readonly symbol = new Dict<string>()
  private readonly side = new Dict<string>()
  private readonly type = new Dict<string>()
  private readonly role = new Dict<string>()
  private readonly status = new Dict<string>()
  private readonly reason = new Dict<string>()
  private readonly tag = new Dict<string>()

  constructor(
    readonly strategy: string,
    readonly symbols: readonly string[],
  ) {}

  get count(): number {
    return this.rows.count
  }

  push(o: Order): void {
    const at = this.rows.add()
    const d = this.rows.data
    d[at] = o.id
    d[at + 1] = o.qty
    d[at + 2] = o.filled
    d[at + 3] = o.avgPrice
    d[at + 4] = o.limit
    d[at + 5] = o.stop
    d[at + 6] = o.parentId
    d[at + 7] = o.createdAt
    d[at + 8] = o.submittedAt
    d[at + 9] = o.doneAt
    d[at + 10] = o.fees
    d[at + 11] = this.symbol.code(o.symbol)
    d[at + 12] = this.side.code(o.side)
    d[at + 13] = this.type.code(o.type)
    d[at + 14] = this.role.code(o.role)
    d[at + 15] = this.status.code(o.status)
    d[at + 16] = this.reason.code(o.reason)
    d[at + 17] = this.tag.code(o.tag)
  }

  columns(): Columns<OrderRecord> {
    const r = this.rows
    const n = r.count
    // Terminal order is nearly id order (an order ends a bar or so after it starts): sort the rows
    // by id only when some are out of place.
    let sorted = true
    for (let k = 1; k < n && sorted; k++) sorted = r.get(k - 1, O.id) < r.get(k, O.id)
    const at = sorted ? undefined : Array.from({ length: n }, (_, k) => k).sort((a, b) => r.get(a, O.id) - r.get(b, O.id))
    return {
      id: r.column(O.id, at),
      strategy: new Array<string>(n).fill(this.strategy),
      symbol: r.text(O.symbol, this.symbol, at),
      side: r.text(O.side, this.side, at),
      type: r.text(O.type, this.type, at),
      role: r.text(O.role, this.role, at),
      qty: r.column(O.qty, at),
      filled: r.column(O.filled, at),
      avgPrice: r.column(O.avgPrice, at),
      limit: r.column(O.limit, at),
      stop: r.column(O.stop, at),
      status: r.text(O.status, this.status, at),
      reason: r.text(O.reason, this.reason, at),
      parentId: r.column(O.parentId, at),
      tag: r.text(O.tag, this.tag, at),
      createdAt: r.column(O.createdAt, at),
      submittedAt: r.column(O.submittedAt, at),
      doneAt: r.column(O.doneAt, at),
      fees: r.column(O.fees, at),
    }
  }
}
