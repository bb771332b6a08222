// A notebook's markdown is rendered on a thread of its own within MARKDOWN_TIMEOUT_MS (second attack review):
// marked takes ~45 s on 10,000 characters of "[a](" and overflows its stack on deep "> " nesting, and the
// server's single thread rendering it stopped answering every other request meanwhile. Over a real socket:
// the hostile notebook's page comes after a request made while it renders, shows its markdown as source and
// says why; markdown marked cannot take (the stack) is its source too; ordinary markdown still renders.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MARKDOWN_TIMEOUT_MS, renderMarkdown } from '../../lib/server/markdown.js'
import { renderNotebookHtmlAsync } from '../../lib/server/notebook-html.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'

const notebook = (cells: unknown[]) => ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells })
const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source })
const SLOW = '[a]('.repeat(2_500) // 10,000 characters: ~45 s in marked

let home: string
let server: Listening
let runId: string
const get = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-markdown-'))
  const run = new Tracker(home).startRun({ experiment: 'nb', name: 'hostile markdown' })
  run.logArtifact({ name: 'slow.ipynb', data: JSON.stringify(notebook([md('# Title\n\nfirst *words*'), md(SLOW)])) })
  run.end()
  runId = run.id
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})
afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
})

describe('markdown on a thread of its own', () => {
  it('a request made while a hostile notebook renders is answered first; the notebook shows its markdown as source after the time limit', async () => {
    const order: string[] = []
    const page = get(`/runs/${runId}/artifacts/view?path=slow.ipynb`).then(async (r) => {
      order.push('notebook')
      return { status: r.status, text: await r.text() }
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const other = await get('/api/experiments')
    order.push('other')
    expect(other.status).toBe(200)
    const { status, text } = await page
    expect(order).toEqual(['other', 'notebook'])
    expect(status).toBe(200)
    expect(text).toContain(`2 markdown cell(s) or output(s) shown as source: not rendered within ${MARKDOWN_TIMEOUT_MS / 1000} s, or the renderer failed on them.`)
    expect(text).toContain('<pre class="markdown-source"># Title')
    expect(text).toContain(`<pre class="markdown-source">${'[a]('.repeat(50)}`)
    // Not kept as the page (a review: a render that timed out under load was cached for good).
    const again = await get(`/runs/${runId}/artifacts/view?path=slow.ipynb`)
    expect(again.headers.get('x-mtflow-preview')).toBe('rendered')
    await again.text()
  })

  it('one render for the requests of the same markdown that arrive while it runs; a later request renders again (the page is what is cached)', async () => {
    const first = renderMarkdown(['# same'])
    expect(renderMarkdown(['# same'])).toBe(first)
    expect((await first)?.get('# same')).toBe('<h1>same</h1>\n')
    expect(renderMarkdown(['# same'])).not.toBe(first)
  })

  it('markdown marked cannot take (10,000 levels of "> ": its stack overflows) is its source; ordinary markdown renders', async () => {
    const deep = '> '.repeat(10_000) + 'bottom'
    const html = await renderNotebookHtmlAsync(notebook([md('a *b* [c](https://example.com)'), md(deep)]))
    expect(html.html).toContain('<em>b</em>')
    expect(html.html).toContain(`<pre class="markdown-source">${'&gt; '.repeat(20)}`)
    expect(html.html).toContain('1 markdown cell(s) or output(s) shown as source')
    expect(html.complete).toBe(true) // it failed in time: the same again next time, so kept
  })
})
