// Rendered answers (pages, JSON search results) kept gzip-compressed under a byte budget, each valid while
// its stamp is unchanged: the server's pages (pages.ts and the page modules) and the JSON API's run searches
// (api.ts). Sent compressed to clients that accept gzip (every browser), inflated for the others.

import { gunzipSync, gzipSync } from 'node:zlib'
import type { Context } from 'hono'

/** A cached answer: its gzip bytes (what the budget counts), and its bytes or text on demand. */
export interface CachedAnswer {
  readonly gzip: Buffer
  /** The uncompressed size in bytes. */
  readonly length: number
  bytes(): Buffer
  text(): string
}

function answer(gzip: Buffer, length: number, raw?: Buffer): CachedAnswer {
  return {
    gzip,
    length,
    bytes: () => raw ?? gunzipSync(gzip),
    text: () => (raw ?? gunzipSync(gzip)).toString('utf8'),
  }
}

/**
 * Rendered pages by key, valid while their stamp (the runs' file fingerprints, a listing's stamp) is unchanged; least
 * recently used entries go first once the total passes the byte budget (of compressed bytes: a page of SVG
 * charts and their data shrinks 5–10×, so a budget holds that many more pages). Charts take milliseconds to
 * render and a busy server would otherwise redo them for every request.
 */
export class PageCache {
  private readonly entries = new Map<string, { stamp: string; gzip: Buffer; length: number; checkedAt: number }>()
  private total = 0

  /**
   * `recheckMs`: an entry whose stamp matched less than this long ago is served without taking the stamp
   * again (a handful of stat calls per request) — a finished run's page may lag a change by that much.
   */
  constructor(
    private readonly budget: number,
    private readonly recheckMs = 100,
  ) {}

  get(key: string, stampOf: () => string): CachedAnswer | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    const now = performance.now()
    if (now - entry.checkedAt >= this.recheckMs) {
      if (entry.stamp !== stampOf()) return undefined
      entry.checkedAt = now
    }
    this.entries.delete(key) // re-inserted: most recently used last
    this.entries.set(key, entry)
    return answer(entry.gzip, entry.length)
  }

  /**
   * Make every entry take its stamp again on its next get (a change this process just made, such as a run
   * deleted from the browser, must show on the page the browser is sent to, within the recheck interval).
   */
  revalidate(): void {
    for (const entry of this.entries.values()) entry.checkedAt = -Infinity
  }

  /** The compressed bytes held: at most the budget after every set (an entry larger than the budget is not kept). */
  get bytes(): number {
    return this.total
  }

  get size(): number {
    return this.entries.size
  }

  /** Kept compressed once (gzip level 1: ~3 ms for a 350 KiB page), so it is neither encoded nor compressed again per request. */
  set(key: string, stamp: string, page: string): CachedAnswer {
    const raw = Buffer.from(page, 'utf8')
    const gzip = gzipSync(raw, { level: 1 })
    const old = this.entries.get(key)
    if (old !== undefined) {
      this.total -= old.gzip.length
      this.entries.delete(key)
    }
    // Larger than the whole budget: not kept (and nothing else evicted for it).
    if (gzip.length > this.budget) return answer(gzip, raw.length, raw)
    this.entries.set(key, { stamp, gzip, length: raw.length, checkedAt: performance.now() })
    this.total += gzip.length
    for (const [k, e] of this.entries) {
      if (this.total <= this.budget) break
      this.entries.delete(k)
      this.total -= e.gzip.length
    }
    return answer(gzip, raw.length, raw)
  }
}

/** Whether the request's Accept-Encoding takes gzip (a `q=0` refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false
  // An explicit gzip (or x-gzip) entry decides; `*` stands only for codings the header does not name.
  let named: boolean | undefined
  let star: boolean | undefined
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';')
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const accepted = q === undefined || Number(q.slice(2)) > 0
    if (coding === '*') star = accepted
    else named = named === true || accepted
  }
  return named ?? star ?? false
}

/** A cached answer as the response's body: gzip when the client takes it, else inflated. Varies by Accept-Encoding. */
export function sendCached(c: Context, cached: CachedAnswer, status: number, type: string): Response {
  c.header('vary', 'accept-encoding')
  const gzip = acceptsGzip(c.req.header('accept-encoding'))
  const body = gzip ? cached.gzip : cached.bytes()
  return c.body(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), status as 200, { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
}

/** Says whether a cached listing page (/runs) was rendered for the request or sent from the cache: rendered | cached. */
export const PAGE_HEADER = 'x-mtflow-page'

/**
 * A request's query as a cache key: the values the handler reads (Hono's c.req.queries(): an escape it
 * cannot decode stays as typed), by name (a name's values keep their order, which can matter), so
 * `?a=1&b=2` and `?b=2&a=1` share an entry and no two queries the handler tells apart do. (Keyed by
 * URLSearchParams, %FF and an encoded U+FFFD were one key: one search answered with the other's runs.)
 */
export function queryKey(queries: Record<string, string[]>): string {
  return JSON.stringify(Object.keys(queries).sort().map((k) => [k, queries[k]]))
}
