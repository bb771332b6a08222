// The server's cached listings (lib/server/listings.ts) over a real socket: pages and JSON after changes
// are the same as a server reading the workspace afresh, with the counts the workspace has; a change made
// by another process (a script using lib/track, the mtflow CLI) shows on the next request; a run whose
// process died shows FAILED though its listing was cached; /runs pages top-level runs by cursor (stable
// while runs are added) and refuses cursors it did not give.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker, type RunSummary } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'
import { getPage, type Page } from './http.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const homes: string[] = []
const servers: Listening[] = []

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-listings-'))
  homes.push(home)
  return home
}

async function serve(home: string): Promise<Listening> {
  const server = await startServer({ home, token: workspaceToken(home), port: 0 })
  servers.push(server)
  return server
}

const get = (server: Listening, home: string, path: string): Promise<Page> => getPage(server, workspaceToken(home), path)

const cards = (doc: any): string[] => [...doc.querySelectorAll('.card')].map((c: any) => c.textContent)
/** The runs table's rows as [name, child runs] (columns: checkbox, run, status, experiment, started, duration, child runs). */
const runRows = (doc: any): [string, string][] => [...doc.querySelectorAll('form.compare tbody tr')].map((tr: any) => [tr.querySelectorAll('td')[1].textContent, tr.querySelectorAll('td')[6].textContent])
const nextLink = (doc: any): string | undefined => [...doc.querySelectorAll('a')].find((a: any) => a.textContent === 'next page →')?.getAttribute('href')

/** A script run by another node process: it writes to the workspace through lib/track, then exits. */
function otherProcess(home: string, body: string, options: { wait?: boolean } = {}): { done: Promise<number | null>; firstLine: Promise<string>; kill: () => void } {
  const file = join(home, `writer-${Math.random().toString(36).slice(2)}.mts`)
  writeFileSync(file, `import { Registry, Tracker } from ${JSON.stringify(pathToFileURL(join(ROOT, 'lib/track/index.ts')).href)}\nconst home = ${JSON.stringify(home)}\n${body}\n${options.wait === true ? "process.stdin.resume(); process.stdin.on('end', () => process.exit(0))" : ''}\n`)
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  const firstLine = new Promise<string>((resolve) => child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
  }))
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { done, firstLine, kill: () => child.kill('SIGKILL') }
}

afterAll(async () => {
  for (const s of servers) await s.close()
  for (const h of homes) rmSync(h, { recursive: true, force: true })
})

describe('cached listings on a small workspace', () => {
  let home: string
  let server: Listening
  let sweepId: string
  const PAGES = ['/', '/runs', '/runs?experiment=alpha', '/registry', '/registry/strategies', '/registry/strategies/s', '/dashboards', '/api/experiments', '/api/registry', '/api/registry/strategies', '/api/runs', `/api/runs?filter=${encodeURIComponent('metrics.sharpe > 1')}&order_by=metrics.sharpe`]

  beforeAll(async () => {
    home = newHome()
    const tracker = new Tracker(home)
    for (const [i, name] of ['b0', 'b1', 'b2'].entries()) {
      const run = tracker.startRun({ experiment: 'alpha', name, params: { fast: 10 + i, slow: 30 } })
      run.logMetrics({ sharpe: 0.5 + i })
      run.end()
    }
    const sweep = tracker.startRun({ experiment: 'alpha', name: 'sweep', tags: { 'mtflow.kind': 'sweep' } })
    sweep.logChildren([1, 2, 3, 4, 5, 6].map((fast) => ({ name: `fast=${fast}`, params: { fast }, metrics: { sharpe: fast / 10 } })))
    sweep.end()
    sweepId = sweep.id
    const lone = tracker.startRun({ experiment: 'beta', name: 'lone' })
    lone.end()
    const registry = new Registry(home)
    registry.register('strategies', 's', { files: { 'source.ts': 'export const a = 1' } })
    registry.register('strategies', 's', { files: { 'source.ts': 'export const a = 2' } })
    registry.register('dashboards', 'board', { files: { 'index.html': '<!DOCTYPE html><p>one</p>' } })
    server = await serve(home)
  })

  it('shows the counts the workspace has: 2 experiments, 11 runs, 5 top-level with the sweep\'s 6 children counted', async () => {
    const home0 = await get(server, home, '/')
    expect(cards(home0.doc)).toEqual(expect.arrayContaining(['2experiments', '11runs', '1strategies', '1dashboards']))
    const runs = await get(server, home, '/runs')
    // Newest first: lone, then the sweep (its children are not rows), then b2, b1, b0.
    expect(runRows(runs.doc)).toEqual([['lone', ''], ['sweep', '6'], ['b2', ''], ['b1', ''], ['b0', '']])
    expect(runs.text).toContain('5 top-level run(s) of 11 active in all')
    const experiments = JSON.parse((await get(server, home, '/api/experiments')).text) as { name: string; runs: number }[]
    expect(experiments.map((e) => [e.name, e.runs])).toEqual([['alpha', 10], ['beta', 1]])
    const sweepPage = await get(server, home, `/runs/${sweepId}`)
    expect([...sweepPage.doc.querySelectorAll('form.compare tbody tr')].length).toBe(6)
    expect(JSON.parse((await get(server, home, '/api/registry')).text)).toEqual(JSON.parse(JSON.stringify(new Registry(home).list())))
  })

  it('after changes, every listing page is the one a server reading the workspace afresh gives', async () => {
    for (const path of PAGES) await get(server, home, path) // cached now
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'beta', name: 'later', params: { fast: 99 } })
    run.logMetrics({ sharpe: 9 })
    run.end()
    const registry = new Registry(home)
    registry.register('strategies', 's', { files: { 'source.ts': 'export const a = 3' } })
    registry.setAlias('strategies', 's', 'champion', 3)
    registry.retire('strategies', 's', 1)
    const fresh = await serve(home)
    for (const path of PAGES) {
      const warm = await get(server, home, path)
      const cold = await get(fresh, home, path)
      expect(warm.status, path).toBe(200)
      expect(warm.text, path).toBe(cold.text)
    }
    expect(cards((await get(server, home, '/')).doc)).toContain('12runs')
    const found = JSON.parse((await get(server, home, `/api/runs?filter=${encodeURIComponent('metrics.sharpe > 1')}&order_by=metrics.sharpe`)).text) as { runs: { info: { name: string } }[] }
    expect(found.runs.map((r) => r.info.name)).toEqual(['b1', 'b2', 'later']) // sharpe 1.5, 2.5, 9
    expect(JSON.parse((await get(server, home, '/api/registry/strategies')).text)).toEqual(JSON.parse(JSON.stringify(registry.list('strategies'))))
  })

  it('shows on the next request what another process logged or registered (a lib/track script, the mtflow CLI)', async () => {
    const before = await get(server, home, '/')
    expect(cards(before.doc)).toContain('12runs')
    await get(server, home, '/registry/strategies/s')
    const writer = otherProcess(home, `
const tracker = new Tracker(home)
for (const experiment of ['beta', 'gamma']) {
  const run = tracker.startRun({ experiment, name: 'from-' + experiment })
  run.end()
}
new Registry(home).register('strategies', 's', { files: { 'source.ts': 'export const a = 4' } })
process.stdout.write('done\\n')`)
    expect(await writer.done).toBe(0)
    const after = await get(server, home, '/')
    expect(cards(after.doc)).toEqual(expect.arrayContaining(['3experiments', '14runs']))
    expect(runRows((await get(server, home, '/runs')).doc).slice(0, 2).map(([name]) => name)).toEqual(['from-gamma', 'from-beta'])
    const versions = (doc: any) => [...doc.querySelectorAll('tbody tr')].map((tr: any) => tr.querySelector('td').textContent).filter((t: string) => /^v\d+$/.test(t))
    expect(versions((await get(server, home, '/registry/strategies/s')).doc)).toEqual(['v1', 'v2', 'v3', 'v4'])
    // The CLI, in its own process: an alias appears on the entry's page and in the API.
    const cli = await runCli(['--home', home, 'registry', 'alias', 'strategies', 's@4', 'stable', '--json'])
    expect(cli.code, cli.stderr).toBe(0)
    const entry = await get(server, home, '/registry/strategies/s')
    const row4 = [...entry.doc.querySelectorAll('tbody tr')].find((tr: any) => tr.querySelector('td').textContent === 'v4')
    expect(row4.textContent).toContain('stable')
    const listed = JSON.parse((await get(server, home, '/api/registry/strategies')).text) as { name: string; aliases: Record<string, number> }[]
    expect(listed.find((e) => e.name === 's')!.aliases).toEqual({ champion: 3, stable: 4 })
  })

  it('a run whose process died shows FAILED on the next request, though the listing was cached while it ran', async () => {
    const writer = otherProcess(home, `
const run = new Tracker(home).startRun({ experiment: 'beta', name: 'doomed' })
process.stdout.write(run.id + '\\n')`, { wait: true })
    const id = await writer.firstLine
    const statusOf = (doc: any) => [...doc.querySelectorAll('form.compare tbody tr')].find((tr: any) => tr.querySelectorAll('td')[1].textContent === 'doomed')?.querySelectorAll('td')[2].textContent
    expect(statusOf((await get(server, home, '/runs')).doc)).toBe('RUNNING')
    expect(statusOf((await get(server, home, '/runs')).doc)).toBe('RUNNING')
    writer.kill()
    await writer.done
    expect(statusOf((await get(server, home, '/runs')).doc)).toBe('FAILED')
    expect(new Tracker(home).getRun(id).info.status).toBe('FAILED')
  })
})

describe('/runs pages by cursor', () => {
  let home: string
  let server: Listening
  let tracker: Tracker

  /** Top-level runs in the order the page promises, sorted here: start time descending, then run id. */
  const expectedOrder = (): string[] =>
    tracker
      .summaries()
      .filter((r: RunSummary) => r.info.parentRunId === undefined)
      .sort((a, b) => b.info.startTime - a.info.startTime || (a.info.runId < b.info.runId ? -1 : 1))
      .map((r) => r.info.name)

  beforeAll(async () => {
    home = newHome()
    tracker = new Tracker(home)
    for (let i = 0; i < 230; i++) tracker.startRun({ experiment: i % 2 === 0 ? 'even' : 'odd', name: `r${i}` }).end()
    const parent = tracker.startRun({ experiment: 'even', name: 'parent' })
    parent.logChildren(Array.from({ length: 40 }, (_, k) => ({ name: `child${k}` })))
    parent.end()
    server = await serve(home)
  })

  it('walks every top-level run once, in order, 100 a page; children are counted, not listed', async () => {
    const seen: string[] = []
    let path: string | undefined = '/runs'
    let pages = 0
    while (path !== undefined) {
      const page = await get(server, home, path)
      expect(page.status).toBe(200)
      const rows = runRows(page.doc)
      expect(rows.length).toBeLessThanOrEqual(100)
      for (const [name, children] of rows) {
        seen.push(name)
        expect(children).toBe(name === 'parent' ? '40' : '')
      }
      path = nextLink(page.doc)
      pages++
    }
    expect(pages).toBe(3) // 231 top-level runs
    expect(seen).toEqual(expectedOrder())
    expect(seen.some((n) => n.startsWith('child'))).toBe(false)
    // One experiment: its own runs only.
    const odd = await get(server, home, '/runs?experiment=odd')
    expect(runRows(odd.doc).map(([n]) => n)).toEqual(expectedOrder().filter((n) => /^r\d+$/.test(n) && Number(n.slice(1)) % 2 === 1).slice(0, 100))
    expect(nextLink(odd.doc)).toMatch(/^\/runs\?experiment=odd&cursor=\d+_[\w-]+$/)
  })

  it('a cursor keeps its place while newer runs arrive', async () => {
    const first = await get(server, home, '/runs')
    const second = nextLink(first.doc)!
    const before = runRows((await get(server, home, second)).doc)
    for (let i = 0; i < 5; i++) tracker.startRun({ experiment: 'odd', name: `new${i}` }).end()
    const again = await get(server, home, second)
    expect(runRows(again.doc)).toEqual(before)
    expect(runRows((await get(server, home, '/runs')).doc).slice(0, 5).map(([n]) => n).sort()).toEqual(['new0', 'new1', 'new2', 'new3', 'new4'])
  })

  it('a run deleted softly (with its children) leaves the list on the next request, as a search hides it', async () => {
    const before = await get(server, home, '/runs')
    expect(runRows(before.doc).map(([n]) => n)).toContain('parent')
    const parent = tracker.summaries().find((r) => r.info.name === 'parent')!.info.runId
    tracker.deleteRun(parent, { reason: 'test' })
    const after = await get(server, home, '/runs')
    const names = runRows(after.doc).map(([n]) => n)
    expect(names).not.toContain('parent')
    // 276 runs: 236 top-level (230, the parent, 5 new) and the parent's 40 children; the parent took its children along.
    expect(after.text).toContain('235 top-level run(s) of 235 active in all')
  })

  it('refuses cursors it did not give with a 400 page saying what a cursor is', async () => {
    for (const cursor of ['', 'abc', '12_', '_abc', '99999999999999999_x', '1_../../etc', '1_a b', `1_${'x'.repeat(65)}`, '1.5_abc', '-1_abc']) {
      const page = await get(server, home, `/runs?cursor=${encodeURIComponent(cursor)}`)
      expect(page.status, cursor).toBe(400)
      expect(page.doc.querySelector('[role=alert]').textContent, cursor).toMatch(/is not one a runs page gave \(expected START_RUNID/)
    }
    const mixed = await get(server, home, `/runs?filter=${encodeURIComponent('attributes.status = "FINISHED"')}&cursor=1_abc`)
    expect(mixed.status).toBe(400)
    expect(mixed.doc.querySelector('[role=alert]').textContent).toMatch(/cursor pages the runs list without a search/)
    // The JSON API's page tokens: a 400 with a JSON body.
    const api = await fetch(`${server.url}/api/runs?page_token=${encodeURIComponent('not-a-token')}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })
    expect(api.status).toBe(400)
    expect(((await api.json()) as { error: string }).error).toMatch(/page token/)
  })
})
