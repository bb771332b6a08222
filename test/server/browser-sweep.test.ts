// A sweep parent's page in headless Chromium: the heatmap and the parallel coordinates laid out and
// painted (non-zero boxes, one rect per cell, one painted line per child run), the best cell outlined
// over the right cell, and the GET form re-rendering the grid for other axes — with JavaScript and
// without it; and a random study's float parameters binned into ranges (labels inside the chart, the
// readout naming the ranges and the value in its unit, the bin count changed through the form). Skipped
// when no Chromium is installed.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { findChromium } from './chromium.js'

const executablePath = findChromium()

// sharpe = fast / 10 + slow / 100 for fast ∈ {5, 10, 20, 40}, slow ∈ {30, 50, 100}, stop ∈ {1, 2}, minus 1 when
// stop = 1: the best run is fast=40, slow=100, stop=2 (4 + 1 = 5), the grid by default 4 × 3 at stop = 2.
const FAST = [5, 10, 20, 40]
const SLOW = [30, 50, 100]
const sharpe = (fast: number, slow: number, stop: number) => fast / 10 + slow / 100 - (stop === 1 ? 1 : 0)

describe.skipIf(executablePath === undefined)(`a sweep's page in headless Chromium${executablePath === undefined ? ' (skipped: no Chromium; set CHROMIUM_PATH)' : ''}`, () => {
  let home: string
  let server: Listening
  let browser: Browser
  let withJs: BrowserContext
  let withoutJs: BrowserContext
  let sweepId: string
  let studyId: string
  let bareId: string

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-browser-sweep-'))
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'sweeps', name: 'browser sweep', params: { metric: 'sharpe' }, tags: { 'mtflow.kind': 'sweep' } })
    const sets = []
    for (const stop of [1, 2]) for (const slow of SLOW) for (const fast of FAST) sets.push({ params: { fast, slow, stop }, metrics: { sharpe: sharpe(fast, slow, stop) } })
    run.logChildren(sets)
    run.end()
    sweepId = run.id
    // A random study: 300 trials of two uniform floats; totalReturn a smooth hill (a fraction: shown in %).
    const study = tracker.startRun({ experiment: 'studies', name: 'random study' })
    study.end()
    let seed = 5
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    tracker.logChildRuns(
      study.id,
      Array.from({ length: 300 }, (_, i) => {
        const lr = rnd() / 100
        const wd = rnd()
        return { name: `t${i}`, params: { lr: String(lr), wd: String(wd) }, metrics: { totalReturn: 0.2 - 1000 * (lr - 0.004) ** 2 - 0.3 * (wd - 0.5) ** 2 } }
      }),
    )
    studyId = study.id
    // 60 × 50 named (non-numeric, so never binned) values: 3,000 cells, drawn bare (no <title>), the readout
    // built by the page script from data attributes; winRate (a fraction) = (f + s / 100) / 100.
    const bare = tracker.startRun({ experiment: 'studies', name: 'bare grid' })
    bare.end()
    const pad = (p: string, i: number) => `${p}${String(i).padStart(2, '0')}`
    const grid = []
    // Two more metrics (after winRate by name, so it stays the default): xferMs = f minutes + s seconds (a
    // duration), yield = f × 1,234.5678 + s (a plain number).
    for (let f = 1; f <= 60; f++) for (let s = 1; s <= 50; s++) grid.push({ name: `${f}-${s}`, params: { fast: pad('f', f), slow: pad('s', s) }, metrics: { winRate: (f + s / 100) / 100, xferMs: f * 60_000 + s * 1000, yield: f * 1234.5678 + s } })
    tracker.logChildRuns(bare.id, grid)
    bareId = bare.id
    ;[server, browser] = await Promise.all([startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }), chromium.launch({ executablePath, args: ['--no-sandbox'] })])
    const login = async (javaScriptEnabled: boolean) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled })
      const page = await context.newPage()
      expect((await page.goto(loginUrl(server.url, workspaceToken(home))))?.status()).toBe(200)
      await page.close()
      return context
    }
    withJs = await login(true)
    withoutJs = await login(false)
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  async function open(context: BrowserContext, path: string): Promise<Page> {
    const page = await context.newPage()
    const response = await page.goto(`${server.url}${path}`)
    expect(response?.status()).toBe(200)
    return page
  }

  /** The painted cells: rects with a non-zero box, keyed "xi,yi" → value. */
  async function paintedCells(page: Page): Promise<Record<string, number>> {
    return page.locator('svg.sweep-heatmap rect.cell').evaluateAll((rects) => {
      const out: Record<string, number> = {}
      for (const r of rects) {
        const box = r.getBoundingClientRect()
        if (box.width > 0 && box.height > 0) out[`${r.getAttribute('data-xi')},${r.getAttribute('data-yi')}`] = Number(r.getAttribute('data-value'))
      }
      return out
    })
  }

  async function axis(page: Page, which: 'x' | 'y'): Promise<string[]> {
    // The label as drawn: the text node, not the <title> (the whole value) inside the <text>.
    return page.locator(`svg.sweep-heatmap g.${which}-axis text.tick`).evaluateAll((texts) => texts.map((t) => [...t.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('')))
  }

  it('with JavaScript: hovering a cell highlights its row and column; dragging along the metric axis filters the lines; no CSP complaint', async () => {
    const page = await withJs.newPage()
    const errors: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      expect((await page.goto(`${server.url}/runs/${sweepId}`))?.status()).toBe(200)
      // Hover fast=40, slow=100 (xi 3, yi 2): its row (4 cells) and column (3 cells) stay, the other 6 dim.
      await page.hover('svg.sweep-heatmap rect.cell[data-xi="3"][data-yi="2"]')
      const dimmed = await page.locator('svg.sweep-heatmap rect.cell').evaluateAll((cells) => cells.filter((c) => (c as unknown as { style: { opacity: string } }).style.opacity === '0.3').map((c) => `${c.getAttribute('data-xi')},${c.getAttribute('data-yi')}`))
      expect(dimmed.sort()).toEqual(['0,0', '0,1', '1,0', '1,1', '2,0', '2,1'])
      // 40/10 + 100/100 = 5; neighbours (20,50)=2.5 (20,100)=3 (40,50)=4.5 → median 3.
      expect(await page.locator('[data-sweep-readout="heatmap"]').textContent()).toBe("fast=40, slow=100 · sharpe 5.00 (1 run) · neighbours' median 3.00")
      await page.mouse.move(5, 5)
      expect(await page.locator('svg.sweep-heatmap rect.cell[style*="opacity: 0.3"]').count()).toBe(0)

      // Brush the top quarter of the sharpe axis (axis 3), dragging upwards past its top. sharpe runs from
      // −0.2 to 5, so the quarter keeps sharpe ≥ 5 − 0.25 × 5.2 = 3.7: 4.3, 4.5, 5 (stop 2, fast 40) and
      // 4 (stop 1, fast 40, slow 100) — 4 of 24 lines.
      const area = (await page.locator('svg.sweep-parallel rect.brush-area[data-axis="3"]').boundingBox())!
      const x = area.x + area.width / 2
      await page.mouse.move(x, area.y + area.height * 0.25)
      await page.mouse.down()
      await page.mouse.move(x, area.y + area.height * 0.1, { steps: 4 })
      await page.mouse.move(x, area.y - 20, { steps: 4 })
      await page.mouse.up()
      const kept = () => page.locator('svg.sweep-parallel polyline:not([data-filtered])').count()
      expect(await kept()).toBe(4)
      expect(await page.locator('[data-sweep-readout="parallel"]').textContent()).toContain('4 of 24 lines')
      expect(await page.locator('svg.sweep-parallel polyline.best').getAttribute('data-filtered')).toBeNull()
      // And fast's top quarter (axis 0: fast ≥ 5 + 0.75 × 35 = 31.25, i.e. 40) on top: the same 4.
      const fast = (await page.locator('svg.sweep-parallel rect.brush-area[data-axis="0"]').boundingBox())!
      await page.mouse.move(fast.x + fast.width / 2, fast.y + fast.height * 0.25)
      await page.mouse.down()
      await page.mouse.move(fast.x + fast.width / 2, fast.y - 10, { steps: 4 })
      await page.mouse.up()
      expect(await kept()).toBe(4)
      // A click on the sharpe axis clears its range: fast = 40 alone keeps its 6 runs.
      await page.mouse.click(x, area.y + area.height / 2)
      expect(await kept()).toBe(6)
      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })

  for (const js of [true, false]) {
    it(`${js ? 'with' : 'without'} JavaScript: both charts painted, the best cell outlined, and the form re-renders other axes`, async () => {
      const page = await open(js ? withJs : withoutJs, `/runs/${sweepId}`)
      try {
        const heatmap = page.locator('svg.sweep-heatmap')
        expect(await heatmap.isVisible()).toBe(true)
        const box = await heatmap.boundingBox()
        expect(box!.width).toBeGreaterThan(150)
        expect(box!.height).toBeGreaterThan(80)
        // 4 × 3 cells at stop = 2: sharpe = fast/10 + slow/100.
        const cells = await paintedCells(page)
        const expected: Record<string, number> = {}
        SLOW.forEach((slow, yi) => FAST.forEach((fast, xi) => (expected[`${xi},${yi}`] = sharpe(fast, slow, 2))))
        expect(Object.keys(cells).sort()).toEqual(Object.keys(expected).sort())
        for (const k of Object.keys(expected)) expect(cells[k]).toBeCloseTo(expected[k]!, 12)
        expect(await axis(page, 'x')).toEqual(['5', '10', '20', '40'])
        expect(await axis(page, 'y')).toEqual(['30', '50', '100'])
        // The outline lies over the cell fast=40, slow=100 (xi 3, yi 2), inside it.
        const [outline, bestCell] = await Promise.all([page.locator('svg.sweep-heatmap rect.best').boundingBox(), page.locator('svg.sweep-heatmap rect.cell[data-xi="3"][data-yi="2"]').boundingBox()])
        expect(outline!.width).toBeGreaterThan(0)
        expect(outline!.x).toBeGreaterThanOrEqual(bestCell!.x)
        expect(outline!.x + outline!.width).toBeLessThanOrEqual(bestCell!.x + bestCell!.width + 0.01)
        expect(outline!.y).toBeGreaterThanOrEqual(bestCell!.y)
        // Every label of both charts inside its SVG's box (margins fit the labels).
        expect(await overflowing(page)).toEqual([])

        // Parallel coordinates: 4 axes (fast, slow, stop, sharpe); 24 lines, each painted with a length.
        const parallel = page.locator('svg.sweep-parallel')
        const pbox = await parallel.boundingBox()
        expect(pbox!.width).toBeGreaterThan(300)
        expect(pbox!.height).toBeGreaterThan(200)
        expect(await parallel.locator('g.axis').count()).toBe(4)
        const lengths = await parallel.locator('polyline').evaluateAll((lines) => lines.map((l) => (l as unknown as { getTotalLength(): number }).getTotalLength()))
        expect(lengths).toHaveLength(24)
        expect(lengths.every((l) => l > 300)).toBe(true)

        // The form: x = slow, y = stop (fast sliced at the best run's 40), submitted as a GET.
        await page.selectOption('select[name="x"]', 'slow')
        await page.selectOption('select[name="y"]', 'stop')
        await Promise.all([page.waitForURL(/[?&]x=slow/), page.click('form.sweep-form button[type="submit"]')])
        await page.waitForLoadState('load')
        expect(new URL(page.url()).searchParams.get('y')).toBe('stop')
        expect(await axis(page, 'x')).toEqual(['30', '50', '100'])
        expect(await axis(page, 'y')).toEqual(['1', '2'])
        const after = await paintedCells(page)
        const again: Record<string, number> = {}
        ;[1, 2].forEach((stop, yi) => SLOW.forEach((slow, xi) => (again[`${xi},${yi}`] = sharpe(40, slow, stop))))
        expect(Object.keys(after).sort()).toEqual(Object.keys(again).sort())
        for (const k of Object.keys(again)) expect(after[k]).toBeCloseTo(again[k]!, 12)
        expect(await page.locator('select[name="fix.fast"] option:checked').getAttribute('value')).toBe('40')
      } finally {
        await page.close()
      }
    })
  }

  /** Labels of both charts outside their SVG's box (margins must fit them, rotated range labels included). */
  async function overflowing(page: Page): Promise<string[]> {
    return page.locator('svg.sweep-heatmap, svg.sweep-parallel').evaluateAll((svgs) =>
      svgs.flatMap((svg) => {
        const outer = svg.getBoundingClientRect()
        return [...svg.querySelectorAll('text')]
          .filter((t) => {
            const b = t.getBoundingClientRect()
            return b.width > 0 && (b.left < outer.left - 0.5 || b.right > outer.right + 0.5 || b.top < outer.top - 0.5 || b.bottom > outer.bottom + 0.5)
          })
          .map((t) => `${svg.getAttribute('class')}: ${t.textContent}`)
      }),
    )
  }

  for (const js of [true, false]) {
    it(`a random study ${js ? 'with' : 'without'} JavaScript: 300 float trials binned into a 12 × 12 grid that fits, labels inside, bins changed by the form`, async () => {
      const page = await open(js ? withJs : withoutJs, `/runs/${studyId}`)
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      try {
        const cells = await paintedCells(page)
        // 300 runs over 12 × 12 ranges of 25 runs each: most cells hold runs (not 300 of 90,000).
        expect(Object.keys(cells).length).toBeGreaterThan(100)
        expect(Object.keys(cells).length).toBeLessThanOrEqual(144)
        const xs = await axis(page, 'x')
        expect(xs.length).toBeGreaterThanOrEqual(6) // thinned when the rotated labels would touch
        expect(xs.every((l) => /^[\d.e-]+–[\d.e-]+$/.test(l)), xs.join(' ')).toBe(true)
        const box = (await page.locator('svg.sweep-heatmap').boundingBox())!
        expect(box.width).toBeLessThan(1100)
        expect(box.height).toBeLessThan(700)
        expect(await overflowing(page)).toEqual([])
        // The robustness verdict is given (the best cell has neighbours), in percent.
        expect(await page.locator('.verdict').getAttribute('data-verdict')).toMatch(/^(robust|isolated)$/)
        expect(await page.locator('.verdict').textContent()).toMatch(/^Best cell lr in [\d.e-]+–[\d.e-]+, wd in [\d.]+–[\d.]+: totalReturn -?\d+\.\d\d % \(mean of \d+ runs\); /)
        if (js) {
          // Hovering a cell writes its ranges, its value in % and its run count under the chart.
          await page.hover('svg.sweep-heatmap rect.cell[data-xi="5"][data-yi="5"]')
          const title = await page.locator('svg.sweep-heatmap rect.cell[data-xi="5"][data-yi="5"] title').textContent()
          const readout = await page.locator('[data-sweep-readout="heatmap"]').textContent()
          expect(readout).toBe(title!.split('\n').join(' · '))
          expect(readout).toMatch(/^lr in [\d.e-]+–[\d.e-]+, wd in [\d.]+–[\d.]+ · totalReturn -?\d+\.\d\d % \((1 run|mean of \d+ runs)\) · neighbours' median -?\d+\.\d\d %$/)
        }
        // The form's bin count: 4 ranges of 75 runs an axis, every one of the 16 cells filled.
        await page.fill('input[name="bins"]', '4')
        await Promise.all([page.waitForURL(/[?&]bins=4/), page.click('form.sweep-form button[type="submit"]')])
        await page.waitForLoadState('load')
        expect(Object.keys(await paintedCells(page))).toHaveLength(16)
        expect(await axis(page, 'x')).toHaveLength(4)
        expect(await overflowing(page)).toEqual([])
        expect(errors).toEqual([])
      } finally {
        await page.close()
      }
    })
  }

  it('a grid past 2,500 cells (bare cells): the page script’s readout writes the value in its unit', async () => {
    const page = await open(withJs, `/runs/${bareId}`)
    try {
      expect(await page.locator('svg.sweep-heatmap rect.cell').count()).toBe(3000)
      expect(await page.locator('svg.sweep-heatmap rect.cell title').count()).toBe(0)
      expect(await page.locator('svg.sweep-heatmap').getAttribute('data-unit')).toBe('percent')
      // fast = f05 (xi 4), slow = s07 (yi 6): (5 + 0.07) / 100 = 5.07 %; neighbours f04–f06 × s06–s08 without itself:
      // 4.06 4.07 4.08 5.06 5.08 6.06 6.07 6.08 → median (5.06 + 5.08) / 2 = 5.07 %.
      await page.hover('svg.sweep-heatmap rect.cell[data-xi="4"][data-yi="6"]')
      expect(await page.locator('[data-sweep-readout="heatmap"]').textContent()).toBe("fast=f05, slow=s07 · winRate 5.07 % (1 run) · neighbours' median 5.07 %")
    } finally {
      await page.close()
    }
  })

  it('the same large grid on a duration and on a plain number: the readout writes them as the server does (5 min 7 s; 6,179.84)', async () => {
    // xferMs at f05 × s07: 5 min + 7 s = 307,000 ms. Its neighbours (4|5|6 min + 6|7|8 s, without itself): 246, 247,
    // 248, 306, 308, 366, 367, 368 s → median (306 + 308) / 2 = 307 s, "5 min 7 s" again.
    const page = await open(withJs, `/runs/${bareId}?metric=xferMs`)
    try {
      expect(await page.locator('svg.sweep-heatmap').getAttribute('data-unit')).toBe('duration')
      await page.hover('svg.sweep-heatmap rect.cell[data-xi="4"][data-yi="6"]')
      expect(await page.locator('[data-sweep-readout="heatmap"]').textContent()).toBe("fast=f05, slow=s07 · xferMs 5 min 7 s (1 run) · neighbours' median 5 min 7 s")
    } finally {
      await page.close()
    }
    // yield at f05 × s07: 5 × 1,234.5678 + 7 = 6,179.839 → "6,179.84" (two decimals from 1,000 up, grouped);
    // neighbours 4,944.27 … 7,415.41, median (6,178.839 + 6,180.839) / 2 = 6,179.839.
    const other = await open(withJs, `/runs/${bareId}?metric=yield`)
    try {
      expect(await other.locator('svg.sweep-heatmap').getAttribute('data-unit')).toBe('number')
      await other.hover('svg.sweep-heatmap rect.cell[data-xi="4"][data-yi="6"]')
      expect(await other.locator('[data-sweep-readout="heatmap"]').textContent()).toBe("fast=f05, slow=s07 · yield 6,179.84 (1 run) · neighbours' median 6,179.84")
    } finally {
      await other.close()
    }
  })
})
