// The CLI's first-contact fixes (issue 24): --version, `runs list --page-token`, a search on a key no run
// has naming the key meant, and `npm start --port N` (npm keeps the flag) answered with the form that works.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Tracker } from '../../lib/track/index.js'
import { npmPort } from '../../lib/cli/lifecycle.js'
import { ROOT, runCli } from '../helpers.js'
import { docFiles } from '../docs/docs-check.js'

let home: string
const ids: string[] = []

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-basics-'))
  const tracker = new Tracker(home)
  // Five runs: two sweeps, three backtests, tagged as the engines tag them (mtflow.kind).
  for (const kind of ['sweep', 'backtest', 'sweep', 'backtest', 'backtest']) {
    const run = tracker.startRun({ experiment: 'basics', name: `a ${kind}` })
    run.logBatch({ params: { fast: '10' }, metrics: [{ key: 'sharpe', value: 1.5 }], tags: { 'mtflow.kind': kind } })
    run.end()
    ids.push(run.id)
  }
})

afterAll(() => rmSync(home, { recursive: true, force: true }))

const cli = (...args: string[]) => runCli(['--home', home, ...args])

describe('mtflow --version', () => {
  it("prints package.json's version and the project version", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const r = await runCli(['--version'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^mtflow ${pkg.version.replace(/\./g, '\\.')} \\(project ${pkg.version.replace(/\./g, '\\.')}\\+[0-9a-f]{12}\\)\\n$`))
    expect((await runCli(['-V'])).stdout).toBe(r.stdout)
  })
})

describe('mtflow runs list --page-token', () => {
  it('pages through the runs with the token it prints, each run once', async () => {
    const first = await cli('runs', 'list', '--max', '2')
    expect(first.code, first.stderr).toBe(0)
    const token = /--page-token (\S+)/.exec(first.stdout)?.[1]
    expect(token).toBeDefined()
    const seen: string[] = []
    let page: string | undefined = token
    const firstJson = JSON.parse((await cli('runs', 'list', '--max', '2', '--json')).stdout)
    seen.push(...firstJson.runs.map((r: { info: { runId: string } }) => r.info.runId))
    expect(firstJson.nextPageToken).toBe(token)
    while (page !== undefined) {
      const r = await cli('runs', 'list', '--max', '2', '--page-token', page, '--json')
      expect(r.code, r.stderr).toBe(0)
      const out = JSON.parse(r.stdout)
      seen.push(...out.runs.map((x: { info: { runId: string } }) => x.info.runId))
      page = out.nextPageToken ?? undefined
    }
    // 5 runs in pages of 2, 2, 1: each exactly once.
    expect(seen).toHaveLength(5)
    expect([...seen].sort()).toEqual([...ids].sort())
  })

  it('refuses a token it did not print: exit 2, one line naming it', async () => {
    const r = await cli('runs', 'list', '--page-token', 'bogus')
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual(['mtflow: page token "bogus" is not one this search returned (a token goes with the filter, order and experiments it was made with)'])
    // A token made for another order is refused too.
    const sorted = JSON.parse((await cli('runs', 'search', '--order-by', 'metrics.sharpe desc', '--max', '2', '--json')).stdout)
    const other = await cli('runs', 'list', '--max', '2', '--page-token', sorted.nextPageToken)
    expect(other.code).toBe(2)
  })

  it('a run started between two pages neither repeats nor hides a run (a new-user check: a token was an offset, and the list is newest first)', async () => {
    const h = mkdtempSync(join(tmpdir(), 'mtflow-cli-pages-'))
    const tracker = new Tracker(h)
    const before: string[] = []
    for (let k = 0; k < 4; k++) {
      const run = tracker.startRun({ experiment: 'pages', name: `r${k}` })
      run.end()
      before.push(run.id)
    }
    const first = JSON.parse((await runCli(['--home', h, 'runs', 'list', '--experiment', 'pages', '--max', '2', '--json'])).stdout)
    const added = tracker.startRun({ experiment: 'pages', name: 'between' })
    added.end()
    const second = JSON.parse((await runCli(['--home', h, 'runs', 'list', '--experiment', 'pages', '--max', '2', '--page-token', first.nextPageToken, '--json'])).stdout)
    const seen = [...first.runs, ...second.runs].map((r: { info: { runId: string } }) => r.info.runId)
    expect(new Set(seen).size).toBe(4)
    expect([...seen].sort()).toEqual([...before].sort())
    rmSync(h, { recursive: true, force: true })
  })
})

describe('mtflow runs search on a key no run has', () => {
  it('says so and names the key meant; the corrected key matches', async () => {
    const wrong = await cli('runs', 'search', 'tags.kind = "sweep"')
    expect(wrong.code).toBe(0)
    expect(wrong.stdout).toContain('0 of 0 runs')
    expect(wrong.stderr).toBe('mtflow: no run has tag kind; did you mean tags.mtflow.kind?\n')
    const json = JSON.parse((await cli('runs', 'search', 'tags.kind = "sweep" or metrics.Sharpe > 1 or params.nope = "1"', '--json')).stdout)
    expect(json.hints).toEqual(['no run has tag kind; did you mean tags.mtflow.kind?', 'no run has metric Sharpe; did you mean metrics.sharpe?', 'no run has param nope'])
    const right = JSON.parse((await cli('runs', 'search', 'tags.mtflow.kind = "sweep"', '--json')).stdout)
    expect(right.total).toBe(2)
    expect(right.hints).toBeUndefined()
  })

  it('the examples in --help, the README and the guides use the key that exists', async () => {
    const help = await cli('runs', 'search', '--help')
    expect(help.stdout).toContain('tags.mtflow.kind = "sweep"')
    expect(help.stdout).not.toMatch(/tags\.kind\b/)
    const docs = docFiles(ROOT)
    expect(docs).toContain('lib/track/README.md') // where the search language is documented
    for (const doc of docs) expect(readFileSync(join(ROOT, doc), 'utf8'), doc).not.toMatch(/tags\.kind\b/)
  })
})

describe('npm start --port N', () => {
  it('npm kept the flag and passed the number on: exit 2, one line with the form that works, nothing written', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mtflow-npm-port-'))
    try {
      // What `npm start --port 8790` runs: npm_config_port=true, argv "lifecycle 8790".
      const r = await runCli(['--home', empty, 'lifecycle', '8790'], { env: { npm_config_port: 'true' } })
      expect(r.code).toBe(2)
      expect(r.stderr).toBe('mtflow: --port went to npm, not to mtflow: use npm start -- --port 8790\n')
      const stray = await runCli(['--home', empty, 'lifecycle', 'extra'], { env: { npm_config_port: undefined } })
      expect(stray.code).toBe(2)
      expect(stray.stderr.trim().split('\n')).toHaveLength(1)
      expect(stray.stderr).toContain('unexpected argument "extra"')
      expect(readdirSync(empty)).toEqual([])
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })

  it('honours npm start --port=8790 (npm_config_port=8790) unless --port itself was given', () => {
    expect(npmPort({ npm_config_port: '8790' }, [], false)).toBe(8790)
    expect(npmPort({ npm_config_port: '8790' }, [], true)).toBeUndefined()
    expect(npmPort({}, [], false)).toBeUndefined()
    expect(() => npmPort({ npm_config_port: 'true' }, ['8790'], false)).toThrow('use npm start -- --port 8790')
    expect(() => npmPort({ npm_config_port: '99999' }, [], false)).toThrow("npm's --port=99999 must be an integer in [0, 65535]")
  })
})
