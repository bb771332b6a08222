// Names a user gives that are also properties of every JavaScript object — constructor, toString, valueOf,
// hasOwnProperty — are data like any other name (an attack review: `sort=params.constructor` was a 500, a
// filter on params.toString matched every run, a param named valueOf could not be logged, an alias named
// constructor resolved to "function Object()"); `__proto__` is refused as a name (stored on a plain object it
// would have set its prototype and been lost).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { compareRuns, Registry, searchRuns, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

const NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'] as const
let home: string
let server: Listening
let tracker: Tracker
let named: string
let plain: string

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-proto-'))
  tracker = new Tracker(home)
  const a = tracker.startRun({ experiment: 'e', name: 'named', params: { constructor: 'c1' } })
  a.logParams({ toString: 't1', valueOf: 'v1' })
  for (const [i, n] of NAMES.entries()) {
    a.setTag(n, `tag-${n}`)
    a.logMetric(n, i + 1)
  }
  a.end()
  named = a.id
  const b = tracker.startRun({ experiment: 'e', name: 'plain', params: { fast: '10' } })
  b.end()
  plain = b.id
  new Registry(home).register('strategies', 's', { files: { 'source.ts': 'export const x = 1\n' } })
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})

afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

const get = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${workspaceToken(home)}`, ...(init.headers ?? {}) } })

describe('names shared with Object.prototype', () => {
  it('are stored as logged and found by a search; a run without them does not have them', () => {
    const s = tracker.summaries().find((r) => r.info.runId === named)!
    expect({ ...s.params }).toEqual({ constructor: 'c1', toString: 't1', valueOf: 'v1' })
    expect(Object.fromEntries(NAMES.map((n) => [n, s.tags[n]]))).toEqual(Object.fromEntries(NAMES.map((n) => [n, `tag-${n}`])))
    expect(NAMES.map((n) => s.metrics[n]?.value)).toEqual([1, 2, 3, 4])
    const ids = (filter: string) => searchRuns(tracker, { filter }).runs.map((r) => r.info.name).sort()
    expect(ids('params.toString like "%"')).toEqual(['named'])
    expect(ids('params.constructor like "%native%"')).toEqual([])
    expect(ids('params.valueOf is null')).toEqual(['plain'])
    expect(ids('metrics.hasOwnProperty = 4')).toEqual(['named'])
    expect(ids('tags.constructor = "tag-constructor"')).toEqual(['named'])
    expect(searchRuns(tracker, { orderBy: ['params.constructor desc'] }).runs.map((r) => r.info.name)).toEqual(['named', 'plain'])
  })

  it('__proto__ is refused as a param, tag or metric name, by the library and the API (400)', async () => {
    const r = tracker.startRun({ experiment: 'e', name: 'proto' })
    expect(() => r.setTag('__proto__', 'x')).toThrow('tag name "__proto__" is reserved; choose another')
    expect(() => r.logParams({ ['__proto__']: 'x' } as Record<string, string>)).toThrow(/"__proto__" is reserved/)
    expect(() => r.logMetric('__proto__', 1)).toThrow(/"__proto__" is reserved/)
    r.end()
    const response = await get(`/api/runs/${plain}/tags`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: '{"key":"__proto__","value":"x"}' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: string }).error).toContain('"__proto__" is reserved')
  })

  it('the server sorts, shows and exports them as data (a sort on params.constructor was a 500)', async () => {
    for (const path of ['/runs?sort=params.constructor&dir=desc', '/runs?sort=tags.toString', '/runs?sort=metrics.valueOf&cols=params.constructor,tags.hasOwnProperty,metrics.toString']) {
      const page = await get(path)
      expect(page.status, path).toBe(200)
      const html = await page.text()
      expect(html, path).not.toContain('native code')
    }
    const csv = await (await get('/runs.csv?cols=params.constructor,tags.constructor,params.toString,metrics.valueOf')).text()
    const [head, ...rows] = csv.trim().split(/\r?\n/)
    expect(head!.split(',').slice(-4)).toEqual(['params.constructor', 'tags.constructor', 'params.toString', 'metrics.valueOf'])
    const byName = Object.fromEntries(rows.map((r) => [r.split(',')[1], r.split(',').slice(-4)]))
    expect(byName.named).toEqual(['c1', 'tag-constructor', 't1', '3'])
    expect(byName.plain).toEqual(['', '', '', ''])
    expect(csv).not.toContain('native code')
  })

  it('an alias named like them is an alias like any other: absent until set', async () => {
    for (const ref of ['constructor', 'toString']) {
      const page = await get(`/registry/strategies/s/v/${ref}`)
      const text = await page.text()
      expect([400, 404], text).toContain(page.status) // no such alias (an alias is lower-case: toString is not one)
      expect(text).not.toContain('native code')
    }
    const ping = await fetch(`${server.url}/models/s@constructor/ping`)
    expect(await ping.text()).not.toContain('native code')
  })

  it('a comparison of a run with the metric constructor and one without (a review: runs compare crashed)', async () => {
    const c = compareRuns(tracker, [named, plain])
    const row = c.metrics.find((m) => m.key === 'constructor')!
    expect(row.values).toEqual([1, undefined])
    expect(row.differs).toBe(true)
    const cli = await runCli(['--home', home, 'runs', 'compare', named, plain])
    expect(cli.code, cli.stderr).toBe(0)
    expect(cli.stdout).not.toContain('native code')
  })

  it('aliases named constructor or valueOf: absent until set (a review: deleteAlias succeeded, the audit said "function Object()")', () => {
    const registry = new Registry(home)
    expect(() => registry.deleteAlias('strategies', 's', 'constructor')).toThrow('strategy s has no alias "constructor"')
    registry.setAlias('strategies', 's', 'constructor', 1)
    const audit = registry.auditLog('strategies', 's').filter((e) => e.alias === 'constructor')
    expect(audit).toHaveLength(1)
    expect(audit[0]!.from).toBeUndefined()
    expect(registry.resolve('strategies', 's', 'constructor').version).toBe(1)
    registry.deleteAlias('strategies', 's', 'constructor')
    expect(() => registry.resolve('strategies', 's', 'constructor')).toThrow('strategy s has no alias "constructor"')
  })
})
