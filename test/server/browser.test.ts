// The server's pages in a real browser (headless Chromium driven by playwright-core): the compare page's
// overlaid equity chart as laid out and painted, and a notebook full of XSS payloads that must stay inert
// under the page CSP. Skipped when no Chromium is installed (.ci/run installs Debian's `chromium`).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { findChromium } from './chromium.js'

const executablePath = findChromium()
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 2)
const N = 50

/**
 * Three hand-made equity curves of 50 daily bars: alpha rises 20 a day (10,000 → 10,980), beta falls 10 a
 * day (10,000 → 9,510), gamma is a saw tooth (+50 a day, back to 10,000 every 10th bar; ends at 10,450).
 */
const CURVES: Record<string, (i: number) => number> = {
  alpha: (i) => 10_000 + 20 * i,
  beta: (i) => 10_000 - 10 * i,
  gamma: (i) => 10_000 + 50 * (i % 10),
}
/** Final metrics as logged. */
const METRICS: Record<string, { sharpe: number; trades: number }> = {
  alpha: { sharpe: 1.23456, trades: 1234 },
  beta: { sharpe: 0.5, trades: 7 },
  gamma: { sharpe: -0.25, trades: 42 },
}
// As the compare page shows them (lib/report/metric-units.ts): with units, the difference to alpha beside the others.
const SHOWN = {
  sharpe: ['1.23', '0.50 (-0.73)', '-0.25 (-1.48)'],
  trades: ['1,234', '7 (-1,227)', '42 (-1,192)'],
  equity: ['10,980.00', '9,510.00 (-1,470.00)', '10,450.00 (-530.00)'],
}

const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
  cells: [
    {
      cell_type: 'markdown',
      id: 'md',
      metadata: {},
      source: ['# Probe notebook\n', '\n', 'This paragraph is harmless. [click](javascript:window.__xss=3)\n'],
    },
    {
      cell_type: 'code',
      id: 'code',
      metadata: {},
      execution_count: 1,
      source: ['1 + 1'],
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['harmless stdout line\n'] },
        { output_type: 'execute_result', execution_count: 1, metadata: {}, data: { 'text/html': '<img src=x onerror="window.__xss=1"><b>bold result</b>', 'text/plain': '2' } },
        { output_type: 'display_data', metadata: {}, data: { 'text/html': '<script>window.__xss=2</script><p>html paragraph</p>' } },
        {
          output_type: 'display_data',
          metadata: {},
          data: { 'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=4" width="20" height="20"><rect width="20" height="20" fill="teal"/></svg>' },
        },
        {
          output_type: 'display_data',
          metadata: {},
          data: { 'text/html': '<a href="javascript:window.__xss=5">second link</a><details open ontoggle="alert(6)"><summary>details</summary></details><iframe srcdoc="<script>parent.__xss=7</script>"></iframe>' },
        },
      ],
    },
  ],
}

describe.skipIf(executablePath === undefined)(`the pages in headless Chromium${executablePath === undefined ? ' (skipped: no chromium / chromium-browser / google-chrome on PATH; set CHROMIUM_PATH)' : ''}`, () => {
  let home: string
  let server: Listening
  let browser: Browser
  let context: BrowserContext
  const runIds: string[] = []

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-browser-'))
    const tracker = new Tracker(home)
    for (const [name, value] of Object.entries(CURVES)) {
      const run = tracker.startRun({ experiment: 'browser', name, params: { strategy: 'probe', fast: name.length } })
      run.logBatch({ metrics: Array.from({ length: N }, (_, i) => ({ key: 'equity', value: value(i), step: i, timestamp: T0 + i * DAY })) })
      run.logMetrics(METRICS[name]!)
      run.end()
      runIds.push(run.id)
    }
    new Registry(home).register('notebooks', 'xss-probe', { files: { 'notebook.ipynb': JSON.stringify(NOTEBOOK) }, runs: [] })
    ;[server, browser] = await Promise.all([startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }), chromium.launch({ executablePath, args: ['--no-sandbox', '--host-resolver-rules=MAP rebind.test 127.0.0.1'] })])
    // As a person does: one visit to the printed login URL, then every page of the browser has the cookie.
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const login = await context.newPage()
    const landed = await login.goto(loginUrl(server.url, workspaceToken(home)))
    expect(landed?.status()).toBe(200)
    expect(new URL(login.url()).pathname).toBe('/')
    await login.close()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  async function open(path: string): Promise<Page> {
    const page = await context.newPage()
    const response = await page.goto(`${server.url}${path}`)
    expect(response?.status()).toBe(200)
    return page
  }

  it('compare: the overlaid equity chart is laid out, has one line per run, names them, and the metrics table shows the logged values', async () => {
    const page = await open(`/compare?runs=${runIds.join(',')}`)
    try {
      const chart = page.locator('svg[aria-label="equity curves"]')
      await expect(chart.count()).resolves.toBe(1)
      expect(await chart.isVisible()).toBe(true)
      const box = await chart.boundingBox()
      expect(box).not.toBeNull()
      expect(box!.width).toBeGreaterThan(100)
      expect(box!.height).toBeGreaterThan(50)

      // The legend: one swatch per run, in the order asked, each coloured as its line.
      const swatches = await page.locator('#equity-chart span[class$="-swatch"]').evaluateAll((spans) => spans.map((s) => ({ label: s.textContent?.trim(), fill: s.querySelector('svg')?.getAttribute('fill') })))
      expect(swatches.map((s) => s.label)).toEqual(['alpha', 'beta', 'gamma'])
      await expect(page.locator('#equity-chart').textContent()).resolves.toMatch(/alpha[\s\S]*beta[\s\S]*gamma/)

      // The lines: Plot draws a line mark as <g aria-label="line"> with one <path> per series.
      const lines = await chart.locator('g[aria-label="line"] path').evaluateAll((paths) => paths.map((p) => ({ d: p.getAttribute('d') ?? '', stroke: p.getAttribute('stroke'), length: (p as unknown as { getTotalLength(): number }).getTotalLength() })))
      expect(lines).toHaveLength(3)
      const byRun = new Map<string, number[][]>()
      for (const line of lines) {
        expect(line.d).toMatch(/^M/)
        expect(line.length).toBeGreaterThan(0)
        const owner = swatches.find((s) => s.fill === line.stroke)
        expect(owner, `a legend entry coloured ${line.stroke}`).toBeDefined()
        byRun.set(owner!.label!, vertices(line.d))
      }
      expect([...byRun.keys()].sort()).toEqual(['alpha', 'beta', 'gamma'])
      const [alpha, beta, gamma] = [byRun.get('alpha')!, byRun.get('beta')!, byRun.get('gamma')!]
      for (const v of [alpha, beta, gamma]) {
        expect(v).toHaveLength(N)
        // Daily bars on a time axis: the same first and last x for every run, equal steps between.
        expect(v[0]![0]).toBeCloseTo(alpha[0]![0]!, 2)
        expect(v[N - 1]![0]).toBeCloseTo(alpha[N - 1]![0]!, 2)
        const dx = (v[N - 1]![0]! - v[0]![0]!) / (N - 1)
        for (let i = 1; i < N; i++) expect(v[i]![0]! - v[i - 1]![0]!).toBeCloseTo(dx, 1)
      }
      // SVG y grows downwards: alpha's rise goes up the page, beta's fall down, at twice the pace (+980 vs
      // −490 on one linear y scale); gamma drops back to its start every 10th bar.
      for (let i = 1; i < N; i++) {
        expect(alpha[i]![1]).toBeLessThan(alpha[i - 1]![1]!)
        expect(beta[i]![1]).toBeGreaterThan(beta[i - 1]![1]!)
      }
      expect((alpha[N - 1]![1]! - alpha[0]![1]!) / (beta[N - 1]![1]! - beta[0]![1]!)).toBeCloseTo(-2, 2)
      expect(gamma[10]![1]).toBeCloseTo(gamma[0]![1]!, 2)
      expect(gamma[9]![1]).toBeLessThan(gamma[10]![1]!)
      expect(alpha[0]![1]).toBeCloseTo(beta[0]![1]!, 2)

      // The metrics table (after the "Metrics" heading): a row per metric, a column per run.
      const rows = await page.locator('h2:text-is("Metrics") + table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))
      const row = (metric: string) => rows.find((r) => r[0] === metric)?.slice(1)
      expect(row('sharpe')).toEqual(SHOWN.sharpe)
      expect(row('trades')).toEqual(SHOWN.trades)
      expect(row('equity')).toEqual(SHOWN.equity)
      await expect(page.locator('h2:text-is("Metrics") + table thead').textContent()).resolves.toBe('metricalphabetagamma')
    } finally {
      await page.close()
    }
  })

  it('notebook: XSS payloads in outputs and markdown stay inert, the CSP forbids scripts, the harmless text shows', async () => {
    const page = await context.newPage()
    try {
      const dialogs: string[] = []
      const cspMessages: string[] = []
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message())
        void dialog.dismiss()
      })
      page.on('console', (message) => {
        if (/content security policy/i.test(message.text())) cspMessages.push(message.text())
      })
      // Runs before the page's own markup (and, injected by the driver, outside the page's CSP).
      await page.addInitScript(() => {
        const g = globalThis as unknown as InPage
        g.__violations = []
        g.document.addEventListener('securitypolicyviolation', (e) => g.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
      })
      const response = await page.goto(`${server.url}/notebooks/xss-probe`)
      expect(response?.status()).toBe(200)
      const csp = (await response!.allHeaders())['content-security-policy'] ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self';")

      for (const text of ['Probe notebook', 'This paragraph is harmless.', 'harmless stdout line', 'bold result', 'html paragraph', 'second link']) {
        expect(await page.getByText(text).first().isVisible(), text).toBe(true)
      }
      await page.getByText('click', { exact: true }).click()
      await page.getByText('second link', { exact: true }).click()
      await page.waitForTimeout(150)
      expect(new URL(page.url()).pathname).toBe('/notebooks/xss-probe')

      const state = await page.evaluate(() => {
        const g = globalThis as unknown as InPage
        return { xss: g.__xss, violations: [...g.__violations], scripts: g.document.querySelectorAll('script:not([src^="/assets/mtflow."])').length, iframes: g.document.querySelectorAll('iframe').length }
      })
      expect(state.xss).toBeUndefined()
      expect(dialogs).toEqual([])
      expect(state.scripts).toBe(0)
      expect(state.iframes).toBe(0)
      // The sanitizer left the CSP nothing to block: no violation, no console report.
      expect(state.violations).toEqual([])
      expect(cspMessages).toEqual([])

      // And the CSP is in force should markup ever slip through: an inline script added now is refused.
      await page.evaluate(() => {
        const { document } = globalThis as unknown as InPage
        const s = document.createElement('script')
        s.textContent = 'window.__cspProbe = 1'
        document.body.append(s)
      })
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as InPage).__violations.length), { timeout: 15_000 }).toBeGreaterThan(0)
      expect(await page.evaluate(() => (globalThis as unknown as InPage).__cspProbe)).toBeUndefined()
      expect((await page.evaluate(() => (globalThis as unknown as InPage).__violations))[0]).toMatch(/^script-src/)
    } finally {
      await page.close()
    }
  })

  it('reads nothing through a name that resolves here (DNS rebinding), nor without the login', async () => {
    // Chromium resolves rebind.test to 127.0.0.1, as an attacker's domain would after rebinding.
    const page = await context.newPage()
    try {
      const rebound = await page.goto(`http://rebind.test:${server.port}/api/runs`)
      expect(rebound?.status()).toBe(403)
      expect(await rebound!.text()).not.toContain(runIds[0]!)
    } finally {
      await page.close()
    }
    const stranger = await browser.newPage()
    try {
      const refused = await stranger.goto(`${server.url}/runs/${runIds[0]}`)
      expect(refused?.status()).toBe(401)
      expect(await refused!.text()).not.toContain('equity')
    } finally {
      await stranger.close()
    }
  })

  it('every page is served under the same no-script CSP', async () => {
    const page = await context.newPage()
    try {
      for (const path of ['/', '/runs', `/runs/${runIds[0]}`, `/compare?runs=${runIds.join(',')}`, '/registry', '/notebooks/xss-probe']) {
        const response = await page.goto(`${server.url}${path}`)
        expect(response?.status(), path).toBe(200)
        expect((await response!.allHeaders())['content-security-policy'], path).toContain("default-src 'none'")
      }
    } finally {
      await page.close()
    }
  })
})

/**
 * What the in-page callbacks touch (they run in Chromium; tsc checks this file without the "dom" lib, as
 * lib/ is compiled, so the few DOM members are declared here).
 */
interface InPage {
  __xss?: unknown
  __cspProbe?: unknown
  __violations: string[]
  document: {
    scripts: { length: number }
    body: { append(node: unknown): void }
    querySelectorAll(selector: string): { length: number }
    createElement(tag: string): { textContent: string | null }
    addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void
  }
}

/** The vertices of an SVG path made of M and L commands ("M64,250L233,230.8…"), as [x, y]. */
function vertices(d: string): number[][] {
  expect(d).toMatch(/^M[-\d.,eL]+$/)
  return d
    .slice(1)
    .split('L')
    .map((pair) => pair.split(',').map(Number))
}
