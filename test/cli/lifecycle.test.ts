// `npm start`'s lifecycle on a fresh workspace, as real processes: every step done; the registered
// champion is the sweep's best set (read back from the sweep's child runs) and its event-driven backtest
// agrees with the vectorized sweep; the notebooks are registered and linked to their runs; the dashboards
// are published; a second run reuses everything and is much faster; then the server it starts answers.
// Also `mtflow dashboard` on that workspace.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry, Tracker } from '../../lib/track/index.js'
import { ROOT, runCli, sampleRowsBetween } from '../helpers.js'

let home: string
let first: { steps: { name: string; status: string; ms: number }[] }
let firstMs: number

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-lifecycle-'))
  const started = Date.now()
  const result = await runCli(['lifecycle', '--no-serve', '--json'], { env: { MTFLOW_HOME: home } })
  firstMs = Date.now() - started
  if (result.code !== 0) throw new Error(`lifecycle failed (${result.code}): ${result.stderr}`)
  first = JSON.parse(result.stdout)
}, 240_000)
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('the lifecycle (npm start)', () => {
  it('does every step on a fresh workspace', () => {
    expect(first.steps.map((s) => s.status)).toEqual(first.steps.map(() => 'done'))
    expect(first.steps.filter((s) => s.name.startsWith('notebook ')).map((s) => s.name).sort()).toEqual(['notebook 00-quickstart', 'notebook 01-data', 'notebook 02-features', 'notebook 03-backtest'])
  })

  it('registers the best set of the sweep as the champion, and the event-driven backtest agrees with the sweep', () => {
    const tracker = new Tracker(home)
    const registry = new Registry(home)
    const champion = registry.resolve('strategies', 'sma-cross@champion')
    const sweep = tracker.summaries().find((r) => r.tags['mtflow.kind'] === 'sweep' && r.info.experimentId === 'lifecycle')!
    const children = tracker.childRuns(sweep.info.runId)
    expect(children.length).toBeGreaterThan(50)
    // The best child by Sharpe, found here from the stored runs.
    const best = children.reduce((a, b) => (b.metrics.sharpe!.value > a.metrics.sharpe!.value ? b : a))
    expect(champion.params).toEqual({ fast: Number(best.params.fast), slow: Number(best.params.slow), short: Number(best.params.short) })
    const backtestId = champion.runs.find((id) => tracker.getRun(id).tags['mtflow.kind'] === 'backtest')!
    const backtest = tracker.getRun(backtestId)
    expect(backtest.params.fast).toBe(best.params.fast)
    expect(backtest.metrics.sharpe!.value).toBeCloseTo(best.metrics.sharpe!.value, 9)
    expect(backtest.metrics.endEquity!.value).toBeCloseTo(best.metrics.endEquity!.value, 6)
    expect(champion.runs).toContain(sweep.info.runId)
    expect(champion.parity?.agree).toBe(true)
    expect(JSON.parse(readFileSync(registry.file('strategies', 'sma-cross@champion', 'params.json'), 'utf8'))).toEqual(champion.params)
  })

  it('registers each notebook, linked to its tracked run, and publishes the three dashboards', () => {
    const tracker = new Tracker(home)
    const registry = new Registry(home)
    for (const name of ['00-quickstart', '01-data', '02-features', '03-backtest']) {
      const v = registry.resolve('notebooks', `${name}@latest`)
      expect(v.metadata?.status).toBe('ok')
      const run = tracker.getRun(v.runs[0]!)
      expect(run.info.status).toBe('FINISHED')
      expect(run.artifacts.map((a) => a.path)).toContain('notebook.ipynb')
    }
    expect(registry.list('dashboards').map((e) => e.name).sort()).toEqual(['data-coverage', 'run-comparison', 'strategy'])
    const comparison = registry.resolve('dashboards', 'run-comparison@latest')
    expect(comparison.runs.length).toBeGreaterThan(0)
  })

  it('reuses everything on a second run, much faster', async () => {
    const started = Date.now()
    const again = await runCli(['lifecycle', '--no-serve', '--json'], { env: { MTFLOW_HOME: home } })
    const secondMs = Date.now() - started
    expect(again.code, again.stderr).toBe(0)
    const steps = JSON.parse(again.stdout).steps as { name: string; status: string; detail: string }[]
    expect(steps.map((s) => `${s.name}: ${s.status}`)).toEqual(steps.map((s) => `${s.name}: reused`))
    expect(secondMs).toBeLessThan(firstMs / 3)
    expect(new Registry(home).resolve('dashboards', 'strategy@latest').version).toBe(1)
  }, 120_000)

  it('serves what it made and prints the URL', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'lib/cli/bin.cjs'), 'lifecycle', '--port', '0', '--json'], { env: { ...process.env, MTFLOW_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const { url, login } = await new Promise<{ url: string; login: string }>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const line = out.split('\n').find((l) => l.startsWith('{"url"'))
          if (line !== undefined) resolve(JSON.parse(line))
        })
        child.on('exit', (code) => reject(new Error(`lifecycle exited ${code} before serving`)))
      })
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await fetch(`${url}/dashboards/run-comparison`)).status).toBe(401)
      // The printed login URL, as a browser follows it: a cookie, then the pages.
      const entered = await fetch(login, { redirect: 'manual' })
      expect(entered.status).toBe(303)
      const cookie = entered.headers.get('set-cookie')!.split(';')[0]!
      const page = await fetch(`${url}/dashboards/run-comparison`, { headers: { cookie } })
      expect(page.status).toBe(200)
      const doc = parseHTML(await page.text()).document
      expect(doc.querySelector('svg[aria-label="equity curves"]')).not.toBeNull()
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.on('close', resolve))
    }
  }, 120_000)
})

describe('mtflow dashboard', () => {
  it('lists the dashboards with their versions', async () => {
    const listed = await runCli(['dashboard', 'list', '--json'], { env: { MTFLOW_HOME: home } })
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout).map((d: { name: string; versions: number }) => [d.name, d.versions])).toEqual([
      ['run-comparison', 1],
      ['strategy', 1],
      ['data-coverage', 1],
      ['portfolio', 0],
    ])
  })

  it('renders data coverage with the sample counted independently', async () => {
    const out = join(home, 'coverage.html')
    const rendered = await runCli(['dashboard', 'render', 'data-coverage', '--out', out, '--json'], { env: { MTFLOW_HOME: home } })
    expect(rendered.code, rendered.stderr).toBe(0)
    const doc = parseHTML(readFileSync(out, 'utf8')).document
    const spx = [...doc.querySelectorAll('tr')].find((tr: any) => tr.querySelector('td')?.textContent === 'sample/SPX/1d') as any
    const cells = [...spx.querySelectorAll('td')].map((td: any) => td.textContent)
    const expected = sampleRowsBetween('1900-01-01', '2100-01-01')
    expect(cells[1]).toBe(expected.first)
    expect(cells[2]).toBe(expected.last)
    expect(cells[3]).toBe(expected.count.toLocaleString('en-US'))
    expect(doc.querySelector('svg[aria-label="bars per period"]')).not.toBeNull()
  })

  it('publishes a new version only when the content changed; bad names and params are one-line errors', async () => {
    const again = await runCli(['dashboard', 'publish', 'data-coverage', '--json'], { env: { MTFLOW_HOME: home } })
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 1, created: false })
    const top1 = await runCli(['dashboard', 'publish', 'run-comparison', '--param', 'top=1', '--json'], { env: { MTFLOW_HOME: home } })
    expect(top1.code, top1.stderr).toBe(0)
    expect(JSON.parse(top1.stdout)).toMatchObject({ version: 2, created: true })
    expect(JSON.parse(top1.stdout).runs).toHaveLength(1)
    const unknown = await runCli(['dashboard', 'publish', 'nope'], { env: { MTFLOW_HOME: home } })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toMatch(/^mtflow: no dashboard named "nope" \(dashboards: run-comparison, strategy, data-coverage, portfolio\)$/)
    const badParam = await runCli(['dashboard', 'publish', 'strategy', '--param', 'colour=red'], { env: { MTFLOW_HOME: home } })
    expect(badParam.code).toBe(2)
    expect(badParam.stderr).toMatch(/has no param "colour"/)
    expect(existsSync(join(home, 'registry', 'dashboards', 'strategy', 'v2'))).toBe(false)
  })
})
