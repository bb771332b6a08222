// What a review of the listing caches found (lib/server/listings.ts, pages.ts, api.ts): an active child run
// whose parent is deleted is still on a page of /runs; a parent's page follows its children's changes and
// marks deleted ones; a deleted run's page says so; experiment counts are of active runs (deleted beside
// them); the JSON search cache holds a byte budget, not a count of answers.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseHTML } from 'linkedom'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { apiRoutes, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { PageCache } from '../../lib/server/page-cache.js'
import { createHash } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'

/** `n` hex digits from a sha256 chain seeded by `seed`: text that compresses only ~2×. */
function randomHex(n: number, seed: number): string {
  let out = ''
  let block = String(seed)
  while (out.length < n) out += block = createHash('sha256').update(block).digest('hex')
  return out.slice(0, n)
}
import { deleteRuns, Registry, restoreRuns, Tracker } from '../../lib/track/index.js'
import { getPage, type Page } from './http.js'

const homes: string[] = []
const servers: Listening[] = []

afterAll(async () => {
  for (const s of servers) await s.close()
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-listings-review-'))
  homes.push(home)
  return home
}

async function serve(home: string): Promise<Listening> {
  const server = await startServer({ home, token: workspaceToken(home), port: 0 })
  servers.push(server)
  return server
}

const get = (server: Listening, home: string, path: string): Promise<Page> => getPage(server, workspaceToken(home), path)

/** A compare table's rows as their cells' text (checkbox, run, status, experiment, started, duration, …). */
const rows = (doc: any): string[][] => [...doc.querySelectorAll('form.compare tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent))
const names = (doc: any): string[] => rows(doc).map((r) => r[1]!)

/** The reviewer's workspace: experiment exp with a parent (children c1 sharpe 1, c2 sharpe 2) and solo (sharpe 3). */
function setup(home: string): { tracker: Tracker; parent: string; c1: string; c2: string; solo: string } {
  const tracker = new Tracker(home)
  const p = tracker.startRun({ experiment: 'exp', name: 'parent' })
  const c1 = p.child({ name: 'c1' })
  c1.logMetric('sharpe', 1)
  c1.end()
  const c2 = p.child({ name: 'c2' })
  c2.logMetric('sharpe', 2)
  c2.end()
  p.end()
  const solo = tracker.startRun({ experiment: 'exp', name: 'solo' })
  solo.logMetric('sharpe', 3)
  solo.end()
  return { tracker, parent: p.id, c1: c1.id, c2: c2.id, solo: solo.id }
}

describe('active runs whose parent is not an active run are top-level', () => {
  it('a child restored while its parent stays deleted is listed on /runs and under its experiment', async () => {
    const home = newHome()
    const { tracker, parent, c1 } = setup(home)
    const server = await serve(home)
    expect(names((await get(server, home, '/runs')).doc)).toEqual(['solo', 'parent'])
    deleteRuns(tracker, [parent]) // takes c1 and c2 along
    restoreRuns(tracker, [c1]) // c1 alone
    // Active: solo and c1, both top-level now (c1's parent is deleted).
    const runs = await get(server, home, '/runs')
    expect(names(runs.doc)).toEqual(['solo', 'c1'])
    expect(runs.text).toContain('2 top-level run(s) of 2 active in all; 2 shown')
    expect(names((await get(server, home, '/runs?experiment=exp')).doc)).toEqual(['solo', 'c1'])
  })

  it('a child in another experiment than its active parent is listed under its own experiment, not in all', async () => {
    const home = newHome()
    const tracker = new Tracker(home)
    const p = tracker.startRun({ experiment: 'a', name: 'pa' })
    p.end()
    const kid = tracker.startRun({ experiment: 'b', name: 'kb', parentRunId: p.id })
    kid.end()
    const lone = tracker.startRun({ experiment: 'b', name: 'lb' })
    lone.end()
    const server = await serve(home)
    // All experiments: kb is its parent's child (counted on pa's row); b alone: kb's parent is not there.
    const all = await get(server, home, '/runs')
    expect(rows(all.doc).map((r) => [r[1], r[6]])).toEqual([['lb', ''], ['pa', '1']])
    expect(all.text).toContain('2 top-level run(s) of 3 active in all')
    expect(names((await get(server, home, '/runs?experiment=b')).doc)).toEqual(['lb', 'kb'])
    expect(names((await get(server, home, '/runs?experiment=a')).doc)).toEqual(['pa'])
    // Both experiments: kb's parent is in scope, so kb is on its page again.
    expect(names((await get(server, home, '/runs?experiment=a&experiment=b')).doc)).toEqual(['lb', 'pa'])
  })
})

describe("a parent run's page", () => {
  it("follows a child's new metric and its deletion; a deleted run's page says so and how to restore it", async () => {
    const home = newHome()
    const { tracker, parent, c1 } = setup(home)
    const server = await serve(home)
    const sharpeOf = (doc: any, name: string) => {
      const header = [...doc.querySelectorAll('form.compare thead th')].map((th: any) => th.textContent)
      return rows(doc).find((r) => r[1] === name)![header.indexOf('metrics.sharpe')]
    }
    const before = await get(server, home, `/runs/${parent}`)
    expect(sharpeOf(before.doc, 'c1')).toBe('1.00') // sharpe is a ratio: two decimals
    expect(before.text).toContain('Child runs (2)')
    await get(server, home, `/runs/${parent}`) // cached now
    tracker.logMetric(c1, 'sharpe', 99) // the child's files and its experiment's index change, not the parent's
    await sleep(150) // past the page cache's 100 ms recheck window
    expect(sharpeOf((await get(server, home, `/runs/${parent}`)).doc, 'c1')).toBe('99.00')
    deleteRuns(tracker, [c1], { reason: 'bad data' })
    await sleep(150)
    const after = await get(server, home, `/runs/${parent}`)
    expect(after.text).toContain('Child runs (1 active, 1 deleted)')
    expect(rows(after.doc).map((r) => [r[1], r[2]])).toEqual([['c1', 'FINISHED (deleted)'], ['c2', 'FINISHED']])
    // c1's own page: the banner with its time, reason and the restore command.
    const deletedTime = Number(tracker.getRun(c1).tags['mtflow.deletedTime'])
    const banner = (await get(server, home, `/runs/${c1}`)).doc.querySelector('[role=status]')
    expect(banner.textContent).toBe(`deleted ${new Date(deletedTime).toISOString().slice(0, 19).replace('T', ' ')} UTC (reason: bad data) — restore it with the button below or mtflow runs restore ${c1}. Searches and the runs list leave it out (the deleted runs); mtflow runs gc removes it for good.`)
    // Restored: no banner (its tags changed, so its page is made again).
    restoreRuns(tracker, [c1])
    await sleep(150)
    expect((await get(server, home, `/runs/${c1}`)).doc.querySelector('[role=status]')).toBeNull()
    expect((await get(server, home, `/runs/${parent}`)).text).toContain('Child runs (2)')
  })
})

describe('experiment counts', () => {
  it('are of active runs, the deleted ones beside them, on the home page and in /api/experiments', async () => {
    const home = newHome()
    const { tracker, c2 } = setup(home)
    tracker.startRun({ experiment: 'other', name: 'o' }).end()
    deleteRuns(tracker, [c2])
    const server = await serve(home)
    // exp: parent, c1, c2, solo = 4 runs, c2 deleted: 3 active, 1 deleted; other: 1 active. 4 active in all.
    const homePage = await get(server, home, '/')
    expect([...homePage.doc.querySelectorAll('.card')].map((c: any) => c.textContent)).toContain('4runs')
    const table = [...homePage.doc.querySelectorAll('table')].find((t: any) => t.querySelector('th')?.textContent === 'experiment')
    expect([...table.querySelectorAll('tbody tr')].map((tr: any) => [...tr.querySelectorAll('td')].slice(0, 3).map((td: any) => td.textContent))).toEqual([
      ['exp', '3', '1'],
      ['other', '1', ''],
    ])
    const api = JSON.parse((await get(server, home, '/api/experiments')).text) as { name: string; runs: number; deletedRuns: number }[]
    expect(api.map((e) => [e.name, e.runs, e.deletedRuns])).toEqual([
      ['exp', 3, 1],
      ['other', 1, 0],
    ])
  })
})

describe('the /api/runs search cache', () => {
  it('keeps answers within its byte budget, the least recently used dropped first', async () => {
    const home = newHome()
    const tracker = new Tracker(home)
    // 20 runs with a 1,000-character param of random hex digits: each answer of all 20 is over 20 kB and
    // still over 10 kB gzip-compressed (as the cache keeps it), so 64 KiB holds at most 6.
    for (let i = 0; i < 20; i++) tracker.startRun({ experiment: 'big', name: `r${i}`, params: { blob: randomHex(1000, i) } }).end()
    const api = apiRoutes({ tracker, registry: new Registry(home), searchCacheBytes: 64 * 1024 })
    const searches = vi.spyOn(tracker, 'summaries')
    /** Whether asking `query` read the runs (a search) rather than answering from the cache. */
    const searched = async (query: string): Promise<boolean> => {
      const n = searches.mock.calls.length
      const response = await api.request(`/runs?${query}`)
      expect(response.status).toBe(200)
      const body = (await response.json()) as { runs: unknown[]; total: number }
      expect(body.total).toBe(20)
      expect(new TextEncoder().encode(JSON.stringify(body)).length).toBeGreaterThan(20_000)
      return searches.mock.calls.length > n
    }
    for (let i = 0; i < 10; i++) expect(await searched(`k=${i}`)).toBe(true)
    expect(await searched('k=9')).toBe(false) // the newest is kept
    expect(await searched('k=0')).toBe(true) // the oldest went: 10 answers of 20+ kB are not all within 64 KiB
    expect(await searched('k=0')).toBe(false)
  })

  it('PageCache.revalidate: every entry takes its stamp again on its next get, even within the recheck interval', () => {
    const cache = new PageCache(65_536, 60_000)
    let stamp = 's1'
    cache.set('p', 's1', 'page one')
    stamp = 's2'
    expect(cache.get('p', () => stamp)?.text()).toBe('page one') // within the minute: not rechecked
    cache.revalidate()
    expect(cache.get('p', () => stamp)).toBeUndefined()
  })

  it('PageCache: bytes never pass the budget; a read keeps an entry', () => {
    const cache = new PageCache(65_536, 0)
    // Pages of 20,000 random hex digits: ~10 kB each as the cache keeps them (gzip level 1, computed here).
    const page = randomHex(20_000, 1)
    const kept = gzipSync(Buffer.from(page), { level: 1 }).length
    const fit = Math.floor(65_536 / kept)
    expect(fit).toBeGreaterThanOrEqual(5)
    cache.set('a', 's', page)
    for (let i = 0; i < 100; i++) {
      cache.set(`k${i}`, 's', page)
      expect(cache.get('a', () => 's')).toBeDefined() // used after every set: never the least recently used
      expect(cache.bytes).toBeLessThanOrEqual(65_536)
    }
    // "a" and the newest fit − 1.
    expect(cache.size).toBe(fit)
    expect(cache.bytes).toBe(fit * kept)
    expect(cache.get(`k${100 - fit}`, () => 's')).toBeUndefined()
    expect(cache.get(`k${100 - fit + 1}`, () => 's')).toBeDefined()
    // What comes back is the page: as text, as bytes, and gzip that inflates to it.
    const hit = cache.get('a', () => 's')!
    expect(hit.text()).toBe(page)
    expect(hit.length).toBe(20_000)
    expect(gunzipSync(hit.gzip).toString('utf8')).toBe(page)
    // A page larger than the whole budget is not kept.
    const before = { size: cache.size, bytes: cache.bytes }
    cache.set('huge', 's', randomHex(200_000, 2))
    // … and nothing else is evicted for it.
    expect({ size: cache.size, bytes: cache.bytes }).toEqual(before)
    expect(cache.get('a', () => 's')).toBeDefined()
    expect(cache.get('huge', () => 's')).toBeUndefined()
    expect(cache.bytes).toBeLessThanOrEqual(65_536)
  })
})

describe('the search caches: one entry per query in any order; kept while a run is RUNNING unless the search reads the clock', () => {
  it('/api/runs: reordered parameters share an answer; a RUNNING run keeps only the searches that read a duration from being kept', async () => {
    const home = newHome()
    const tracker = new Tracker(home)
    for (let i = 0; i < 3; i++) tracker.startRun({ experiment: 'exp', name: `done${i}`, params: { i } }).end()
    const api = apiRoutes({ tracker, registry: new Registry(home) })
    const searches = vi.spyOn(tracker, 'summaries')
    const ask = async (query: string): Promise<{ searched: boolean; names: string[] }> => {
      // Each request in a turn of the event loop of its own, as a server's (the listing's stamps are taken once a turn).
      await new Promise((resolve) => setImmediate(resolve))
      const n = searches.mock.calls.length
      const response = await api.request(`/runs?${query}`)
      expect(response.status).toBe(200)
      const body = (await response.json()) as { runs: { info: { name: string } }[] }
      return { searched: searches.mock.calls.length > n, names: body.runs.map((r) => r.info.name) }
    }
    const q = 'filter=params.i >= 1&experiment=exp&order_by=params.i'
    expect(await ask(q)).toEqual({ searched: true, names: ['done1', 'done2'] })
    expect(await ask('order_by=params.i&filter=params.i%20%3E%3D%201&experiment=exp')).toEqual({ searched: false, names: ['done1', 'done2'] })
    // A name's values keep their order: two order_by in the other order are another search.
    expect((await ask('order_by=params.i desc&order_by=attributes.name')).searched).toBe(true)
    expect((await ask('order_by=attributes.name&order_by=params.i desc')).searched).toBe(true)

    const running = tracker.startRun({ experiment: 'exp', name: 'live', params: { i: 5 } })
    // Not reading the clock: kept while the run is RUNNING, and still follows the runs (a new metric, its end).
    expect(await ask('filter=attributes.status = "RUNNING"')).toEqual({ searched: true, names: ['live'] })
    expect(await ask('filter=attributes.status = "RUNNING"')).toEqual({ searched: false, names: ['live'] })
    running.logMetric('m', 1)
    expect((await ask('filter=attributes.status = "RUNNING"')).searched).toBe(true)
    // Reading the clock (a RUNNING run's duration is now − its start): searched on every request.
    const slow = 'filter=attributes.duration >= 0&order_by=attributes.duration desc'
    const first = await ask(slow)
    expect(first.searched).toBe(true)
    expect([...first.names].sort()).toEqual(['done0', 'done1', 'done2', 'live'])
    expect((await ask(slow)).searched).toBe(true)
    expect((await ask('order_by=attributes.duration')).searched).toBe(true)
    running.end()
    expect(await ask('filter=attributes.status = "RUNNING"')).toEqual({ searched: true, names: [] })
    // Nothing RUNNING: a duration search is kept too.
    expect((await ask(slow)).searched).toBe(true)
    expect((await ask(slow)).searched).toBe(false)
  })

  it('/runs: reordered parameters share a page (x-mtflow-page: cached); a RUNNING run keeps only duration searches from being kept', async () => {
    const home = newHome()
    const tracker = new Tracker(home)
    for (let i = 0; i < 3; i++) tracker.startRun({ experiment: 'exp', name: `done${i}`, params: { i } }).end()
    const server = await serve(home)
    const page = async (query: string): Promise<{ state: string | null; names: string[] }> => {
      await new Promise((resolve) => setImmediate(resolve))
      const response = await fetch(`${server.url}/runs?${query}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })
      expect(response.status).toBe(200)
      return { state: response.headers.get('x-mtflow-page'), names: names(parseHTML(await response.text()).document) }
    }
    expect(await page('filter=params.i >= 1&experiment=exp&sort=name&dir=asc')).toEqual({ state: 'rendered', names: ['done1', 'done2'] })
    expect(await page('dir=asc&sort=name&experiment=exp&filter=params.i%20%3E%3D%201')).toEqual({ state: 'cached', names: ['done1', 'done2'] })
    const running = tracker.startRun({ experiment: 'exp', name: 'live' })
    expect(await page('filter=attributes.name != "x"&sort=name&dir=asc')).toEqual({ state: 'rendered', names: ['done0', 'done1', 'done2', 'live'] })
    expect((await page('filter=attributes.name != "x"&sort=name&dir=asc')).state).toBe('cached')
    for (let k = 0; k < 2; k++) expect(await page('filter=attributes.duration >= 0&sort=name&dir=asc')).toEqual({ state: 'rendered', names: ['done0', 'done1', 'done2', 'live'] })
    running.end()
    expect((await page('filter=attributes.duration >= 0&sort=name&dir=asc')).state).toBe('rendered')
    expect((await page('filter=attributes.duration >= 0&sort=name&dir=asc')).state).toBe('cached')
  })

  it('a query the handler reads differently is another key: %FF (kept as typed) and an encoded U+FFFD (a review: one answered with the other\'s runs)', async () => {
    const home = newHome()
    const tracker = new Tracker(home)
    tracker.startRun({ experiment: 'e', name: 'a', tags: { hex: 'a%FFb-1' } }).end()
    tracker.startRun({ experiment: 'e', name: 'b', tags: { hex: 'a\uFFFDb-2' } }).end()
    for (const order of [0, 1]) {
      const api = apiRoutes({ tracker, registry: new Registry(home) })
      const names = async (raw: string) => {
        const response = await api.request(`/runs?filter=${raw}`)
        return ((await response.json()) as { runs: { info: { name: string } }[] }).runs.map((r) => r.info.name)
      }
      const asTyped = async () => expect(await names("tags.hex+like+'a%FFb%25'")).toEqual(['a'])
      const replacement = async () => expect(await names("tags.hex+like+'a%EF%BF%BDb%25'")).toEqual(['b'])
      if (order === 0) {
        await asTyped()
        await replacement()
      } else {
        await replacement()
        await asTyped()
      }
    }
  })
})
