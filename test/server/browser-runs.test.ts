// The runs list in headless Chromium (playwright-core): sorting by a header click, folding a sweep's child
// rows open and shut, the column chooser (and its memory across visits), the filter box, ticking two runs
// and comparing them; the same page without JavaScript; the CSP holding against hostile run names and tags;
// and a layout that does not widen the page at 900 and 1600 px. Skipped when no Chromium is installed.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { findChromium } from './chromium.js'

const executablePath = findChromium()
const HOSTILE_NAME = '<img src=x onerror=window.__xss=1>'
const HOSTILE_TAG = '<script>window.__xss=2</script>'
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 2)

/** The elements reaching past the window's right edge (a failure's diagnosis). */
const WIDER = `(() => { const out = []; for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect(); if (r.right > innerWidth + 1 && !el.closest('table')) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right)) } return out.slice(0, 12) })()`

interface InPage {
  __xss?: unknown
  __violations: string[]
  mtflow?: unknown
  document: { addEventListener(type: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void; body: { insertAdjacentHTML(where: string, html: string): void } }
  innerWidth: number
}

describe.skipIf(executablePath === undefined)(`the runs list in headless Chromium${executablePath === undefined ? ' (skipped: no Chromium; set CHROMIUM_PATH)' : ''}`, () => {
  let home: string
  let server: Listening
  let browser: Browser
  let context: BrowserContext
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-browser-runs-'))
    const tracker = new Tracker(home)
    const make = (name: string, sharpe: number | undefined, params: Record<string, string | number>, tags: Record<string, string> = {}) => {
      const run = tracker.startRun({ experiment: 'lab', name, params, tags })
      if (sharpe !== undefined) run.logMetrics({ sharpe })
      run.logBatch({ metrics: Array.from({ length: 20 }, (_, i) => ({ key: 'equity', value: 10_000 + i * (sharpe ?? 0) * 10, step: i, timestamp: T0 + i * DAY })) })
      run.end()
      return run.id
    }
    // sharpe: gamma 2.5 > alpha 1.5 > beta 0.5 > the hostile run 0.1; the sweep has none (last either way).
    ids.alpha = make('alpha', 1.5, { fast: 10 }, { note: 'first' })
    ids.beta = make('beta', 0.5, { fast: 20 }, { note: 'second' })
    ids.gamma = make('gamma', 2.5, { fast: 5 }, { note: 'third' })
    ids.hostile = make(HOSTILE_NAME, 0.1, { fast: 1 }, { note: HOSTILE_TAG })
    ids.grid = make('grid', undefined, { strategy: 'sma' }, { 'mtflow.kind': 'sweep' })
    tracker.logChildRuns(ids.grid, [1, 2, 3].map((k) => ({ name: `grid-${k}`, params: { fast: k }, metrics: { sharpe: k / 10 }, startTime: T0, endTime: T0 + 1000 })))
    // A run whose name and params would widen a page that does not contain its tables.
    const wide = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`parameter_with_a_long_name_${i}`, `value-${'x'.repeat(30)}-${i}`]))
    ids.wide = make(`wide-${'w'.repeat(120)}`, 1, wide)
    // 62 params: more than the 60 columns a view shows.
    const many = tracker.startRun({ experiment: 'many', name: 'many-params', params: Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`p${String(i).padStart(2, '0')}`, i])) })
    many.end()
    // A study whose trial has folds of its own: study → trial-1 → fold-a, fold-b; and trial-2.
    const study = tracker.startRun({ experiment: 'nested', name: 'study' })
    study.end()
    ids.study = study.id
    const trial = tracker.startRun({ experiment: 'nested', name: 'trial-1', parentRunId: study.id })
    trial.end()
    ids.trial = trial.id
    for (const f of ['fold-a', 'fold-b']) tracker.startRun({ experiment: 'nested', name: f, parentRunId: trial.id }).end()
    tracker.startRun({ experiment: 'nested', name: 'trial-2', parentRunId: study.id }).end()
    // Runs to delete and restore.
    for (const name of ['doomed', 'spare-1', 'spare-2', 'keeper']) {
      const run = tracker.startRun({ experiment: 'life', name })
      run.end()
      ids[name] = run.id
    }
    new Registry(home).register('strategies', 'sma', { files: { 'source.ts': `export const line = "${'y'.repeat(400)}"` } })
    ;[server, browser] = await Promise.all([startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }), chromium.launch({ executablePath, args: ['--no-sandbox'] })])
    context = await newContext(true)
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  /** A browser context logged in once through the printed login URL, as a person does. */
  async function newContext(javaScriptEnabled: boolean, width = 1280): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: { width, height: 900 }, javaScriptEnabled })
    const login = await ctx.newPage()
    expect((await login.goto(loginUrl(server.url, workspaceToken(home))))?.status()).toBe(200)
    await login.close()
    return ctx
  }

  async function open(path: string, ctx = context): Promise<Page> {
    const page = await ctx.newPage()
    const response = await page.goto(`${server.url}${path}`)
    expect(response?.status(), path).toBe(200)
    return page
  }

  /** Run names of the table's top-level rows, top to bottom. */
  const names = (page: Page) => page.locator('table.runs tbody tr[data-run]:not(.child-row) td:nth-child(2) a').allTextContents()

  it('sorts by a column when its header is clicked: sharpe descending, then ascending; the run without one last', async () => {
    const page = await open('/runs?experiment=lab&cols=metrics.sharpe')
    try {
      await page.locator('th a.sort', { hasText: 'metrics.sharpe' }).click()
      await page.waitForURL(/sort=metrics.sharpe/)
      expect(new URL(page.url()).searchParams.get('dir')).toBe('desc')
      expect((await names(page)).filter((n) => !n.startsWith('wide'))).toEqual(['gamma', 'alpha', 'beta', HOSTILE_NAME, 'grid'])
      await page.locator('th a.sort', { hasText: 'metrics.sharpe' }).click()
      await page.waitForURL(/dir=asc/)
      expect((await names(page)).filter((n) => !n.startsWith('wide'))).toEqual([HOSTILE_NAME, 'beta', 'alpha', 'gamma', 'grid'])
    } finally {
      await page.close()
    }
  })

  it("folds a sweep's child rows open under it and shut again", async () => {
    const page = await open('/runs?experiment=lab&cols=params.fast,metrics.sharpe')
    try {
      const children = page.locator(`tr.child-row[data-parent="${ids.grid}"]`)
      const toggle = page.locator(`tr[data-run="${ids.grid}"] button.fold`)
      await expect(children.count()).resolves.toBe(0)
      expect(await toggle.getAttribute('aria-expanded')).toBe('false')
      await toggle.click()
      await children.first().waitFor()
      expect(await children.locator('td:nth-child(2) a').allTextContents()).toEqual(['grid-1', 'grid-2', 'grid-3'])
      // The same columns as the table: its last two are fast and sharpe.
      // (sharpe is a ratio: two decimals.)
      expect(await children.first().locator('td').evaluateAll((tds) => tds.slice(-2).map((td) => td.textContent))).toEqual(['1', '0.10'])
      // They sit right under their parent.
      const order = await page.locator('table.runs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run')))
      const at = order.indexOf(ids.grid!)
      expect(order.slice(at + 1, at + 4).length).toBe(3)
      expect(await toggle.getAttribute('aria-expanded')).toBe('true')
      await toggle.click()
      await expect(children.count()).resolves.toBe(0)
    } finally {
      await page.close()
    }
  })

  it('folding a study shuts its trials and their folds too: unfold study, unfold trial-1, fold study', async () => {
    const page = await open('/runs?experiment=nested')
    try {
      const rowNames = () => page.locator('table.runs tbody tr[data-run] td:nth-child(2) a').allTextContents()
      expect(await rowNames()).toEqual(['study'])
      await page.locator(`tr[data-run="${ids.study}"] button.fold`).click()
      await page.locator(`tr.child-row[data-run="${ids.trial}"]`).waitFor()
      expect((await rowNames()).sort()).toEqual(['study', 'trial-1', 'trial-2'])
      await page.locator(`tr[data-run="${ids.trial}"] button.fold`).click()
      await page.locator(`tr.child-row[data-parent="${ids.trial}"]`).first().waitFor()
      expect((await rowNames()).sort()).toEqual(['fold-a', 'fold-b', 'study', 'trial-1', 'trial-2'])
      await page.locator(`tr[data-run="${ids.study}"] button.fold`).click()
      await expect.poll(rowNames, { timeout: 15_000 }).toEqual(['study'])
      expect(await page.locator('tr.child-row').count()).toBe(0)
      // Unfolding again shows the trials folded (their folds are not left behind or duplicated).
      await page.locator(`tr[data-run="${ids.study}"] button.fold`).click()
      await page.locator(`tr.child-row[data-run="${ids.trial}"]`).waitFor()
      expect((await rowNames()).sort()).toEqual(['study', 'trial-1', 'trial-2'])
    } finally {
      await page.close()
    }
  })

  it('the column chooser stops at 60 ticks; a longer remembered choice shows 60 with a note; one that lands on an error page is forgotten', async () => {
    const ctx = await newContext(true)
    const cols = Array.from({ length: 62 }, (_, i) => `params.p${String(i).padStart(2, '0')}`)
    const page = await open(`/runs?experiment=many&cols=${cols.slice(0, 59).join(',')}`, ctx)
    try {
      await page.locator('[data-col-chooser] summary').click()
      expect(await page.locator('[data-col-chooser] input[type=checkbox]:disabled').count()).toBe(0)
      // The 60th tick applies; then every unticked box is disabled, the ticked ones still untick.
      await Promise.all([page.waitForURL((u) => (u.searchParams.get('cols') ?? '').split(',').length === 60), page.locator('[data-col-chooser] input[value="params.p59"]').check()])
      await page.locator('[data-col-chooser] summary').click()
      expect(await page.locator('[data-col-chooser] input[value^="params."]:disabled').evaluateAll((els) => els.map((e) => e.getAttribute('value')))).toEqual(['params.p60', 'params.p61'])
      expect(await page.locator('[data-col-chooser] input[value="params.p00"]').isDisabled()).toBe(false)
      expect(await page.locator('table.runs thead th').count()).toBe(1 + 5 + 1 + 60)
      // A choice of 62 remembered (by an older version, or edited): the page shows 60 and says so, no error.
      await page.evaluate((c) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('mtflow:cols:many', JSON.stringify(c)), cols)
      await page.goto(`${server.url}/runs?experiment=many`)
      await page.waitForURL(/cols=/)
      expect(await page.locator('.error-box').count()).toBe(0)
      expect(await page.locator('[data-cols-dropped]').getAttribute('data-cols-dropped')).toBe('2')
      expect(await page.locator('table.runs thead th').count()).toBe(1 + 5 + 1 + 60)
      // A remembered choice the server refuses: the 400 page has a reset link, and the choice is forgotten.
      await page.evaluate(() => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('mtflow:cols:many', JSON.stringify(['bogus'])))
      const refused = page.waitForResponse((r) => r.url().includes('cols=bogus'))
      await page.goto(`${server.url}/runs?experiment=many`)
      expect((await refused).status()).toBe(400)
      await page.locator('[data-runs-error]').waitFor()
      expect(await page.locator('a[data-cols-reset]').textContent()).toBe('Reset to the default view')
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('mtflow:cols:many')), { timeout: 15_000 }).toBeNull()
      await page.locator('a[data-cols-reset]').click()
      await page.waitForURL((u) => u.pathname === '/runs' && !u.searchParams.has('cols'))
      expect(await page.locator('table.runs').count()).toBe(1)
      expect(new URL(page.url()).searchParams.has('cols')).toBe(false)
    } finally {
      await ctx.close()
    }
  })

  it('deletes a run from its page with a reason, finds it in the deleted runs, restores it; deletes two ticked runs from the list', async () => {
    const page = await open(`/runs/${ids.doomed}`)
    try {
      await page.locator('details.run-action summary').click()
      // The reason is required: an empty one is not sent.
      await page.locator('form[data-run-action=delete] button[type=submit]').click()
      expect(await page.locator('[data-deleted-banner]').count()).toBe(0)
      await page.locator('form[data-run-action=delete] input[name=reason]').fill('duplicate of keeper')
      await Promise.all([page.waitForLoadState('load'), page.locator('form[data-run-action=delete] button[type=submit]').click()])
      await page.locator('[data-deleted-banner]').waitFor()
      expect(new URL(page.url()).pathname).toBe(`/runs/${ids.doomed}`)
      expect(await page.locator('[data-deleted-banner]').textContent()).toContain('reason: duplicate of keeper')
      // Gone from the list; in the deleted runs, reached from the banner.
      await page.locator('[data-deleted-banner] a', { hasText: 'the deleted runs' }).click()
      await page.waitForURL(/lifecycle=deleted/)
      expect(await page.locator('table.runs tbody tr[data-run] td:nth-child(2) a').allTextContents()).toContain('doomed')
      await page.locator(`tr[data-run="${ids.doomed}"] td:nth-child(2) a`).click()
      await page.waitForURL(new RegExp(`/runs/${ids.doomed}$`))
      await Promise.all([page.waitForLoadState('load'), page.locator('form[data-run-action=restore] button[type=submit]').click()])
      await page.locator('details.run-action').waitFor()
      expect(await page.locator('[data-deleted-banner]').count()).toBe(0)
      await page.goto(`${server.url}/runs?experiment=life`)
      expect((await names(page)).sort()).toEqual(['doomed', 'keeper', 'spare-1', 'spare-2'])
      // The list: Delete… waits for a tick, then confirms the ticked runs with a reason.
      const del = page.locator('[data-delete-button]')
      expect(await del.isDisabled()).toBe(true)
      await page.locator(`input[name=runs][value="${ids['spare-1']}"]`).check()
      await page.locator(`input[name=runs][value="${ids['spare-2']}"]`).check()
      expect(await del.textContent()).toBe('Delete 2 runs…')
      await Promise.all([page.waitForURL(/\/runs\/actions\/confirm-delete$/), del.click()])
      expect(await page.locator('h1').textContent()).toBe('Delete 2 run(s)?')
      await page.locator('form[data-run-action=delete] input[name=reason]').fill('spares')
      await Promise.all([page.waitForURL((u) => u.pathname === '/runs'), page.locator('form[data-run-action=delete] button[type=submit]').click()])
      await page.goto(`${server.url}/runs?experiment=life`)
      expect((await names(page)).sort()).toEqual(['doomed', 'keeper'])
    } finally {
      await page.close()
    }
  })

  it('ticking two runs enables the Compare button at the top of the table, which lands on /compare with both', async () => {
    const page = await open('/runs?experiment=lab')
    try {
      const button = page.locator('[data-compare-button]')
      expect(await button.isDisabled()).toBe(true)
      // Above the table, not 7,000 pixels below it.
      expect((await button.boundingBox())!.y).toBeLessThan((await page.locator('table.runs').boundingBox())!.y)
      // And it stays in view while the table scrolls under it.
      expect(await page.locator('.compare-bar').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(el).position)).toBe('sticky')
      await page.locator(`input[name=runs][value="${ids.alpha}"]`).check()
      expect(await button.isDisabled()).toBe(true)
      await page.locator(`input[name=runs][value="${ids.beta}"]`).check()
      expect(await button.isDisabled()).toBe(false)
      expect(await button.textContent()).toBe('Compare 2 runs')
      await button.click()
      await page.waitForURL(/\/compare\?/)
      expect(new URL(page.url()).searchParams.getAll('runs').sort()).toEqual([ids.alpha, ids.beta].sort())
      const text = await page.locator('main').textContent()
      expect(text).toContain('alpha')
      expect(text).toContain('beta')
    } finally {
      await page.close()
    }
  })

  it('filters through the box (Enter submits); a malformed filter is shown inline with its position', async () => {
    const page = await open('/runs?experiment=lab')
    try {
      await page.locator('form.search input[name=filter]').fill('metrics.sharpe > 1 and metrics.sharpe < 2')
      await page.locator('form.search input[name=filter]').press('Enter')
      await page.waitForURL(/filter=/)
      expect(await names(page)).toEqual(['alpha']) // wide's sharpe is 1: not > 1
      await page.locator('form.search input[name=filter]').fill('metrics.sharpe >')
      await page.locator('form.search input[name=filter]').press('Enter')
      await page.locator('.error-box').waitFor()
      expect(await page.locator('.error-box').textContent()).toMatch(/\^/)
      expect(await page.locator('form.search input[name=filter]').inputValue()).toBe('metrics.sharpe >')
    } finally {
      await page.close()
    }
  })

  it('the column chooser: a tick shows the column at once, and the choice comes back on the next visit', async () => {
    const ctx = await newContext(true)
    const page = await open('/runs?experiment=lab', ctx)
    try {
      expect(await page.locator('table.runs thead th', { hasText: 'tags.note' }).count()).toBe(0)
      await page.locator('[data-col-chooser] summary').click()
      await page.locator('[data-col-chooser] input[value="tags.note"]').check()
      await page.waitForURL(/cols=/)
      expect(await page.locator('table.runs thead th', { hasText: 'tags.note' }).count()).toBe(1)
      const row = page.locator(`tr[data-run="${ids.alpha}"]`)
      expect(await row.locator('td').last().textContent()).toBe('first')
      // A later visit without cols= gets the remembered columns (localStorage, per experiment).
      await page.goto(`${server.url}/runs?experiment=lab`)
      await page.waitForURL(/cols=/)
      expect(await page.locator('table.runs thead th', { hasText: 'tags.note' }).count()).toBe(1)
      // The default columns link forgets the choice.
      await page.locator('[data-col-chooser] summary').click()
      await page.locator('[data-cols-reset]').click()
      await page.waitForLoadState()
      await page.goto(`${server.url}/runs?experiment=lab`)
      expect(new URL(page.url()).searchParams.has('cols')).toBe(false)
      expect(await page.locator('table.runs thead th', { hasText: 'tags.note' }).count()).toBe(0)
    } finally {
      await ctx.close()
    }
  })

  it('without JavaScript the runs are all there: headers sort by link, counts link to the sweep, Compare submits', async () => {
    const ctx = await newContext(false)
    const page = await open('/runs?experiment=lab&cols=metrics.sharpe', ctx)
    try {
      expect((await names(page)).length).toBe(6)
      expect(await page.locator('button.fold').count()).toBe(0)
      expect(await page.locator(`tr[data-run="${ids.grid}"] a.child-count`).getAttribute('href')).toBe(`/runs/${ids.grid}`)
      await page.locator('th a.sort', { hasText: 'metrics.sharpe' }).click()
      await page.waitForURL(/sort=metrics.sharpe/)
      expect((await names(page))[0]).toBe('gamma')
      expect(await page.locator('[data-compare-button]').isDisabled()).toBe(false)
      await page.locator(`input[name=runs][value="${ids.gamma}"]`).check()
      await page.locator(`input[name=runs][value="${ids.beta}"]`).check()
      await page.locator('[data-compare-button]').click()
      await page.waitForURL(/\/compare\?/)
      expect(new URL(page.url()).searchParams.getAll('runs').sort()).toEqual([ids.gamma, ids.beta].sort())
    } finally {
      await ctx.close()
    }
  })

  it('the CSP holds: a hostile run name and tag stay text, the bundle runs, and an inline handler injected later is refused', async () => {
    const page = await context.newPage()
    const cspMessages: string[] = []
    page.on('console', (message) => {
      if (/content security policy/i.test(message.text())) cspMessages.push(message.text())
    })
    try {
      await page.addInitScript(() => {
        const g = globalThis as unknown as InPage
        g.__violations = []
        g.document.addEventListener('securitypolicyviolation', (e) => g.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
      })
      expect((await page.goto(`${server.url}/runs?experiment=lab&cols=tags.note`))?.status()).toBe(200)
      await page.waitForLoadState('load')
      expect(await page.locator(`tr[data-run="${ids.hostile}"] td:nth-child(2) a`).textContent()).toBe(HOSTILE_NAME)
      expect(await page.locator(`tr[data-run="${ids.hostile}"] td`).last().textContent()).toBe(HOSTILE_TAG)
      const before = await page.evaluate(() => {
        const g = globalThis as unknown as InPage
        return { xss: g.__xss, bundle: typeof g.mtflow, violations: [...g.__violations] }
      })
      expect(before).toEqual({ xss: undefined, bundle: 'object', violations: [] })
      expect(cspMessages).toEqual([])
      // Should markup ever slip through, the CSP refuses it: an inline handler added now does not run.
      await page.evaluate(() => (globalThis as unknown as InPage).document.body.insertAdjacentHTML('beforeend', '<img src="/favicon.ico?x" onload="window.__xss=3"><img src="data:," onerror="window.__xss=4">'))
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as InPage).__violations.length), { timeout: 15_000 }).toBeGreaterThan(0)
      expect(await page.evaluate(() => (globalThis as unknown as InPage).__xss)).toBeUndefined()
      expect((await page.evaluate(() => (globalThis as unknown as InPage).__violations))[0]).toMatch(/^script-src/)
    } finally {
      await page.close()
    }
  })

  it('the layout holds at 900 and 1600 px: nothing widens the page, wide tables scroll inside their box', async () => {
    const page = await context.newPage()
    try {
      for (const width of [900, 1600]) {
        await page.setViewportSize({ width, height: 900 })
        for (const path of ['/', '/runs', `/runs/${ids.wide}`, '/registry', '/registry/strategies/sma', `/compare?runs=${ids.alpha},${ids.wide}`]) {
          expect((await page.goto(`${server.url}${path}`))?.status(), path).toBe(200)
          const size = await page.evaluate(() => {
            const g = globalThis as unknown as InPage & { document: { documentElement: { scrollWidth: number } } }
            return { scroll: g.document.documentElement.scrollWidth, inner: g.innerWidth }
          })
          if (size.scroll > size.inner) console.log(path, width, await page.evaluate(WIDER))
          expect(size.scroll, `${path} at ${width}px`).toBeLessThanOrEqual(size.inner)
        }
        // The wide runs table does scroll, inside its box, at 900 px.
        if (width === 900) {
          await page.goto(`${server.url}/runs?experiment=lab`)
          const box = await page.locator('.scroll:has(table.runs)').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }))
          expect(box.scroll).toBeGreaterThan(box.client)
        }
      }
    } finally {
      await page.close()
    }
  })
})
