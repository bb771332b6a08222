// Notebook outputs stay inside their output box (issue 18, point 11): hostile style attributes and <style>
// sheets through the real renderer (expected markup written by hand), the page CSS that clips each box, and
// a published notebook in headless Chromium whose page header stays clickable over a page-wide overlay.

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STYLESHEET } from '../../lib/report/html.js'
import { renderNotebookHtml } from '../../lib/server/notebook-html.js'
import { sanitizeHtml } from '../../lib/server/sanitize.js'
import { loginUrl, startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry } from '../../lib/track/index.js'

const OVERLAY_STYLE = 'position:fixed;top:0;left:0;width:100vw;height:100vh;background:rgba(255,0,0,.5);z-index:99999'

/** One display_data text/html output per payload, rendered by the notebook renderer the server uses. */
function outputsOf(...htmls: string[]): string[] {
  const html = renderNotebookHtml({
    cells: [{ cell_type: 'code', source: 'x', outputs: htmls.map((h) => ({ output_type: 'display_data', data: { 'text/html': h } })) }],
  })
  return [...html.matchAll(/<div class="output output-html">([\s\S]*?)<\/div>\n/g)].map((m) => m[1]!)
}

describe('style attributes: nothing leaves its box', () => {
  // [what, input, the output box's inner markup]
  const cases: Array<[string, string, string]> = [
    ['page-wide fixed overlay', `<div style="${OVERLAY_STYLE}">x</div>`, '<div style="top:0;left:0;width:100vw;height:100vh;background:rgba(255,0,0,.5);z-index:99999">x</div>'],
    ['upper case, spaces, !important', '<div style="POSITION : FiXeD !important; color: red">x</div>', '<div style=" color: red">x</div>'],
    ['a comment inside the value', '<div style="position:/**/fixed;color:red">x</div>', '<div style="color:red">x</div>'],
    ['a comment hiding the separator', '<p style="color:red/*;*/;position:absolute">x</p>', '<p style="color:red ">x</p>'],
    ['CSS escape fix\\65 d', '<div style="position:fix\\65 d;color:red">x</div>', '<div>x</div>'],
    ['-webkit-sticky', '<div style="position:-webkit-sticky;top:0">x</div>', '<div style="top:0">x</div>'],
    ['sticky', '<span style="position: sticky">x</span>', '<span>x</span>'],
    ['absolute on a table cell', '<table><tr><td style="position:absolute;top:-9999px">x</td></tr></table>', '<table><tr><td style="top:-9999px">x</td></tr></table>'],
    ['negative margin', '<div style="margin-top:-500px;margin:0 auto">x</div>', '<div style="margin:0 auto">x</div>'],
    ['calc() negative margin', '<div style="margin-left: calc(0px - 90vw)">x</div>', '<div>x</div>'],
    ['trigonometry turns a margin negative without a minus', '<div style="margin-top: calc(cos(180deg) * 5000px)">x</div>', '<div>x</div>'],
    ['transforms', '<div style="transform:translate(0,-900px);translate:0 -900px;scale:40;color:blue">x</div>', '<div style="color:blue">x</div>'],
    ['vendor transform', '<div style="-webkit-transform:scale(50)">x</div>', '<div>x</div>'],
    ['fixed in an SVG style', '<svg><rect style="position:fixed" width="10" height="10"/></svg>', '<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"></rect></svg>'],
    ['relative and static stay', '<div style="position: relative; color: red;">x</div>', '<div style="position: relative; color: red;">x</div>'],
  ]
  for (const [what, input, expected] of cases) {
    it(what, () => {
      const [inner] = outputsOf(input)
      expect(inner).toBe(expected)
      expect(sanitizeHtml(inner!, { styleScope: '.notebook .output' })).toBe(inner)
    })
  }
})

describe('<style> in an output: every rule scoped inside the output box', () => {
  it('drops page-wide rules and the at-rules that load or define things, scopes the rest', () => {
    const sheet = [
      'body { display: none }',
      'html, :root { --fg: red }',
      '* { pointer-events: none }',
      'header.site { display: none }',
      '.x { position: fixed; inset: 0; color: red }',
      '~ .output { contain: none }',
      '+ * { color: red }',
      '.notebook .output ~ .output { overflow: visible }',
      '> p { color: blue }',
      '@font-face { font-family: x }',
      '@keyframes k { from { color: red } }',
      '@media screen and (min-width: 10px) { .a, html .b { color: red; position: absolute } }',
      '.n { .m { color: red } }',
    ].join('\n')
    const [inner] = outputsOf(`<style>${sheet}</style><p class="x">x</p>`)
    expect(inner).toBe(
      '<style>.notebook .output header.site { display: none }\n' +
        '.notebook .output .x { inset: 0; color: red }\n' +
        '.notebook .output > p { color: blue }\n' +
        '@media screen and (min-width: 10px) {\n.notebook .output .a { color: red}\n}</style><p class="x">x</p>',
    )
    expect(sanitizeHtml(inner!, { styleScope: '.notebook .output' })).toBe(inner)
  })

  it('drops a sheet whose structure a browser could read otherwise, and @import', () => {
    const sheets = [
      '.a{color:"x\n} body{position:fixed}"}', // a string broken by a line end
      ':is(a{b) .x{color:red}', // a brace inside brackets
      '} body{position:fixed}', // a stray brace
      "@import 'https://evil/x.css'; .a{color:red}",
      '.a{position:fix\\65 d}',
    ]
    for (const sheet of sheets) expect(outputsOf(`<style>${sheet}</style><p>x</p>`), sheet).toEqual(['<p>x</p>'])
  })

  it('keeps a pandas table styled, inside its box', () => {
    const table =
      '<style scoped>\n    .dataframe tbody tr th:only-of-type {\n        vertical-align: middle;\n    }\n\n    .dataframe thead th {\n        text-align: right;\n    }\n</style>\n' +
      '<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th></th><th>close</th></tr></thead><tbody><tr><th>0</th><td>101.5</td></tr></tbody></table>'
    const [inner] = outputsOf(table)
    expect(inner).toBe(
      '<style>.notebook .output .dataframe tbody tr th:only-of-type {\n        vertical-align: middle;\n    }\n' +
        '.notebook .output .dataframe thead th {\n        text-align: right;\n    }</style>\n' +
        '<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th></th><th>close</th></tr></thead><tbody><tr><th>0</th><td>101.5</td></tr></tbody></table>',
    )
  })

  it('scopes a <style> in a markdown cell under the markdown cell', () => {
    const html = renderNotebookHtml({ cells: [{ cell_type: 'markdown', source: '<style>body{display:none} p{color:red}</style>\n\nhello' }] })
    expect(html).toContain('<div class="cell cell-markdown"><style>.notebook .cell-markdown p {color:red}</style>\n\n<p>hello</p>')
  })

  it('without a box to scope to, keeps only a sheet that needs no rewriting', () => {
    expect(sanitizeHtml('<style>.a { color: red }</style>')).toBe('<style>.a { color: red }</style>')
    expect(sanitizeHtml('<style>.a { color: red } body { display: none }</style>')).toBe('')
    expect(sanitizeHtml('<style>.a { position: fixed }</style>')).toBe('')
    expect(() => sanitizeHtml('x', { styleScope: 'body{}' })).toThrow('styleScope must be a plain selector of classes, ids and spaces (received "body{}")')
  })
})

describe('the page CSS', () => {
  it('makes each output box and markdown cell a clipping, containing box', () => {
    const rule = /\.notebook \.output, \.notebook \.cell-markdown \{([^}]*)\}/.exec(STYLESHEET)?.[1]
    expect(rule).toBeDefined()
    for (const declaration of ['contain: paint', 'position: relative', 'overflow: auto']) expect(rule).toContain(declaration)
  })
})

/** A Chromium binary: $CHROMIUM_PATH, else the usual names on $PATH (as test/server/browser.test.ts). */
function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && fromEnv !== '' && existsSync(fromEnv)) return fromEnv
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/snap/bin'].filter((d) => d !== '')
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}
const executablePath = findChromium()

const HOSTILE_NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    { cell_type: 'markdown', metadata: {}, source: '# Overlay probe' },
    {
      cell_type: 'code',
      execution_count: 1,
      metadata: {},
      source: 'display(html)',
      outputs: [
        { output_type: 'display_data', metadata: {}, data: { 'text/html': `<div id="overlay" style="${OVERLAY_STYLE}">covering</div>` } },
        {
          output_type: 'display_data',
          metadata: {},
          data: {
            'text/html':
              '<style>header.site { display: none } body { visibility: hidden } * { pointer-events: none } .notebook .cell-markdown { display: none }' +
              ' .dataframe thead th { text-align: right }</style>' +
              '<table class="dataframe"><thead><tr><th>close</th></tr></thead><tbody><tr><td>101.5</td></tr></tbody></table>',
          },
        },
      ],
    },
    { cell_type: 'markdown', metadata: {}, source: 'Text after the outputs.' },
  ],
}

describe.skipIf(executablePath === undefined)('a published notebook with hostile outputs, in Chromium', () => {
  let home: string
  let server: Listening
  let browser: Browser
  let context: BrowserContext

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mtflow-overlay-'))
    new Registry(home).register('notebooks', 'overlay-probe', { files: { 'notebook.ipynb': JSON.stringify(HOSTILE_NOTEBOOK) }, runs: [] })
    ;[server, browser] = await Promise.all([
      startServer({ home, token: workspaceToken(home), port: 0, host: '127.0.0.1' }),
      chromium.launch({ executablePath, args: ['--no-sandbox'] }),
    ])
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const login = await context.newPage()
    expect((await login.goto(loginUrl(server.url, workspaceToken(home))))?.status()).toBe(200)
    await login.close()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (home !== undefined) rmSync(home, { recursive: true, force: true })
  })

  it('keeps the header clickable, the overlay inside its output box and the other cells visible', async () => {
    const page = await context.newPage()
    try {
      expect((await page.goto(`${server.url}/notebooks/overlay-probe`))?.status()).toBe(200)
      const brand = page.locator('header.site a.brand')
      expect(await brand.isVisible()).toBe(true)
      // What a click at the centre of the header link and of the last cell's text would hit.
      const hit = (selector: string) =>
        page.evaluate((sel) => {
          const d = (globalThis as unknown as { document: Doc }).document
          const r = d.querySelector(sel)!.getBoundingClientRect()
          const at = d.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)
          return at === null ? 'nothing' : at.closest(sel) !== null ? 'itself' : `${at.tagName.toLowerCase()}#${at.id}`
        }, selector)
      expect(await hit('header.site a.brand')).toBe('itself')
      expect(await hit('.cell-markdown h1')).toBe('itself')
      await page.getByText('Text after the outputs.').scrollIntoViewIfNeeded()
      expect(await page.getByText('Text after the outputs.').isVisible()).toBe(true)
      expect(await hit('.cell-markdown:last-child p')).toBe('itself')

      const overlay = (await page.locator('#overlay').boundingBox())!
      const box = (await page.locator('.output:has(#overlay)').boundingBox())!
      expect(overlay.y).toBeGreaterThanOrEqual(box.y)
      expect(overlay.x).toBeGreaterThanOrEqual(box.x)
      expect(overlay.y + overlay.height).toBeLessThanOrEqual(box.y + box.height + 0.5)
      // Wider than its box (100vw), it is clipped there: right of the box, the page is hit, not the overlay.
      const right = await page.evaluate(([x, y]) => {
        const at = (globalThis as unknown as { document: Doc }).document.elementFromPoint(x!, y!)
        return at?.id ?? ''
      }, [box.x + box.width + 5, box.y + 10])
      expect(right).not.toBe('overlay')

      // The pandas-style rule still styles its own table.
      const align = await page.evaluate(() => {
        const d = (globalThis as unknown as { document: Doc }).document
        return (globalThis as unknown as { getComputedStyle(e: unknown): { textAlign: string } }).getComputedStyle(d.querySelector('.dataframe thead th')).textAlign
      })
      expect(align).toBe('right')

      await brand.click({ timeout: 5000 })
      await page.waitForURL(`${server.url}/`)
    } finally {
      await page.close()
    }
  })
})

interface Rect {
  left: number
  top: number
  width: number
  height: number
}
interface El {
  tagName: string
  id: string
  closest(selector: string): El | null
  getBoundingClientRect(): Rect
}
interface Doc {
  querySelector(selector: string): El | null
  elementFromPoint(x: number, y: number): El | null
}
