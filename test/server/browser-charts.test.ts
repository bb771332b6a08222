// The run page's charts in headless Chromium with the app's script bundle (lib/server/assets/charts.js): hover the
// equity chart → a tip with the hand-computed date and value; drag to zoom narrows the x domain, the reset
// button restores it; a metric chart switches its x axis from step to time and smooths (debiased EMA, checked by
// hand at one point); the 7-digit y labels are inside the SVG as laid out; no CSP violation, no script error;
// without JavaScript the same page shows Plot's SVG as rendered.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { fmtUnit, type MetricUnit } from '../../lib/report/metric-units.js'
import { findChromium } from './chromium.js'

const executablePath = findChromium()
const DAY = 86_400_000
const MINUTE = 60_000
const T0 = Date.UTC(2024, 0, 1)

/** Equity 1,000,000 + 1,000 a day for 30 days (2024-01-01 … 2024-01-30). */
const equityCsv = ['time,equity', ...Array.from({ length: 30 }, (_, i) => `${new Date(T0 + i * DAY).toISOString()},${1_000_000 + 1_000 * i}`)].join('\n')

interface Frame {
  width: number
  height: number
  left: number
  right: number
  top: number
  bottom: number
}

describe.skipIf(executablePath === undefined)(`interactive charts in headless Chromium${executablePath === undefined ? ' (skipped: no Chromium)' : ''}`, () => {
  let home: string
  let server: Listening
  let browser: Browser
  let context: BrowserContext
  let runId: string
  const compareIds: string[] = []

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-browser-charts-'))
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'charts', name: 'probe', tags: { 'mtflow.kind': 'backtest' } })
    run.logArtifact({ name: 'equity.csv', data: `${equityCsv}\n` })
    // loss alternates 0, 1, 0, 1 … over steps 0…49, logged at i² minutes: its time axis is not its step axis.
    run.logBatch({ metrics: Array.from({ length: 50 }, (_, i) => ({ key: 'loss', value: i % 2, step: i, timestamp: T0 + i * i * MINUTE })) })
    run.end()
    runId = run.id
    // A 100k and a 1M run for the compare page: 100,000 → 110,000 → 99,000 and 1,000,000 → 1,050,000 → 1,100,000.
    for (const [name, curve] of [
      ['small', [100_000, 110_000, 99_000]],
      ['large', [1_000_000, 1_050_000, 1_100_000]],
    ] as const) {
      const r = tracker.startRun({ experiment: 'charts', name })
      r.logBatch({ metrics: curve.map((value, i) => ({ key: 'equity', value, step: i, timestamp: T0 + i * DAY })) })
      r.end()
      compareIds.push(r.id)
    }
    ;[server, browser] = await Promise.all([startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }), chromium.launch({ executablePath, args: ['--no-sandbox'] })])
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const login = await context.newPage()
    expect((await login.goto(loginUrl(server.url, workspaceToken(home))))?.status()).toBe(200)
    await login.close()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  /** The run page, with CSP violations, console CSP reports and script errors collected. */
  async function open(path = `/runs/${runId}`): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (/content security policy/i.test(m.text())) problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    await page.addInitScript(() => {
      const g = globalThis as any
      g.document.addEventListener('securitypolicyviolation', (e: any) => g.console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`))
    })
    const response = await page.goto(`${server.url}${path}`)
    expect(response?.status()).toBe(200)
    await page.waitForFunction(() => (globalThis as any).mtflow?.charts?.list?.length > 0)
    return { page, problems }
  }

  /** Where on the page a data x lands, at the vertical middle of the plot. */
  async function pointAt(box: Locator, x: number): Promise<{ x: number; y: number }> {
    await box.scrollIntoViewIfNeeded()
    const data = JSON.parse((await box.getAttribute('data-chart'))!) as { frame: Frame }
    const [x0, x1] = (await box.getAttribute('data-x-domain'))!.split(',').map(Number) as [number, number]
    const f = data.frame
    const bb = (await box.locator('svg[viewBox]').boundingBox())!
    const sx = f.left + ((x - x0) / (x1 - x0)) * (f.right - f.left)
    return { x: bb.x + (sx * bb.width) / f.width, y: bb.y + (((f.top + f.bottom) / 2) * bb.height) / f.height }
  }

  async function hover(page: Page, box: Locator, x: number): Promise<string> {
    const p = await pointAt(box, x)
    await page.mouse.move(p.x, p.y)
    const tip = box.locator('.mt-tip')
    await expect.poll(() => tip.isVisible(), { timeout: 15_000 }).toBe(true)
    return (await tip.textContent()) ?? ''
  }

  it('hover: a tip with the date and the equity of the nearest point', async () => {
    const { page, problems } = await open()
    try {
      const box = page.locator('#equity-chart')
      // Day 10 is 2024-01-11; its equity 1,000,000 + 10 × 1,000.
      const text = await hover(page, box, T0 + 10 * DAY)
      expect(text).toContain('2024-01-11')
      expect(text).toContain('1,010,000.00')
      // Half a day later is still nearest to day 10 … and just past it, day 11.
      expect(await hover(page, box, T0 + 10.4 * DAY)).toContain('2024-01-11')
      expect(await hover(page, box, T0 + 10.6 * DAY)).toContain('2024-01-12')
      // Off the chart the tip goes.
      await page.mouse.move(5, 5)
      await expect.poll(() => box.locator('.mt-tip').isVisible(), { timeout: 15_000 }).toBe(false)
      // The y labels (1,000,000 … 1,030,000) as laid out by the browser: none starts left of the SVG.
      const lefts = await box.locator('g.mt-y-ticks text').evaluateAll((texts) => texts.map((t: any) => ({ text: t.textContent, x: t.getBBox().x })))
      expect(lefts.length).toBeGreaterThan(2)
      expect(lefts.some((l) => /^1,0\d\d,000$/.test(l.text))).toBe(true)
      for (const l of lefts) expect(l.x, l.text).toBeGreaterThanOrEqual(0)
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('drag to zoom narrows the x domain; the tip still finds the right day; reset restores the whole span', async () => {
    const { page, problems } = await open()
    try {
      const box = page.locator('#equity-chart')
      const full = `${T0},${T0 + 29 * DAY}`
      expect(await box.getAttribute('data-x-domain')).toBe(full)
      const before = await box.locator('path.mt-series').getAttribute('d')
      const from = await pointAt(box, T0 + 5 * DAY)
      const to = await pointAt(box, T0 + 15 * DAY)
      await page.mouse.move(from.x, from.y)
      await page.mouse.down()
      await page.mouse.move((from.x + to.x) / 2, from.y, { steps: 3 })
      await page.mouse.move(to.x, to.y, { steps: 3 })
      await page.mouse.up()
      const [a, b] = (await box.getAttribute('data-x-domain'))!.split(',').map(Number) as [number, number]
      // Within a pixel (29 days over ~670 px: about an hour) of days 5 and 15.
      expect(Math.abs(a - (T0 + 5 * DAY))).toBeLessThan(DAY / 10)
      expect(Math.abs(b - (T0 + 15 * DAY))).toBeLessThan(DAY / 10)
      expect(await box.locator('path.mt-series').getAttribute('d')).not.toBe(before)
      const reset = box.locator('button.mt-reset')
      expect(await reset.isVisible()).toBe(true)
      expect(await hover(page, box, T0 + 8 * DAY)).toContain('1,008,000.00')
      await reset.click()
      expect(await box.getAttribute('data-x-domain')).toBe(full)
      expect(await reset.isVisible()).toBe(false)
      expect(await box.locator('path.mt-series').getAttribute('d')).toBe(before)
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('a metric chart switches its x axis to time and back, and smoothing changes the line (EMA checked by hand)', async () => {
    const { page, problems } = await open()
    try {
      const box = page.locator('.chart[data-chart]').filter({ has: page.locator('svg[aria-label="loss history"]') })
      expect(await box.getAttribute('data-x-axis')).toBe('step')
      expect(await box.getAttribute('data-x-domain')).toBe('0,49')
      expect(await box.locator('g.mt-x-ticks text').first().textContent()).toBe('0')
      await box.locator('select.mt-x-axis').selectOption('time')
      expect(await box.getAttribute('data-x-axis')).toBe('time')
      // Step 49 was logged at 49² = 2,401 minutes.
      expect(await box.getAttribute('data-x-domain')).toBe(`${T0},${T0 + 2401 * MINUTE}`)
      expect(await box.locator('g.mt-x-ticks text').first().textContent()).toMatch(/^\d\d:\d\d$/)
      await box.locator('select.mt-x-axis').selectOption('step')
      expect(await box.getAttribute('data-x-domain')).toBe('0,49')

      const raw = await box.locator('path.mt-series').getAttribute('d')
      await box.locator('input.mt-smoothing').evaluate((input: any) => {
        input.value = '0.5'
        input.dispatchEvent(new Event('input', { bubbles: true }))
      })
      const smoothed = await box.locator('path.mt-series').getAttribute('d')
      expect(smoothed).not.toBe(raw)
      // The raw line stays, faint, under the smoothed one.
      expect(await box.locator('path.mt-raw').count()).toBe(1)
      // Debiased EMA with weight 0.5 of 0, 1: s₀ = 0.5·0 / (1 − 0.5) = 0; s₁ = (0.5·0 + 0.5·1) / (1 − 0.25) = 0.6667.
      const text = await hover(page, box, 1)
      expect(text).toContain('step 1')
      expect(text).toContain('0.6667 (raw 1)')
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('compare: the tip names each run with its rebased equity', async () => {
    const { page, problems } = await open(`/compare?runs=${compareIds.join(',')}`)
    try {
      // Day 1: 110,000 / 100,000 = 1.1 and 1,050,000 / 1,000,000 = 1.05.
      const text = await hover(page, page.locator('#equity-chart'), T0 + DAY)
      expect(text).toContain('2024-01-02')
      expect(text).toContain('small: 1.1')
      expect(text).toContain('large: 1.05')
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it("mtflow.fmtUnit (core.js, used by the chart tips and the sweep readout) writes what the server's fmtUnit writes, unit by unit", async () => {
    const { page, problems } = await open()
    try {
      const units: MetricUnit[] = ['percent', 'ratio', 'count', 'money', 'bars', 'duration', 'number']
      const values = [0, -0, 0.1234, -0.00049, 1, 2.5, 12, 999.99, 1234.5678, -1_234_567.891, 0.000012345, 1e15 + 2, 850, 12_500, 245_000, 12_000_000, 270_000_000, -90_061_000, NaN, Infinity, -Infinity]
      const browser = await page.evaluate(({ units, values }) => units.map((u) => values.map((v) => (globalThis as any).mtflow.fmtUnit(u, v))), { units, values })
      expect(browser).toEqual(units.map((u) => values.map((v) => fmtUnit(u, v))))
      // A few by hand, so both cannot be wrong together.
      const hand = await page.evaluate(() => {
        const f = (globalThis as any).mtflow.fmtUnit
        return [f('percent', 0.1234), f('money', -1234.5), f('count', 1234), f('duration', 245_000), f('duration', 270_000_000), f('number', 1234.5678), f('number', 0.00123456), f('bars', 3), f('number', '2.5'), f('number', null)]
      })
      expect(hand).toEqual(['12.34 %', '-1,234.50', '1,234', '4 min 5 s', '3 d 3 h', '1,234.57', '0.001235', '3 bars', '2.5', ''])
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('without JavaScript the page shows the server-rendered charts as they are', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } })
    try {
      const login = await plain.newPage()
      await login.goto(loginUrl(server.url, workspaceToken(home)))
      const response = await login.goto(`${server.url}/runs/${runId}`)
      expect(response?.status()).toBe(200)
      const chart = login.locator('#equity-chart svg[aria-label="equity"]')
      expect(await chart.isVisible()).toBe(true)
      const line = chart.locator('g[aria-label="line"] path')
      expect(await line.isVisible()).toBe(true)
      expect(await line.evaluate((p: any) => p.getTotalLength())).toBeGreaterThan(100)
      expect(await login.locator('.mt-tip, .mt-chart-tools').count()).toBe(0)
      // The monthly table is there too (one month: no return in January's first day … 30 days, +2.90 %).
      expect(await login.locator('table.monthly-returns tbody tr').count()).toBe(1)
    } finally {
      await plain.close()
    }
  })
})
