// Rendered answers (pages, JSON search results) kept as bytes under a byte budget, each valid while its
// stamp is unchanged: the server's pages (pages.ts) and the JSON API's run searches (api.ts).

/**
 * Rendered pages by key, valid while their stamp (the runs' file fingerprints, a listing's stamp) is unchanged; least
 * recently used entries go first once the total passes the byte budget. Charts take milliseconds to
 * render and a busy server would otherwise redo them for every request.
 */
export class PageCache {
  private readonly entries = new Map<string, { stamp: string; html: Buffer; checkedAt: number }>()
  private total = 0

  /**
   * `recheckMs`: an entry whose stamp matched less than this long ago is served without taking the stamp
   * again (a handful of stat calls per request) — a finished run's page may lag a change by that much.
   */
  constructor(
    private readonly budget: number,
    private readonly recheckMs = 100,
  ) {}

  get(key: string, stampOf: () => string): Buffer | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    const now = performance.now()
    if (now - entry.checkedAt >= this.recheckMs) {
      if (entry.stamp !== stampOf()) return undefined
      entry.checkedAt = now
    }
    this.entries.delete(key) // re-inserted: most recently used last
    this.entries.set(key, entry)
    return entry.html
  }

  /** The bytes held: at most the budget after every set (an entry larger than the budget is not kept). */
  get bytes(): number {
    return this.total
  }

  get size(): number {
    return this.entries.size
  }

  /** Kept as UTF-8 bytes: sent as they are, not encoded again for every request. */
  set(key: string, stamp: string, page: string): Buffer {
    const html = Buffer.from(page, 'utf8')
    const old = this.entries.get(key)
    if (old !== undefined) {
      this.total -= old.html.length
      this.entries.delete(key)
    }
    this.entries.set(key, { stamp, html, checkedAt: performance.now() })
    this.total += html.length
    for (const [k, e] of this.entries) {
      if (this.total <= this.budget) break
      this.entries.delete(k)
      this.total -= e.html.length
    }
    return html
  }
}
