// Searching and comparing runs: a filter (lib/track/filter.ts), an order, and pages of results.
// Runs missing an order key sort after those that have it, in either direction; NaN sorts with the missing.

import { ConfigError, dict } from '../core/index.js'
import { compileFilter, filterKeys, keyValue, parseFilter, parseOrderBy, type Key, type OrderKey } from './filter.js'
import { checkLifecycleView, inLifecycleView, type LifecycleView } from './lifecycle.js'
import type { Tracker } from './store.js'
import type { RunSummary } from './types.js'

export interface SearchOptions {
  /** Experiment names or ids (default: all). */
  experiments?: readonly string[]
  filter?: string
  /** e.g. ["metrics.sharpe desc", "attributes.start_time"]; default: newest first. */
  orderBy?: readonly string[]
  /** Page size (default 100, at most 50,000). */
  maxResults?: number
  /** From a previous page's nextPageToken. */
  pageToken?: string
  /** Active runs only (the default), deleted runs only, or all (MLflow's view_type). */
  lifecycle?: LifecycleView
}

export interface SearchResult {
  runs: RunSummary[]
  /** How many runs matched in all. */
  total: number
  nextPageToken?: string
  /** When nothing matched: the filter's keys no searched run has, with the key meant if one is close
   * ("no run has tag kind; did you mean tags.mtflow.kind?"). */
  hints?: string[]
}

export const MAX_RESULTS = 50_000

export function searchRuns(tracker: Tracker, options: SearchOptions = {}): SearchResult {
  const filter = parseFilter(options.filter ?? '')
  const predicate = compileFilter(filter)
  const order: OrderKey[] = (options.orderBy ?? []).map(parseOrderBy)
  order.push({ key: { kind: 'attributes', name: 'start_time' }, direction: 'desc' }, { key: { kind: 'attributes', name: 'run_id' }, direction: 'asc' })
  const maxResults = options.maxResults ?? 100
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_RESULTS) throw new ConfigError(`maxResults must be an integer in [1, ${MAX_RESULTS}] (received ${String(options.maxResults)})`)
  // The page token is the last row's sort key (keyset): an offset shifted when a run was added between pages, so
  // a run came on both (a new-user check). The order ends with run_id: the key is unique.
  const signature = JSON.stringify([options.filter ?? '', order.map((o) => [o.key.kind, o.key.name, o.direction]), options.experiments ?? [], options.lifecycle ?? 'active'])
  const after = decodePageToken(options.pageToken, signature)
  const view = checkLifecycleView(options.lifecycle ?? 'active')
  const ids = options.experiments?.map((e) => tracker.getExperiment(e).id)
  const all = tracker.summaries(ids)
  const matched = all.filter((run) => inLifecycleView(run, view) && predicate(run))
  const now = Date.now()
  const keys = matched.map((run) => order.map((o) => sortable(keyValue(run, o.key, now))))
  const index = matched.map((_, i) => i)
  index.sort((a, b) => compareKeys(keys[a]!, keys[b]!, order))
  let start = 0
  if (after !== undefined) {
    start = index.findIndex((i) => compareKeys(keys[i]!, after, order) > 0)
    if (start < 0) start = index.length
  }
  const picked = index.slice(start, start + maxResults)
  const page = picked.map((i) => matched[i]!)
  const next = start + maxResults < matched.length ? encodePageToken(keys[picked[picked.length - 1]!]!, signature) : undefined
  const hints = matched.length === 0 ? missingKeyHints(filterKeys(filter), all) : []
  return { runs: page, total: matched.length, ...(next === undefined ? {} : { nextPageToken: next }), ...(hints.length === 0 ? {} : { hints }) }
}

const KIND_NAME: Record<Key['kind'], string> = { metrics: 'metric', params: 'param', tags: 'tag', attributes: 'attribute' }

/** For each metric, param or tag key no run has: a line saying so, and the closest key runs do have
 * (same name under a prefix such as mtflow., or the same name in another case). */
function missingKeyHints(keys: Key[], runs: RunSummary[]): string[] {
  const hints: string[] = []
  for (const key of keys) {
    if (key.kind === 'attributes') continue
    const present = new Set<string>()
    for (const run of runs) for (const name of Object.keys(key.kind === 'metrics' ? run.metrics : key.kind === 'params' ? run.params : run.tags)) present.add(name)
    if (present.has(key.name)) continue
    const lower = key.name.toLowerCase()
    const near = [...present].filter((name) => name.toLowerCase() === lower || name.toLowerCase().endsWith(`.${lower}`)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1))
    hints.push(`no run has ${KIND_NAME[key.kind]} ${key.name}${near.length === 0 ? '' : `; did you mean ${key.kind}.${near[0]}?`}`)
  }
  return hints
}

function sortable(v: number | string | undefined): number | string | undefined {
  return typeof v === 'number' && Number.isNaN(v) ? undefined : v
}

function compareSortable(a: number | string | undefined, b: number | string | undefined, direction: 'asc' | 'desc'): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1
  let c: number
  // By comparison, not subtraction: Infinity − Infinity is NaN, and two runs tied at Infinity never reached the tiebreak.
  if (typeof a === 'number' && typeof b === 'number') c = a < b ? -1 : a > b ? 1 : 0
  else {
    // Params are strings: numbers among them order as numbers ("9" before "10"), and before every other text.
    // Numbers by value and the rest as text, mixed, was no order ("10" < "15m" < "9" < "10"): the sort was
    // arbitrary and a page token past "10" led back to "15m", so paging went round for ever.
    const na = typeof a === 'string' ? numericText(a) : undefined
    const nb = typeof b === 'string' ? numericText(b) : undefined
    if (na !== undefined && nb !== undefined) c = na < nb ? -1 : na > nb ? 1 : 0
    else if (na !== undefined || nb !== undefined) c = na !== undefined ? -1 : 1
    else c = String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0
  }
  return direction === 'asc' ? c : -c
}

/** A text's value when it reads as a finite number ("10", "1e-3"), else undefined. */
function numericText(text: string): number | undefined {
  const n = Number(text)
  return text.trim() !== '' && Number.isFinite(n) ? n : undefined
}

type SortKey = (number | string | undefined)[]

function compareKeys(a: SortKey, b: SortKey, order: readonly OrderKey[]): number {
  for (let k = 0; k < order.length; k++) {
    const c = compareSortable(a[k], b[k], order[k]!.direction)
    if (c !== 0) return c
  }
  return 0
}

/** The last row's sort key and the search it belongs to (its filter, order, experiments, view). */
function encodePageToken(after: SortKey, signature: string): string {
  // ±Infinity by name (JSON would make it null, read back as missing: a page ending on an Infinity skipped every
  // finite run after it — a review).
  const values = after.map((v) => (v === undefined ? null : typeof v === 'number' && !Number.isFinite(v) ? { inf: v > 0 ? 1 : -1 } : v))
  return Buffer.from(JSON.stringify({ after: values, of: signature }), 'utf8').toString('base64url')
}

function decodePageToken(token: string | undefined, signature: string): SortKey | undefined {
  if (token === undefined || token === '') return undefined
  try {
    const { after, of } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown; of?: unknown }
    const infinite = (v: unknown): v is { inf: 1 | -1 } => typeof v === 'object' && v !== null && ((v as { inf?: unknown }).inf === 1 || (v as { inf?: unknown }).inf === -1)
    if (of === signature && Array.isArray(after) && after.every((v) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || infinite(v))) {
      return after.map((v) => (v === null ? undefined : infinite(v) ? v.inf * Infinity : (v as number | string)))
    }
  } catch {
    /* reported below */
  }
  throw new ConfigError(`page token ${JSON.stringify(token.slice(0, 80))} is not one this search returned (a token goes with the filter, order and experiments it was made with)`)
}

export interface Comparison {
  runs: { runId: string; name: string; status: string; experimentId: string; startTime: number; endTime?: number }[]
  /** One row per param any of the runs has; `differs` when the runs do not all share one value. */
  params: { key: string; values: (string | undefined)[]; differs: boolean }[]
  metrics: { key: string; values: (number | undefined)[]; differs: boolean }[]
  tags: { key: string; values: (string | undefined)[]; differs: boolean }[]
}

/** Runs side by side: params, latest metrics and tags as rows, one column per run. */
export function compareRuns(tracker: Tracker, runIds: readonly string[]): Comparison {
  if (runIds.length < 1) throw new ConfigError('compare needs at least one run id')
  const runs = runIds.map((id) => tracker.getRun(id))
  const rows = <T>(pick: (r: RunSummary) => Record<string, T>, same: (a: T | undefined, b: T | undefined) => boolean) => {
    const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))].sort()
    return keys.map((key) => {
      const values = runs.map((r) => pick(r)[key])
      return { key, values, differs: values.some((v) => !same(v, values[0])) }
    })
  }
  const sameNumber = (a: number | undefined, b: number | undefined) => a === b || (Number.isNaN(a) && Number.isNaN(b))
  return {
    runs: runs.map(({ info }) => ({ runId: info.runId, name: info.name, status: info.status, experimentId: info.experimentId, startTime: info.startTime, ...(info.endTime === undefined ? {} : { endTime: info.endTime }) })),
    params: rows((r) => r.params, (a, b) => a === b),
    metrics: rows((r) => Object.assign(dict<number>(), Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, m.value]))), sameNumber),
    tags: rows((r) => r.tags, (a, b) => a === b),
  }
}
