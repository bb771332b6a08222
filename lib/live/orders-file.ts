// The orders file `mtflow portfolio targets --out` writes and a deployment takes (`mtflow deploy submit
// NAME --orders FILE`): market orders with client order ids, in one JSON object
//   { version: 1, deployment?, deploymentId?, firstSeq?, createdAt, signals, orders: [{ clientOrderId,
//     symbol, side, type: 'market', qty, reason }] }.
// Made for a deployment, order k (from 0) has the id clientOrderId(deploymentId, firstSeq + k) — the ids
// the deployment's journal would give its next orders — so the deployment can take the file only while
// its journal's next sequence number is still firstSeq (it has sent nothing since). Made without one,
// the ids are `mtflow-<hash8>-<n>` (n from 1; hash8 = the first 8 hex digits of the sha256 of the orders
// and the signals source), the same for the same content. readOrdersFile is strict: anything it does not
// expect is one error naming the file and the field.

import { ConfigError, preview, readTextFile, sha256, writeFileAtomic } from '../core/index.js'
import { SYMBOL } from './config.js'
import { refuseRepeatedKeys } from '../portfolio/text-file.js'
import { clientOrderId } from './journal.js'

export interface FileOrder {
  clientOrderId: string
  symbol: string
  side: 'buy' | 'sell'
  type: 'market'
  qty: number
  reason: string
}

export interface OrdersFile {
  version: 1
  /** The deployment's name and journal id (`name#salt`), and the sequence number of the first order. */
  deployment?: string
  deploymentId?: string
  firstSeq?: number
  /**
   * With a deployment: the position it held in each ordered symbol when the file was made. The deployment
   * takes the file only while it still holds exactly these (a fill since would make the orders wrong).
   */
  assumed?: Record<string, number>
  createdAt: string
  /** Where the signals came from: "sha256:<hex>" of a signals file, or "run:<id>". */
  signals: string
  orders: FileOrder[]
}

export type OrderDraft = Omit<FileOrder, 'clientOrderId' | 'type'>

export const MAX_ORDERS_FILE_BYTES = 4 * 1024 * 1024
export const MAX_FILE_ORDERS = 10_000
const FILE_KEYS = ['version', 'deployment', 'deploymentId', 'firstSeq', 'assumed', 'createdAt', 'signals', 'orders'] as const
const ORDER_KEYS = ['clientOrderId', 'symbol', 'side', 'type', 'qty', 'reason'] as const

/** The hash8 of orders made without a deployment: what their ids share. */
export function ordersHash(signals: string, orders: readonly OrderDraft[]): string {
  return sha256(JSON.stringify({ signals, orders: orders.map((o) => [o.symbol, o.side, o.qty, o.reason]) })).slice(0, 8)
}

/** An orders file's content: ids given from the deployment's next sequence number, or from the content. */
export function makeOrdersFile(orders: readonly OrderDraft[], options: { signals: string; createdAt?: string; deployment?: { name: string; id: string; nextSeq: number; positions?: Readonly<Record<string, number>> } }): OrdersFile {
  const d = options.deployment
  const hash = ordersHash(options.signals, orders)
  const held = (symbol: string) => (d?.positions !== undefined && Object.prototype.hasOwnProperty.call(d.positions, symbol) ? d.positions[symbol]! : 0)
  return {
    version: 1,
    ...(d === undefined ? {} : { deployment: d.name, deploymentId: d.id, firstSeq: d.nextSeq, assumed: Object.fromEntries(orders.map((o) => [o.symbol, held(o.symbol)])) }),
    createdAt: options.createdAt ?? new Date().toISOString(),
    signals: options.signals,
    orders: orders.map((o, k) => ({ clientOrderId: d === undefined ? `mtflow-${hash}-${k + 1}` : clientOrderId(d.id, d.nextSeq + k), symbol: o.symbol, side: o.side, type: 'market' as const, qty: o.qty, reason: o.reason })),
  }
}

/** Writes an orders file atomically (after checking it as readOrdersFile would). */
export function writeOrdersFile(file: string, content: OrdersFile): void {
  const text = `${JSON.stringify(content, null, 1)}\n`
  checkOrdersFile(JSON.parse(text) as unknown, file)
  writeFileAtomic(file, text)
}

/**
 * The validated content of an orders file. With `deploymentId`, the file must have been made for that
 * deployment; with `nextSeq` (its journal's next sequence number), its first order must take it.
 */
export function readOrdersFile(file: string, options: { deploymentId?: string; nextSeq?: number } = {}): OrdersFile {
  return parseOrdersFile(readTextFile(file, 'orders file', MAX_ORDERS_FILE_BYTES), file, options)
}

/** An orders file's text (as read once, `file` naming it in errors) parsed and checked as readOrdersFile does. */
export function parseOrdersFile(text: string, file: string, options: { deploymentId?: string; nextSeq?: number } = {}): OrdersFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`orders file ${file} is not valid JSON (${preview((error as Error).message, 100)})`, { cause: error })
  }
  refuseRepeatedKeys(text, `orders file ${file}`)
  const content = checkOrdersFile(parsed, file)
  if (options.deploymentId !== undefined) {
    if (content.deploymentId === undefined) throw new ConfigError(`orders file ${file} was made without a deployment (ids mtflow-…); make it with --positions ${options.deploymentId.split('#')[0]} for this deployment`)
    if (content.deploymentId !== options.deploymentId) throw new ConfigError(`orders file ${file} was made for deployment id ${preview(content.deploymentId, 80)}, not ${preview(options.deploymentId, 80)}`)
  }
  if (options.nextSeq !== undefined && content.firstSeq !== options.nextSeq) {
    throw new ConfigError(`orders file ${file} starts at sequence ${content.firstSeq ?? '(none)'} but the deployment's next is ${options.nextSeq}: it has sent orders since the file was made; make the file again`)
  }
  return content
}

/** An orders file's parsed JSON, checked field by field (`file` names it in errors). */
export function checkOrdersFile(raw: unknown, file: string): OrdersFile {
  const where = `orders file ${file}`
  const fail = (field: string, problem: string): never => {
    throw new ConfigError(`${where}: ${field} ${problem}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object { version, createdAt, signals, orders, … } (received ${preview(raw, 60)})`)
  const r = raw as Record<string, unknown>
  for (const key of Object.keys(r)) if (!(FILE_KEYS as readonly string[]).includes(key)) throw new ConfigError(`${where}: no field ${preview(key, 40)} (fields: ${FILE_KEYS.join(', ')})`)
  if (r.version !== 1) fail('version', `must be 1 (received ${preview(r.version, 20)})`)
  if (typeof r.createdAt !== 'string' || !Number.isFinite(Date.parse(r.createdAt)) || r.createdAt.length > 40) fail('createdAt', `must be an ISO time (received ${preview(r.createdAt, 40)})`)
  if (typeof r.signals !== 'string' || !/^(sha256:[0-9a-f]{64}|run:[A-Za-z0-9._-]{1,128})$/.test(r.signals)) fail('signals', `must be "sha256:<64 hex>" or "run:<id>" (received ${preview(r.signals, 80)})`)
  const forDeployment = r.deploymentId !== undefined || r.deployment !== undefined || r.firstSeq !== undefined
  if (forDeployment) {
    if (typeof r.deployment !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(r.deployment)) fail('deployment', `must be a deployment name (received ${preview(r.deployment, 80)})`)
    if (typeof r.deploymentId !== 'string' || r.deploymentId.length > 200 || !r.deploymentId.startsWith(r.deployment as string)) fail('deploymentId', `must be the deployment's journal id, its name and salt (received ${preview(r.deploymentId, 80)})`)
    if (typeof r.firstSeq !== 'number' || !Number.isSafeInteger(r.firstSeq) || r.firstSeq < 1) fail('firstSeq', `must be an integer ≥ 1 (received ${preview(r.firstSeq, 20)})`)
  }
  let assumed: Record<string, number> | undefined
  if (r.assumed !== undefined) {
    if (!forDeployment) fail('assumed', 'is for a file made for a deployment')
    if (r.assumed === null || typeof r.assumed !== 'object' || Array.isArray(r.assumed)) fail('assumed', `must be an object { symbol: position } (received ${preview(r.assumed, 60)})`)
    const entries = Object.entries(r.assumed as Record<string, unknown>)
    if (entries.length > MAX_FILE_ORDERS) fail('assumed', `holds ${entries.length} symbols; expected at most ${MAX_FILE_ORDERS}`)
    assumed = Object.create(null) as Record<string, number>
    for (const [symbol, qty] of entries) {
      if (!SYMBOL.test(symbol)) fail(`assumed.${preview(symbol, 40)}`, 'is not a symbol such as BTC/USDT')
      if (typeof qty !== 'number' || !Number.isFinite(qty)) fail(`assumed.${symbol}`, `must be a finite position (received ${preview(qty, 20)})`)
      assumed![symbol] = qty as number
    }
  }
  if (!Array.isArray(r.orders)) fail('orders', `must be an array (received ${preview(r.orders, 60)})`)
  const orders = r.orders as unknown[]
  if (orders.length > MAX_FILE_ORDERS) fail('orders', `holds ${orders.length} orders; expected at most ${MAX_FILE_ORDERS}`)
  const symbols = new Set<string>()
  const checked: FileOrder[] = orders.map((o, k) => {
    const at = `orders[${k}]`
    if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(at, `must be an object { ${ORDER_KEYS.join(', ')} } (received ${preview(o, 60)})`)
    const e = o as Record<string, unknown>
    for (const key of Object.keys(e)) if (!(ORDER_KEYS as readonly string[]).includes(key)) fail(at, `has no field ${preview(key, 40)} (fields: ${ORDER_KEYS.join(', ')})`)
    if (typeof e.symbol !== 'string' || !SYMBOL.test(e.symbol)) fail(`${at}.symbol`, `must be a symbol such as BTC/USDT (received ${preview(e.symbol, 60)})`)
    if (symbols.has(e.symbol as string)) fail(`${at}.symbol`, `${e.symbol as string} has an order already; expected one order per symbol`)
    symbols.add(e.symbol as string)
    if (e.side !== 'buy' && e.side !== 'sell') fail(`${at}.side`, `must be "buy" or "sell" (received ${preview(e.side, 20)})`)
    if (e.type !== 'market') fail(`${at}.type`, `must be "market" (received ${preview(e.type, 20)})`)
    if (typeof e.qty !== 'number' || !Number.isFinite(e.qty) || !(e.qty > 0)) fail(`${at}.qty`, `must be a finite quantity > 0 (received ${preview(e.qty, 20)})`)
    if (typeof e.reason !== 'string' || e.reason.length > 500) fail(`${at}.reason`, `must be a text of at most 500 characters (received ${preview(e.reason, 40)})`)
    if (typeof e.clientOrderId !== 'string') fail(`${at}.clientOrderId`, `must be a text (received ${preview(e.clientOrderId, 40)})`)
    return { clientOrderId: e.clientOrderId as string, symbol: e.symbol as string, side: e.side as 'buy' | 'sell', type: 'market' as const, qty: e.qty as number, reason: e.reason as string }
  })
  // Client ids: exactly the scheme's, in order (an id edited by hand, reused or reordered is refused).
  const hash = ordersHash(r.signals as string, checked)
  checked.forEach((o, k) => {
    const expected = forDeployment ? clientOrderId(r.deploymentId as string, (r.firstSeq as number) + k) : `mtflow-${hash}-${k + 1}`
    if (o.clientOrderId !== expected) fail(`orders[${k}].clientOrderId`, `is ${preview(o.clientOrderId, 40)}; expected ${expected} (${forDeployment ? `the deployment's id for sequence ${(r.firstSeq as number) + k}` : 'mtflow-<hash of the orders and signals>-<n>'})`)
  })
  return {
    version: 1,
    ...(forDeployment ? { deployment: r.deployment as string, deploymentId: r.deploymentId as string, firstSeq: r.firstSeq as number } : {}),
    ...(assumed === undefined ? {} : { assumed }),
    createdAt: r.createdAt as string,
    signals: r.signals as string,
    orders: checked,
  }
}
