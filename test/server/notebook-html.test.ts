// sanitizeHtml against known XSS vectors (each output checked for live markup, and most against the exact
// expected result), legitimate content that must survive (a pandas table, links, PNG data URIs, a real
// Observable Plot chart), idempotence; then renderNotebookHtml on a hand-written notebook and malformed ones.

import * as Plot from '@observablehq/plot'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { plotToString } from '../../lib/report/plot.js'
import { renderNotebookHtml } from '../../lib/server/notebook-html.js'
import { sanitizeHtml } from '../../lib/server/sanitize.js'

const REL = 'rel="noopener noreferrer nofollow"'
const SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg">'
const EMPTY_SVG = `${SVG_OPEN}</svg>`
/** base64 of `<svg onload=alert(1)>`. */
const SVG_PAYLOAD = 'PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+'
/** A 1×1 PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

/** Start tags as a browser would see them: text and attribute values have every "<" and ">" escaped. */
function startTags(html: string): string[] {
  return html.match(/<[a-zA-Z][^>]*>/g) ?? []
}

function expectSafe(html: string): void {
  expect(html).not.toMatch(
    /<\/?(script|iframe|frame|frameset|object|embed|applet|form|input|button|textarea|select|option|meta|base|link|math|noscript|template|foreignObject|animate|animateTransform|animateMotion|set|audio|video|portal|image)\b/i,
  )
  for (const tag of startTags(html)) expect(tag).not.toMatch(/\son[a-z]+\s*=/i)
  expect(html).not.toMatch(/javascript:|vbscript:|data:text|data:image\/svg|@import|expression\(/i)
  expect(html).not.toMatch(/url\(\s*['"]?[^#'"\s]/i)
  expect(html).not.toContain('evil')
}

// [what, input, expected output]
const VECTORS: Array<[string, string, string]> = [
  ['script element', '<script>alert(1)</script>', ''],
  ['img onerror', '<img src=x onerror=alert(1)>', '<img>'],
  ['javascript: link', '<a href="javascript:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['mixed-case scheme', '<a href="JaVaScRiPt:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['entity-encoded scheme', '<a href="&#106;avascript:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['padded entities without ";"', '<a href="&#0000106&#0000097vascript:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['leading space and tab', '<a href=" \tjavascript:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['tab entity inside the scheme', '<a href="java&#x09;script:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['newline and NUL inside the scheme', '<a href="java\nscr\0ipt:alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['&colon;', '<a href="javascript&colon;alert(1)">x</a>', `<a ${REL}>x</a>`],
  ['vbscript: link', '<a href="vbscript:msgbox(1)">x</a>', `<a ${REL}>x</a>`],
  ['data:text/html link', '<a href="data:text/html,<script>alert(1)</script>">x</a>', `<a ${REL}>x</a>`],
  ['unsafe duplicate attribute', '<a href="https://ok.example/" HREF="javascript:alert(1)">x</a>', `<a href="https://ok.example/" ${REL}>x</a>`],
  ['svg onload', '<svg onload=alert(1)>', EMPTY_SVG],
  ['svg/onload', '<svg/onload=alert(1)>', EMPTY_SVG],
  ['script inside svg', '<svg><script>alert(1)</script></svg>', EMPTY_SVG],
  ['svg link with xlink:href', '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', `${SVG_OPEN}<text>x</text></svg>`],
  ['svg animate of href', '<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>', EMPTY_SVG],
  ['svg set', '<svg><set attributeName="onmouseover" to="alert(1)"/></svg>', EMPTY_SVG],
  ['use of a data: document', `<svg><use href="data:image/svg+xml;base64,${SVG_PAYLOAD}#x"/></svg>`, `${SVG_OPEN}<use></use></svg>`],
  ['use of a remote document', '<svg><use xlink:href="https://evil/s.svg#x"/></svg>', `${SVG_OPEN}<use></use></svg>`],
  ['foreignObject', '<svg><foreignObject><iframe src="https://evil/"></iframe></foreignObject></svg>', EMPTY_SVG],
  ['HTML breaking out of svg', '<svg><p><img src=x onerror=alert(1)></p></svg>', EMPTY_SVG],
  ['markup in svg <style> (parsed as markup there)', '<svg><style><img src=x onerror=alert(1)></style></svg>', EMPTY_SVG],
  ['remote url() in svg <style>', '<svg><style>.a{fill:url(https://evil/p)}</style></svg>', EMPTY_SVG],
  ['entity in svg <style> (decoded there)', '<svg><style>.a{fill:&#117;rl(https://evil/p)}</style></svg>', EMPTY_SVG],
  ['remote url() in a paint attribute', '<svg><g fill="url(https://evil/p)" clip-path="url(#c)"></g></svg>', `${SVG_OPEN}<g clip-path="url(#c)"></g></svg>`],
  ['iframe', '<iframe src="https://evil/">x</iframe>', ''],
  ['object', '<object data="https://evil/x.swf"><p>fallback</p></object>', ''],
  ['embed', '<embed src="https://evil/x.swf">', ''],
  ['form and button', '<form action="https://evil/"><button formaction="javascript:alert(1)">go</button></form>', ''],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', ''],
  ['base', '<base href="https://evil/">', ''],
  ['math mtext script', '<math><mtext><script>alert(1)</script></mtext></math>', ''],
  ['math mglyph style mXSS', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', ''],
  ['noscript title mXSS', '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', ''],
  ['template', '<template><script>alert(1)</script></template>', ''],
  ['comment', '<!--<script>-->', ''],
  ['style @import', "<style>@import 'https://evil/x.css'</style>", ''],
  ['style url()', '<div style="background:url(http://evil/x)">a</div>', '<div>a</div>'],
  ['style url() split by a comment', '<div style="background:u/**/rl(http://evil/x)">a</div>', '<div>a</div>'],
  ['style CSS escape', '<div style="width: expr\\65ssion(alert(1))">a</div>', '<div>a</div>'],
  ['style expression()', '<div style="width: expression(alert(1))">a</div>', '<div>a</div>'],
  ['style image-set()', '<div style="background-image: image-set(\'https://evil/x.png\' 1x)">a</div>', '<div>a</div>'],
  ['svg data: image', `<img src="data:image/svg+xml;base64,${SVG_PAYLOAD}">`, '<img>'],
  ['remote image (tracking)', '<img src="http://evil/track.png" alt="t">', '<img alt="t">'],
  ['attribute breaking out of its quotes', '<div title="&quot;><script>alert(1)</script>">t</div>', '<div title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">t</div>'],
  ['tag inside a tag name', '<scr<script>ipt>alert(1)</script>', 'ipt&gt;alert(1)'],
  ['doctype after content', '<p>a</p><!DOCTYPE html><p>b</p>', '<p>a</p><p>b</p>'],
]

describe('sanitizeHtml: XSS vectors', () => {
  it.each(VECTORS)('%s', (_what, input, expected) => {
    const out = sanitizeHtml(input)
    expectSafe(out)
    expect(out).toBe(expected)
    expect(sanitizeHtml(out)).toBe(out)
  })
})

/** Random soups of these pieces: the output must be a fixed point with no live tag, whatever the nesting. */
const PIECES = [
  '<p>', '</p>', '<div>', '</div>', '<svg>', '</svg>', '<table>', '<tr>', '<td>', '</td>', '<th>', '<thead>', '<tbody>',
  '<li>', '<ul>', '</ul>', '<dd>', '<dt>', '<x-a>', '</x-a>', '<style>', '</style>', '<title>', '</title>', '<script>',
  '</script>', '<a href="javascript:x">', '<a href="https://ok">', '</a>', '<img src=x onerror=alert(1)>', '<rect/>',
  '<text>', '</text>', '<g fill="url(#a)">', '</g>', '<foreignObject>', '<math>', '<noscript>', '</noscript>',
  '<textarea>', '</textarea>', '<!--', '-->', '<![CDATA[', ']]>', '<!doctype html>', 'a', ' ', '&amp;', '&lt;', '<', '>',
  '"', "'", '<pre>', '\n', '<h1>', '<br>', '</br>', '</p >', '<desc>', '<xmp>', '<plaintext>', '<select>', '.a{}',
  '<b>', '</b>', '<use href="#a">', '<li', ' onclick=1>', '<svg/onload=1>', '<p/>', '<hr>', '<col>', '<caption>',
  '<tfoot>', '<details>', '<figure>', '<blockquote>', '<dl>', '<ol>',
]

describe('sanitizeHtml: random tag soup', () => {
  it('gives a fixed point without live tags for 2000 seeded soups', () => {
    let seed = 20240601
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < 2000; i++) {
      let input = ''
      for (let n = 1 + Math.floor(random() * 25); n > 0; n--) input += PIECES[Math.floor(random() * PIECES.length)]
      const out = sanitizeHtml(input)
      expect(sanitizeHtml(out), input).toBe(out)
      for (const tag of startTags(out)) {
        expect(tag, input).not.toMatch(/^<(script|textarea|xmp|noscript|math|foreignObject|plaintext|select)\b|\son[a-z]+\s*=|javascript:/i)
      }
    }
  })
})

/** CSS pieces for soups inside <style> and style attributes, scoped to an output box (issue 18, point 11). */
const CSS_PIECES = [
  '.a', ' ', 'body', 'html', ':root', '*', '~', '+', '>', ',', '{', '}', ';', ':', 'position', 'fixed', 'absolute',
  'sticky', 'relative', '-webkit-sticky', 'POSITION', '!important', '/*', '*/', '"', "'", '(', ')', '[', ']', 'url(#a)',
  '@media screen', '@supports (display:grid)', '@font-face', '@keyframes k', 'margin', '-9px', 'transform', 'translate(1px)',
  'color', 'red', '\n', '.notebook .output', 'header.site', ':is(', '&', 'display:none', 'top:0',
]

describe('sanitizeHtml: random CSS soup in a scoped box', () => {
  it('gives a fixed point where every rule is scoped and nothing is positioned out of its box, for 2000 seeded soups', () => {
    const scope = '.notebook .output'
    let seed = 20261205
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < 2000; i++) {
      let css = ''
      for (let n = 1 + Math.floor(random() * 30); n > 0; n--) css += CSS_PIECES[Math.floor(random() * CSS_PIECES.length)]
      for (const input of [`<style>${css}</style><p>x</p>`, `<p style="${css.replace(/"/g, "'")}">x</p>`]) {
        const out = sanitizeHtml(input, { styleScope: scope })
        expect(sanitizeHtml(out, { styleScope: scope }), input).toBe(out)
        const flat = out.toLowerCase().replace(/\s+/g, '')
        expect(flat, input).not.toMatch(/position:(?:fixed|absolute|sticky|-webkit-sticky)/)
        const sheet = /<style>([\s\S]*)<\/style>/.exec(out)?.[1]
        if (sheet === undefined) continue
        // Each block opens after a scoped selector list or a grouping at-rule.
        const preludes = sheet.split('{').slice(0, -1).map((p) => p.slice(Math.max(p.lastIndexOf('}'), p.lastIndexOf('{')) + 1).trim())
        for (const prelude of preludes) {
          if (prelude.startsWith('@media') || prelude.startsWith('@supports')) continue
          for (const selector of prelude.split(',')) expect(selector.trim().startsWith(`${scope} `), input).toBe(true)
        }
      }
    }
  })
})

const PANDAS_TABLE = `<div>
<style scoped>
    .dataframe tbody tr th:only-of-type {
        vertical-align: middle;
    }

    .dataframe thead th {
        text-align: right;
    }
</style>
<table border="1" class="dataframe">
  <thead>
    <tr style="text-align: right;">
      <th></th>
      <th>close</th>
      <th>volume</th>
    </tr>
  </thead>
  <tbody>
    <tr>
      <th>0</th>
      <td>101.5</td>
      <td>1200</td>
    </tr>
    <tr>
      <th>1</th>
      <td>99.25</td>
      <td>800</td>
    </tr>
  </tbody>
</table>
<p>2 rows × 2 columns</p>
</div>`

describe('sanitizeHtml: legitimate content', () => {
  it('keeps a pandas table and its stylesheet (only "scoped" goes)', () => {
    const out = sanitizeHtml(PANDAS_TABLE)
    expect(out).toBe(PANDAS_TABLE.replace('<style scoped>', '<style>'))
    expect(sanitizeHtml(out)).toBe(out)
  })

  it('keeps http(s), mailto and relative links, and adds rel', () => {
    expect(sanitizeHtml('<a href="https://example.com/x?a=1&amp;b=2" title="ex">ex</a>')).toBe(
      `<a href="https://example.com/x?a=1&amp;b=2" title="ex" ${REL}>ex</a>`,
    )
    expect(sanitizeHtml('<a href="mailto:desk@example.com">m</a>')).toBe(`<a href="mailto:desk@example.com" ${REL}>m</a>`)
    expect(sanitizeHtml('<a href="#results">r</a>')).toBe(`<a href="#results" ${REL}>r</a>`)
    expect(sanitizeHtml('<a href="../runs/a:b">run</a>')).toBe(`<a href="../runs/a:b" ${REL}>run</a>`)
  })

  it('keeps base64 PNG data URIs and escapes text', () => {
    expect(sanitizeHtml('<img src="data:image/png;base64,iVBORw0KGgo=" alt="one">')).toBe(
      '<img src="data:image/png;base64,iVBORw0KGgo=" alt="one">',
    )
    expect(sanitizeHtml('<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>')).toBe('<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>')
  })

  it('keeps every element and attribute of an Observable Plot chart', () => {
    const svg = plotToString({
      y: { grid: true },
      marks: [
        Plot.ruleY([0]),
        Plot.lineY([1, 3, 2, 5], { clip: true }),
        Plot.dot([1, 3, 2, 5], { x: (_d: number, i: number) => i, y: (d: number) => d, title: (d: number) => `v<${d}>` }),
        Plot.text(['a & b'], { x: 1, y: 2, text: (d: string) => d }),
      ],
    })
    const out = sanitizeHtml(svg)
    const count = (html: string, tag: string): number => html.match(new RegExp(`<${tag}[\\s>/]`, 'g'))?.length ?? 0
    for (const tag of ['path', 'text', 'line', 'circle', 'title', 'rect', 'clipPath', 'g', 'style']) {
      expect(count(out, tag), tag).toBe(count(svg, tag))
    }
    expect(count(svg, 'path')).toBeGreaterThan(0)
    expect(count(svg, 'line')).toBeGreaterThan(0)
    expect(out).toContain('viewBox="0 0 640 400"')
    const clip = /<clipPath id="([^"]+)">/.exec(svg)?.[1]
    expect(clip).toBeDefined()
    expect(out).toContain(`clip-path="url(#${clip})"`)
    // Every start tag survives as written (Plot writes "/>", the sanitizer explicit end tags; svg gains xmlns).
    const tags = (html: string): string[] =>
      startTags(html).map((t) => t.replace(/\s*\/>$/, '>').replace(' xmlns="http://www.w3.org/2000/svg"', ''))
    expect(tags(out)).toEqual(tags(svg))
    const text = (html: string): string => html.replace(/<[^>]*>/g, '')
    expect(text(out)).toBe(text(svg))
    expect(sanitizeHtml(out)).toBe(out)
  })

  it('is a fixed point where the parser would re-nest elements', () => {
    // <div> inside <p> (through an unknown element) would close the <p> when the output is parsed again.
    const cases = ['<p><x-box><div>x</div></x-box></p>', '<table><tr><td>a<x-c><td>b</td></x-c></td></tr></table>', '<pre>\nx</pre>']
    for (const html of cases) {
      const once = sanitizeHtml(html)
      expect(sanitizeHtml(once)).toBe(once)
    }
    expect(sanitizeHtml(cases[0]!)).toBe('<p>x</p>')
  })
})

const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    {
      cell_type: 'markdown',
      metadata: {},
      source: ['# Momentum study\n', '\n', '- fast SMA\n', '- slow SMA\n', '\n', '[click](javascript:alert(1)) <script>alert(1)</script>\n'],
    },
    {
      cell_type: 'code',
      execution_count: 3,
      metadata: {},
      source: 'const s = "<script>alert(1)</script>"\nconsole.log(s)',
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['\u001b[32mok\u001b[0m 3 bars\n'] },
        { output_type: 'stream', name: 'stderr', text: 'warning: & <careful>\n' },
        {
          output_type: 'execute_result',
          execution_count: 3,
          metadata: {},
          data: { 'text/html': '<b>bold</b><img src=x onerror=alert(1)>', 'text/plain': 'plain fallback' },
        },
        {
          output_type: 'display_data',
          metadata: {},
          data: {
            'image/svg+xml': ['<svg viewBox="0 0 10 10" onload="alert(1)">', '<circle cx="5" cy="5" r="4"/></svg>'],
            'text/plain': '<Figure>',
          },
        },
        { output_type: 'display_data', metadata: {}, data: { 'image/png': `${PNG}\n`, 'text/plain': '<PNG>' } },
        { output_type: 'display_data', metadata: {}, data: { 'image/png': 'x" onerror="alert(1)', 'text/plain': 'png fallback' } },
        { output_type: 'display_data', metadata: {}, data: { 'text/plain': ['equity: 1,050 & rising\n'] } },
        { output_type: 'display_data', metadata: {}, data: { 'application/json': { sharpe: 1.5, tag: '<b>' } } },
        { output_type: 'display_data', metadata: {}, data: { 'application/vnd.custom+json': {} } },
        {
          output_type: 'error',
          ename: 'TypeError',
          evalue: 'x is not a function',
          traceback: ['\u001b[31mTypeError\u001b[39m: x is not a function', '    at <anonymous>:1:1'],
        },
      ],
    },
    { cell_type: 'raw', metadata: {}, source: '<script>raw</script>' },
  ],
}

describe('renderNotebookHtml', () => {
  const html = renderNotebookHtml(notebook)

  it('renders markdown, sanitized', () => {
    expect(html.startsWith('<div class="notebook">')).toBe(true)
    expect(html.endsWith('</div>')).toBe(true)
    expect(html).toContain('<div class="cell cell-markdown"><h1>Momentum study</h1>')
    expect(html).toContain('<li>fast SMA</li>')
    expect(html).toContain('<li>slow SMA</li>')
    expect(html).toContain(`<a ${REL}>click</a>`)
  })

  it('escapes the source of code and raw cells', () => {
    expect(html).toContain('<div class="prompt">In [3]:</div>')
    expect(html).toContain(
      '<pre class="source"><code>const s = &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;\nconsole.log(s)</code></pre>',
    )
    expect(html).toContain('<div class="cell cell-raw"><pre>&lt;script&gt;raw&lt;/script&gt;</pre></div>')
  })

  it('renders each output from its richest usable type, in order', () => {
    const pieces = [
      '<div class="output stream-stdout"><pre>ok 3 bars\n</pre></div>',
      '<div class="output stream-stderr"><pre>warning: &amp; &lt;careful&gt;\n</pre></div>',
      '<div class="output output-html"><div class="prompt">Out [3]:</div><b>bold</b><img></div>',
      `<div class="output output-svg">${SVG_OPEN.replace('>', ' viewBox="0 0 10 10">')}<circle cx="5" cy="5" r="4"></circle></svg></div>`,
      `<div class="output output-image"><img alt="" src="data:image/png;base64,${PNG}"></div>`,
      '<div class="output output-text"><pre>png fallback</pre></div>',
      '<div class="output output-text"><pre>equity: 1,050 &amp; rising\n</pre></div>',
      '<div class="output output-json"><pre>{\n  &quot;sharpe&quot;: 1.5,\n  &quot;tag&quot;: &quot;&lt;b&gt;&quot;\n}</pre></div>',
      '<div class="output output-unsupported"><p>no renderer for output of type application/vnd.custom+json</p></div>',
      '<div class="output error"><pre>TypeError: x is not a function\nTypeError: x is not a function\n    at &lt;anonymous&gt;:1:1</pre></div>',
    ]
    let from = 0
    for (const piece of pieces) {
      const at = html.indexOf(piece, from)
      expect(at, piece).toBeGreaterThanOrEqual(from)
      from = at + piece.length
    }
    for (const hidden of ['plain fallback', '&lt;Figure&gt;', '&lt;PNG&gt;', 'onerror']) expect(html).not.toContain(hidden)
  })

  it('leaves nothing live or hidden behind', () => {
    expectSafe(html)
    expect(html).not.toContain('\u001b')
    expect(html).not.toContain('[32m')
  })

  it('shows the title escaped', () => {
    expect(renderNotebookHtml({ cells: [] }, { title: 'a <b> & c' })).toBe(
      '<div class="notebook">\n<h1 class="notebook-title">a &lt;b&gt; &amp; c</h1>\n</div>',
    )
  })

  it('throws a one-line ConfigError for a malformed notebook', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /^notebook must be an object with a "cells" array \(received null\)$/],
      ['{"cells": []}', /^notebook must be an object with a "cells" array \(received "\{\\"cells\\": \[\]\}"\)$/],
      [[], /^notebook must be an object/],
      [{ nbformat: 4 }, /^notebook "cells" must be an array \(received nothing\)$/],
      [{ cells: [42] }, /^notebook cell 1 must be an object \(received 42\)$/],
      [{ cells: [{ cell_type: 'raw', source: '' }, { source: 'x' }] }, /^notebook cell 2 has cell_type nothing; expected code, markdown or raw$/],
      [{ cells: [{ cell_type: 'code' }] }, /^notebook cell 1 has source nothing; expected a string or an array of strings$/],
      [{ cells: [{ cell_type: 'code', source: '', outputs: {} }] }, /^notebook cell 1 has outputs an object; expected an array$/],
    ]
    for (const [value, message] of cases) {
      expect(() => renderNotebookHtml(value)).toThrow(ConfigError)
      expect(() => renderNotebookHtml(value)).toThrow(message)
    }
    expect(() => renderNotebookHtml({ cells: [] }, { title: 3 as unknown as string })).toThrow(/^title must be a string \(received 3\)$/)
  })
})
