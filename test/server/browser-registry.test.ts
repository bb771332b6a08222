// Registry changes and artifact previews in a real browser (headless Chromium, playwright-core): logged in
// through the printed login URL, a person sets an alias from the entry page's form with a reason and sees
// the alias and the audit entry on the page it lands on; the same with JavaScript off; a CSV artifact shows
// as a table whose hostile cells stay text; no page breaks its CSP. Skipped without Chromium.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { artifactViewUrl } from '../../lib/server/artifact-pages.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { findChromium } from './chromium.js'

const executablePath = findChromium()

interface InPage {
  __violations: string[]
  __xss?: number
  document: { addEventListener(type: string, listener: (e: { violatedDirective: string; blockedURI: string }) => void): void }
}

describe.skipIf(executablePath === undefined)(`registry and artifacts in headless Chromium${executablePath === undefined ? ' (skipped: no Chromium; set CHROMIUM_PATH)' : ''}`, () => {
  let home: string
  let server: Listening
  let browser: Browser
  let runId: string
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-browser-registry-'))
    const registry = new Registry(home)
    registry.register('strategies', 'probe', { files: { 'source.ts': 'export const v = 1\n' } })
    registry.register('strategies', 'probe', { files: { 'source.ts': 'export const v = 2\n' } })
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'browser', name: 'with artifacts' })
    run.logArtifact({ name: 'trades.csv', data: 'symbol,pnl,note\nBTC,12.5,<img src=x onerror="window.__xss=1">\nETH,-3,"=HYPERLINK(""http://evil.example"")"\nSOL,0\n' })
    run.end()
    runId = run.id
    ;[server, browser] = await Promise.all([startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }), chromium.launch({ executablePath, args: ['--no-sandbox'] })])
  }, 60_000)
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined)
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  /** A browser context logged in as a person does: one visit to the printed login URL. */
  async function loggedIn(javaScriptEnabled: boolean): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled })
    contexts.push(context)
    const login = await context.newPage()
    const landed = await login.goto(loginUrl(server.url, workspaceToken(home)))
    expect(landed?.status()).toBe(200)
    await login.close()
    return context
  }

  /** A page that records CSP violations and console CSP messages from its first byte. */
  async function watched(context: BrowserContext): Promise<{ page: Page; violations: () => Promise<string[]>; messages: string[] }> {
    const page = await context.newPage()
    const messages: string[] = []
    page.on('console', (m) => {
      if (/content security policy/i.test(m.text())) messages.push(m.text())
    })
    await page.addInitScript(() => {
      const g = globalThis as unknown as InPage
      g.__violations = []
      g.document.addEventListener('securitypolicyviolation', (e) => g.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    return { page, messages, violations: () => page.evaluate(() => (globalThis as unknown as InPage).__violations ?? []) }
  }

  async function setAlias(page: Page, alias: string, version: string, reason: string): Promise<void> {
    const form = page.locator('form[data-registry-action="alias"]')
    await form.locator('input[name="alias"]').fill(alias)
    await form.locator('select[name="version"]').selectOption(version)
    await form.locator('input[name="reason"]').fill(reason)
    await Promise.all([page.waitForURL(`${server.url}/registry/strategies/probe`), form.locator('button[type="submit"]').click()])
  }

  it('sets an alias from the entry page with a reason: the page it lands on shows the alias and the audit entry; the CSP holds', async () => {
    const context = await loggedIn(true)
    const { page, violations, messages } = await watched(context)
    try {
      const response = await page.goto(`${server.url}/registry/strategies/probe`)
      expect(response?.status()).toBe(200)
      // The bundle only: no inline script could run on this page.
      const csp = (await response!.allHeaders())['content-security-policy'] ?? ''
      expect(csp).toMatch(/script-src 'self'(;|$)/)
      expect(csp.split(';').find((d) => d.trim().startsWith('script-src'))).not.toContain('unsafe')
      // The script bundle ran (the reason counter is registry.js's).
      await page.locator('form[data-registry-action="alias"] input[name="reason"]').fill('abc')
      await expect(page.locator('form[data-registry-action="alias"] .reason-count').textContent()).resolves.toBe(' 3/500')
      // A reason is required: the browser does not send the form without one (nothing changes).
      await page.locator('form[data-registry-action="alias"] input[name="reason"]').fill('')
      await page.locator('form[data-registry-action="alias"] input[name="alias"]').fill('champion')
      await page.locator('form[data-registry-action="alias"] button[type="submit"]').click()
      expect(new Registry(home).entry('strategies', 'probe').aliases).toEqual({})

      await setAlias(page, 'champion', '1', 'beat v2 out of sample <b>really</b>')
      const versions = await page.locator('h1 + table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))
      expect(versions.map((r) => [r[0], r[3]])).toEqual([
        ['v1', 'champion'],
        ['v2', ''],
      ])
      const audit = await page.locator('h2:text-is("Audit log") + table tbody tr').first().evaluate((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))
      expect(audit.slice(2)).toEqual(['alias champion', '1', '', '1', 'beat v2 out of sample <b>really</b>'])
      expect(await page.locator('main b').count()).toBe(0)
      expect(new Registry(home).entry('strategies', 'probe').aliases).toEqual({ champion: 1 })
      expect(await violations()).toEqual([])
      expect(messages).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('without JavaScript the form works the same (a plain POST and a 303 back)', async () => {
    const context = await loggedIn(false)
    const { page } = await watched(context)
    try {
      await page.goto(`${server.url}/registry/strategies/probe`)
      await setAlias(page, 'champion', '2', 'moved without script')
      const row = await page.locator('h1 + table tbody tr').nth(1).evaluate((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))
      expect([row[0], row[3]]).toEqual(['v2', 'champion'])
      const audit = await page.locator('h2:text-is("Audit log") + table tbody tr').first().evaluate((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))
      expect(audit.slice(2)).toEqual(['alias champion', '2', '1', '2', 'moved without script'])
    } finally {
      await page.close()
    }
  })

  it('a CSV artifact shows as a table; hostile cells stay text; no CSP violation', async () => {
    const context = await loggedIn(true)
    const { page, violations } = await watched(context)
    try {
      const response = await page.goto(`${server.url}${artifactViewUrl(runId, 'trades.csv')}`)
      expect(response?.status()).toBe(200)
      const head = await page.locator('.artifact-table thead th').allTextContents()
      expect(head).toEqual(['#', 'symbol', 'pnl', 'note'])
      const rows = await page.locator('.artifact-table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))
      expect(rows).toEqual([
        ['1', 'BTC', '12.5', '<img src=x onerror="window.__xss=1">'],
        ['2', 'ETH', '-3', '=HYPERLINK("http://evil.example")'],
        ['3', 'SOL', '0', ''],
      ])
      expect(await page.locator('.artifact-table img, .artifact-table a').count()).toBe(0)
      expect(await page.evaluate(() => (globalThis as unknown as InPage).__xss)).toBeUndefined()
      const box = await page.locator('.artifact-table').boundingBox()
      expect(box!.width).toBeLessThanOrEqual(1280)
      expect(await violations()).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('a published dashboard is sandboxed: its form cannot post to the API even when it sets its own referrer policy, and its meta refresh sends no one away (second attack review)', async () => {
    const registry = new Registry(home)
    registry.register('strategies', 'target', { files: { 'source.ts': 'export const v = 1\n' } })
    const form = `<form method="post" action="/api/registry/strategies/target/aliases" enctype="text/plain"><input type="hidden" name='{"alias":"evil","version":1,"reason":"x","pad":"' value='"}'><button id="b" style="font-size:40px">Show details</button></form>`
    registry.register('dashboards', 'evil', { files: { 'index.html': `<!doctype html><html><head><meta name="referrer" content="unsafe-url"><title>d</title></head><body><h1>Quarterly</h1>${form}</body></html>` } })
    registry.register('dashboards', 'away', { files: { 'index.html': '<!doctype html><html><head><META HTTP-EQUIV="refresh" content="0;url=/runs"><title>d</title></head><body><h1>Stay</h1></body></html>' } })
    const context = await loggedIn(true)
    const page = await context.newPage()
    try {
      const shown = await page.goto(`${server.url}/dashboards/evil`)
      expect(shown?.headers()['content-security-policy']).toMatch(/; sandbox allow-scripts allow-same-origin$/)
      await page.click('#b', { timeout: 5_000 }).catch(() => undefined) // a sandbox without allow-forms submits nothing
      await page.waitForTimeout(500)
      expect(new Registry(home).entry('strategies', 'target').aliases).toEqual({})
      // The app's script runs, and the site header's links open pages logged in (a review: with an opaque
      // origin no cookie went with them, and every link out of a dashboard met the login page).
      expect(await page.evaluate(() => typeof (globalThis as { mtflow?: unknown }).mtflow)).toBe('object')
      const [runs] = await Promise.all([page.waitForNavigation(), page.click('header.site a[href="/runs"]')])
      expect(runs?.status()).toBe(200)
      expect(new URL(page.url()).pathname).toBe('/runs')
      await page.goto(`${server.url}/dashboards/away`)
      await page.waitForTimeout(1_500)
      expect(new URL(page.url()).pathname).toBe('/dashboards/away')
      expect(await page.textContent('h1')).toBe('Stay')
    } finally {
      await page.close()
    }
  })
})
