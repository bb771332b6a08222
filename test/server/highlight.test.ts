// Server-side highlighting (lib/server/highlight.ts): highlight.js's output is escaped text plus its spans,
// hostile code stays text, lines split with balanced markup, notebooks' code cells are highlighted in their
// kernel's language, and highlight.js is loaded only when something is highlighted.

import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { codeBlock, HIGHLIGHT_MAX_CHARS, highlightBudget, highlightCode, highlightNote, languageNamed, languageOfFile, reopenedChars, splitLines } from '../../lib/server/highlight.js'
import { renderNotebookHtml } from '../../lib/server/notebook-html.js'

/** The text a browser shows for some markup: tags dropped, the five entities decoded. */
function shownText(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&amp;/g, '&')
}

describe('highlightCode', () => {
  it('wraps keywords, strings and numbers in hljs spans (hand-written expectation)', () => {
    expect(highlightCode('const x = 1', 'typescript')).toBe('<span class="hljs-keyword">const</span> x = <span class="hljs-number">1</span>')
    expect(highlightCode('def f(): return "a"', 'python')).toBe('<span class="hljs-keyword">def</span> <span class="hljs-title function_">f</span>(): <span class="hljs-keyword">return</span> <span class="hljs-string">&quot;a&quot;</span>')
    expect(highlightCode('{"a": true}', 'json')).toBe('<span class="hljs-punctuation">{</span><span class="hljs-attr">&quot;a&quot;</span><span class="hljs-punctuation">:</span> <span class="hljs-literal"><span class="hljs-keyword">true</span></span><span class="hljs-punctuation">}</span>')
  })

  it('escapes <, & and quotes in code of every language: the only tags are its spans', () => {
    const hostile = `a < b && c > d; s = "<script>alert(1)</script>"; t = '</code></pre><img src=x onerror=alert(2)>' // <!-- & -->`
    for (const language of ['typescript', 'javascript', 'python', 'json', 'yaml', 'sql', 'bash'] as const) {
      const html = highlightCode(hostile, language)
      expect(html, language).not.toMatch(/<script|<img|<\/code|<\/pre|<!--/i)
      // Every tag is a span of highlight.js's.
      for (const tag of html.match(/<[^>]*>/g) ?? []) expect(tag, language).toMatch(/^(<span class="hljs-[\w -]+">|<\/span>)$/)
      expect(html, language).toContain('&lt;')
      expect(html, language).toContain('&amp;&amp;')
      // Nothing of the code is lost: the text shown is the code.
      expect(shownText(html), language).toBe(hostile)
    }
  })

  it('only escapes when the language is not one of ours, or the code is longer than the limit', () => {
    expect(highlightCode('const <b> & x', undefined)).toBe('const &lt;b&gt; &amp; x')
    const long = `const x = 1\n`.repeat(Math.ceil(HIGHLIGHT_MAX_CHARS / 12) + 1)
    expect(long.length).toBeGreaterThan(HIGHLIGHT_MAX_CHARS)
    const html = highlightCode(long, 'typescript')
    expect(html).not.toContain('<span')
    expect(html).toBe(long)
  })

  it('spends a page budget: a block is highlighted only when it fits, and the first that does not ends it', () => {
    // 'const x = 1' is 11 characters, 'let yy = 22' 11, 'z' 1.
    const budget = highlightBudget(20)
    expect(highlightCode('const x = 1', 'typescript', budget)).toBe('<span class="hljs-keyword">const</span> x = <span class="hljs-number">1</span>')
    expect(budget).toEqual({ remaining: 9, plainBlocks: 0, plainChars: 0, deepBlocks: 0 })
    // 11 > 9: plain, and nothing after it is highlighted, however small.
    expect(highlightCode('let yy = 22', 'typescript', budget)).toBe('let yy = 22')
    expect(highlightCode('z', 'typescript', budget)).toBe('z')
    expect(budget).toEqual({ remaining: 0, plainBlocks: 2, plainChars: 12, deepBlocks: 0 })
    // Code in no language of ours neither spends nor counts.
    expect(highlightCode('a < b', undefined, budget)).toBe('a &lt; b')
    expect(budget.plainBlocks).toBe(2)
    expect(highlightNote(budget)).toBe('<p class="muted highlight-note">Code is highlighted up to 200,000 characters a page: 2 block(s) after that (12 characters) are shown as plain text.</p>')
    expect(highlightNote(highlightBudget())).toBe('')
    // Exactly the budget fits.
    const exact = highlightBudget(11)
    expect(highlightCode('const x = 1', 'typescript', exact)).toContain('<span')
    expect(exact.remaining).toBe(0)
    expect(() => highlightBudget(-1)).toThrow(/highlight budget must be a number ≥ 0 \(received -1\)/)
  })

  it('a notebook shares one budget among its cells', () => {
    const cell = (source: string) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs: [] })
    const nb = { metadata: { kernelspec: { language: 'python' } }, cells: [cell('x = 1'), cell('y = 2'), cell('z = 3')] }
    // 5 characters a cell: a budget of 12 highlights the first two (10), the third (5 > 2) is plain.
    const html = renderNotebookHtml(nb, { budget: highlightBudget(12) })
    expect(html.match(/<span class="hljs-number">/g)).toHaveLength(2)
    expect(html).toContain('<code class="hljs language-python">z = 3</code>')
    expect(html).toContain('1 block(s) after that (5 characters) are shown as plain text.')
    expect(renderNotebookHtml(nb)).not.toContain('highlight-note')
  })

  it('knows languages by file extension and by the names notebooks use', () => {
    expect(languageOfFile('source.ts')).toBe('typescript')
    expect(languageOfFile('a/b/job.PY')).toBe('python')
    expect(languageOfFile('params.json')).toBe('json')
    expect(languageOfFile('conf.yml')).toBe('yaml')
    expect(languageOfFile('Makefile')).toBeUndefined()
    expect(languageOfFile('model.bin')).toBeUndefined()
    expect(languageNamed('TypeScript')).toBe('typescript')
    expect(languageNamed('python3')).toBe('python')
    expect(languageNamed('<script>')).toBeUndefined()
    expect(languageNamed(42)).toBeUndefined()
  })
})

describe('codeBlock and splitLines', () => {
  it('numbers lines, closing and reopening a span that crosses a line break', () => {
    const html = '<span class="hljs-comment">/* a\nb */</span> x\ny'
    expect(splitLines(html)).toEqual(['<span class="hljs-comment">/* a</span>', '<span class="hljs-comment">b */</span> x', 'y'])
    const block = codeBlock('/* a\nb */ x = 1\n', { language: 'javascript', lineNumbers: true })
    expect(block).toBe(
      '<pre class="code numbered"><code class="hljs language-javascript">' +
        '<span class="line" id="L1"><span class="hljs-comment">/* a</span>\n</span>' +
        '<span class="line" id="L2"><span class="hljs-comment">b */</span> x = <span class="hljs-number">1</span>\n</span>' +
        '</code></pre>',
    )
    // Three lines of source, three numbered lines; every span opened is closed.
    const three = codeBlock('a\n"b\nc"', { language: 'python', lineNumbers: true })
    expect(three.match(/class="line"/g)).toHaveLength(3)
    expect(three.match(/<span/g)!.length).toBe(three.match(/<\/span>/g)!.length)
    // The box's text is the code exactly (copying it gives the source back: no line break added at the end).
    expect(shownText(three)).toBe('a\n"b\nc"')
  })
})

describe('notebook code cells', () => {
  const cell = (source: string) => ({ cell_type: 'code', metadata: {}, execution_count: 1, source, outputs: [] })
  it('are highlighted in the kernel language and wrap inside their box; hostile source stays text', () => {
    const nb = { metadata: { kernelspec: { name: 'tslab', language: 'typescript' } }, cells: [cell('const s = "</code><script>alert(1)</script>"')] }
    const html = renderNotebookHtml(nb)
    expect(html).toContain('<pre class="source"><code class="hljs language-typescript"><span class="hljs-keyword">const</span> s = <span class="hljs-string">&quot;&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</span></code></pre>')
    expect(html).not.toMatch(/<script/)
    expect(html).toMatch(/<style>[^<]*\.notebook pre\.source \{ white-space: pre-wrap; overflow-wrap: anywhere; \}/)
  })

  it('python notebooks by language_info; no language, no highlighting', () => {
    const py = renderNotebookHtml({ metadata: { language_info: { name: 'python' } }, cells: [cell('import os')] })
    expect(py).toContain('<code class="hljs language-python"><span class="hljs-keyword">import</span> os</code>')
    const plain = renderNotebookHtml({ metadata: {}, cells: [cell('import os')] })
    expect(plain).toContain('<pre class="source"><code>import os</code></pre>')
  })
})

describe('loading', () => {
  it('lib/server loads without highlight.js; the first highlighted page loads it', () => {
    // As the CLI loads lib (lib/core/loader.cjs: tsx's require hook), in a fresh process.
    const root = join(__dirname, '..', '..')
    const script = `
      require(${JSON.stringify(join(root, 'lib/core/loader.cjs'))})
      const loaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/highlight.js/'))
      const server = require(${JSON.stringify(join(root, 'lib/server/index.ts'))})
      const before = loaded()
      const { renderNotebookHtml } = require(${JSON.stringify(join(root, 'lib/server/notebook-html.ts'))})
      const middle = loaded()
      renderNotebookHtml({ metadata: { kernelspec: { language: 'typescript' } }, cells: [{ cell_type: 'code', metadata: {}, source: 'const a = 1', outputs: [] }] })
      process.stdout.write(JSON.stringify({ server: typeof server.createApp, before, middle, after: loaded() }))
    `
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as Record<string, unknown>
    expect(out).toEqual({ server: 'function', before: false, middle: false, after: true })
  }, 30_000)
})

describe('spans nested across many lines', () => {
  it('counts the span markup splitLines adds, and stops past a limit', () => {
    // '<span class="a">' is 16 characters: line 1 ends with it open (closed: 7, reopened: 16), line 2 with none.
    const html = '<span class="a">x\ny</span>\nz'
    expect(reopenedChars(html, 100)).toBe(23)
    expect(splitLines(html).join('').length - html.replace(/\n/g, '').length).toBe(23)
    expect(reopenedChars(html, 22)).toBeUndefined()
    expect(reopenedChars('a\nb', 0)).toBe(0)
  })

  it('the reviewer’s 1,000 nested template strings over 4,000 lines: a plain numbered block of bounded size, said so', () => {
    const code = '`${'.repeat(1_000) + '\n'.repeat(4_000) // 7,000 characters
    const budget = highlightBudget()
    const html = codeBlock(code, { language: 'typescript', lineNumbers: true, budget })
    // Highlighted and split, each of the 4,000 line ends would close and reopen ~1,000 spans (~250 MB).
    // Plain: the code as it is (nothing in it is escaped: 7,000 characters) and 4,000 line spans of < 40 characters each.
    expect(html.length).toBeLessThan(7_000 + 4_001 * 40 + 200)
    expect(shownText(html)).toBe(code)
    expect(html).not.toContain('hljs-')
    expect((html.match(/<span class="line"/g) ?? []).length).toBe(4_000) // the last line ends with the code's last line break
    expect(budget.deepBlocks).toBe(1)
    expect(highlightNote(budget)).toBe('<p class="muted highlight-note">1 block(s) are shown as plain text: their highlighting nests across so many lines that its markup would be more than 8 times the code.</p>')
    // 9,000 lines (a RangeError before): as bounded.
    const longer = '`${'.repeat(1_000) + '\n'.repeat(9_000)
    const html2 = codeBlock(longer, { language: 'typescript', lineNumbers: true })
    expect(html2.length).toBeLessThan(3_000 + 9_001 * 40 + 200)
    expect(shownText(html2)).toBe(longer)
  })

  it('ordinary nesting stays highlighted', () => {
    // 3 nested template strings over 100 lines: a few hundred characters of reopened spans, well within 8 × 109 + 64 Ki.
    const code = '`${'.repeat(3) + '\n'.repeat(100)
    const budget = highlightBudget()
    const html = codeBlock(code, { language: 'typescript', lineNumbers: true, budget })
    expect(html).toContain('hljs-')
    expect(budget.deepBlocks).toBe(0)
    expect(shownText(html)).toBe(code)
  })
})
