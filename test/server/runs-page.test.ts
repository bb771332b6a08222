// The runs list over a real socket on hand-made runs: sorting by a metric and by a param over the whole
// view (missing values last, numbers as numbers), sorted pages that return every run exactly once (also
// while runs are added), chosen columns, the CSV export cell by cell (formula injection guarded, quotes,
// commas and line breaks quoted), a sweep's child rows as a fragment, and hostile parameters refused or
// escaped. Expected orders and cells are written out by hand here.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHTML } from 'linkedom'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { fmtNumber } from '../../lib/report/index.js'
import { Tracker } from '../../lib/track/index.js'

let home: string
let server: Listening
let tracker: Tracker
const ids: Record<string, string> = {}
const HOSTILE = '<img src=x onerror=alert(1)>'
const PAGING_RUNS = 205
const paging: { name: string; v: number | undefined }[] = []

async function get(path: string): Promise<{ status: number; text: string; headers: Headers; doc: any }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${workspaceToken(home)}` } })
  const text = await response.text()
  // A fragment (child rows) is parsed inside a table, as the browser inserts it.
  const html = text.startsWith('<!DOCTYPE') ? text : `<!DOCTYPE html><html><body><table><tbody>${text}</tbody></table></body></html>`
  return { status: response.status, text, headers: response.headers, doc: parseHTML(html).document }
}

/** The run names of a runs table, top to bottom (top-level rows only). */
function names(doc: any): string[] {
  return [...doc.querySelectorAll('table.runs tbody tr[data-run]')].map((tr: any) => tr.querySelector('td a[href^="/runs/"]').textContent)
}

function headers(doc: any): string[] {
  return [...doc.querySelectorAll('table.runs thead th')].map((th: any) => th.textContent.replace(/ [▲▼]$/, ''))
}

function make(experiment: string, name: string, options: { params?: Record<string, string | number>; metrics?: Record<string, number>; tags?: Record<string, string>; parent?: string } = {}): string {
  const run = tracker.startRun({ experiment, name, params: options.params, tags: options.tags, parentRunId: options.parent })
  if (options.metrics !== undefined) run.logMetrics(options.metrics)
  run.end()
  return run.id
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-runs-page-'))
  tracker = new Tracker(home)
  // Sorting: sharpe 10, 9, 100 and one without; fast as strings "10", "9", "100" and one not a number.
  ids.ten = make('sorting', 'ten', { params: { fast: '10' }, metrics: { sharpe: 10 } })
  ids.nine = make('sorting', 'nine', { params: { fast: '9' }, metrics: { sharpe: 9 } })
  ids.hundred = make('sorting', 'hundred', { params: { fast: '100' }, metrics: { sharpe: 100 } })
  ids.none = make('sorting', 'none', { params: { fast: 'abc' }, tags: { note: 'no sharpe' } })
  // A sweep: one parent, three children (sharpe 1, 3, 2).
  ids.sweep = make('sweeps', 'grid', { tags: { 'mtflow.kind': 'sweep' } })
  for (const [name, sharpe] of [['c1', 1], ['c3', 3], ['c2', 2]] as const) ids[name] = make('sweeps', name, { parent: ids.sweep, params: { fast: sharpe }, metrics: { sharpe } })
  ids.solo = make('sweeps', 'solo', { metrics: { sharpe: 0.5 } })
  // CSV: names and params a spreadsheet would misread.
  // A param that is a plain number stays one ("-0.5"); "+1+2" is a formula.
  ids.formula = make('csv', '=HYPERLINK("x")', { params: { p: '+1+2' }, metrics: { x: -0.25 } })
  ids.negative = make('csv', 'neg', { params: { p: '-0.5' } })
  ids.quoted = make('csv', 'a,b "q"\nline2', { params: { p: '@sum' }, metrics: { x: 1.5 }, tags: { t: 'plain' } })
  ids.dash = make('csv', '-minus', { params: { p: 'ok' } })
  ids.hostile = make('csv', HOSTILE, { params: { p: '<script>alert(2)</script>' }, metrics: { x: 1e21 } })
  // Paging: 205 top-level runs, v = i mod 7 (many ties), every 10th without v.
  for (let i = 0; i < PAGING_RUNS; i++) {
    const v = i % 10 === 0 ? undefined : i % 7
    const name = `p${String(i).padStart(3, '0')}`
    make('paging', name, { metrics: v === undefined ? {} : { v } })
    paging.push({ name, v })
  }
  // And a sweep of 250 children logged at once, 50 sharing each start time (ties broken by run id).
  const T0 = Date.UTC(2024, 0, 1)
  const parent = make('bulk', 'bulk-sweep')
  tracker.logChildRuns(parent, Array.from({ length: 250 }, (_, i) => ({ name: `k${String(i).padStart(3, '0')}`, params: { group: 'bulk' }, metrics: (i % 25 === 0 ? {} : { w: (i * 37) % 11 }) as Record<string, number>, startTime: T0 + Math.floor(i / 50), endTime: T0 + 1000 })))
  // 70 params (p00 … p69): more than the 60 columns a view shows.
  ids.wide = make('wide', 'wide-run', { params: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`p${String(i).padStart(2, '0')}`, i])) })
  // Metrics with units: a fraction shown as a percentage, a ratio with two decimals, a count grouped.
  ids.units = make('units', 'u1', { metrics: { totalReturn: 0.1234, maxDrawdown: 0.25, sharpe: 0.75, trades: 1234, custom: 0.123456789 } })
  // A deleted run and a kept one.
  ids.kept = make('lifecycle', 'kept')
  ids.gone = make('lifecycle', 'gone')
  tracker.deleteRuns([ids.gone], { reason: 'bad data <b>x</b>' })
  server = await startServer({ home, token: workspaceToken(home), port: 0 })
})
afterAll(async () => {
  await server?.close()
  if (home !== undefined) rmSync(home, { recursive: true, force: true })
})

describe('sorting', () => {
  it('by a metric, numerically, over the whole view: 100, 10, 9 descending, 9, 10, 100 ascending; the run without it last both ways', async () => {
    const desc = await get('/runs?experiment=sorting&sort=metrics.sharpe&dir=desc')
    expect(desc.status).toBe(200)
    expect(names(desc.doc)).toEqual(['hundred', 'ten', 'nine', 'none'])
    const asc = await get('/runs?experiment=sorting&sort=metrics.sharpe&dir=asc')
    expect(names(asc.doc)).toEqual(['nine', 'ten', 'hundred', 'none'])
    // The header shows the sort and links to the other direction; the page is not the unsorted one's cached bytes.
    const th = desc.doc.querySelector('th[aria-sort]')
    expect(th.getAttribute('aria-sort')).toBe('descending')
    expect(th.textContent).toBe('metrics.sharpe ▼')
    const href = new URL(th.querySelector('a').getAttribute('href'), 'http://x')
    expect([href.pathname, href.searchParams.get('sort'), href.searchParams.get('dir'), href.searchParams.get('experiment')]).toEqual(['/runs', 'metrics.sharpe', 'asc', 'sorting'])
  })

  it('a metric column not yet sorted sorts largest first; a name column A to Z', async () => {
    const page = await get('/runs?experiment=sorting')
    const link = (label: string) => new URL([...page.doc.querySelectorAll('th a.sort')].find((a: any) => a.textContent === label).getAttribute('href'), 'http://x').searchParams
    expect(link('metrics.sharpe').get('dir')).toBe('desc')
    expect(link('run').get('sort')).toBe('name')
    expect(link('run').get('dir')).toBe('asc')
    expect(names((await get('/runs?experiment=sorting&sort=name')).doc)).toEqual(['hundred', 'nine', 'none', 'ten'])
  })

  it('by a param: strings that read as numbers as numbers ("9" < "10" < "100"), then other strings', async () => {
    expect(names((await get('/runs?experiment=sorting&sort=params.fast&dir=asc')).doc)).toEqual(['nine', 'ten', 'hundred', 'none'])
    expect(names((await get('/runs?experiment=sorting&sort=params.fast&dir=desc')).doc)).toEqual(['none', 'hundred', 'ten', 'nine'])
  })

  it('by the count of child runs: the sweep (3) first', async () => {
    expect(names((await get('/runs?experiment=sweeps&sort=children&dir=desc')).doc)).toEqual(['grid', 'solo'])
  })

  it('a sorted search: the filter matches child runs too, sorted over every match', async () => {
    const page = await get(`/runs?filter=${encodeURIComponent('metrics.sharpe >= 1 and metrics.sharpe <= 10')}&sort=metrics.sharpe&dir=asc`)
    expect(page.status).toBe(200)
    expect(names(page.doc)).toEqual(['c1', 'c2', 'c3', 'nine', 'ten'])
  })

  it('refuses a bad sort, dir or cols with a 400 page naming the parameter, the value escaped', async () => {
    const cases: [string, RegExp][] = [
      ['/runs?sort=bogus', /^sort: no column "bogus"/],
      ['/runs?sort=params.', /^sort: no column "params\."/],
      ['/runs?sort=metrics.sharpe&dir=sideways', /^dir: expected asc or desc \(received "sideways"\)/],
      ['/runs?dir=asc', /^dir: given without sort/],
      ['/runs?cols=fast', /^cols: "fast" is not a column/],
      [`/runs?sort=${encodeURIComponent(HOSTILE)}`, /^sort: no column "<img src=x onerror=alert\(1\)>"/],
    ]
    for (const [path, message] of cases) {
      const page = await get(path)
      expect(page.status, path).toBe(400)
      expect(page.doc.querySelector('.error-box').textContent, path).toMatch(message)
      expect(page.text).not.toContain(HOSTILE)
    }
    // A cursor from another sort is refused, not misread.
    const other = await get(`/runs?sort=metrics.sharpe&dir=desc&cursor=${encodeURIComponent(`s.${Buffer.from(JSON.stringify(['metrics.v', 'desc', null, 1, 'x'])).toString('base64url')}`)}`)
    expect(other.status).toBe(400)
    expect(other.doc.querySelector('.error-box').textContent).toMatch(/^cursor was given by a page sorted by "metrics\.v" desc, not by "metrics\.sharpe" desc/)
    // Malformed sorted cursors: each a 400 naming the cursor, never a 500 or a misread page.
    const b64 = (v: unknown) => `s.${Buffer.from(JSON.stringify(v)).toString('base64url')}`
    let nested: unknown = 1
    for (let i = 0; i < 900; i++) nested = [nested]
    const bad = ['s.', 's.!!!', `s.${Buffer.from('not json').toString('base64url')}`, b64({}), b64(nested), b64(['metrics.sharpe', 'desc', 'NaN', 1, 'x']), b64(['metrics.sharpe', 'desc', null, 1.5, 'x']), b64(['metrics.sharpe', 'desc', null, 1, 'r'.repeat(65)]), `s.${'A'.repeat(2100)}`]
    for (const cursor of bad) {
      const page = await get(`/runs?sort=metrics.sharpe&dir=desc&cursor=${encodeURIComponent(cursor)}`)
      expect(page.status, cursor.slice(0, 40)).toBe(400)
      expect(page.doc.querySelector('.error-box').textContent, cursor.slice(0, 40)).toMatch(/cursor/)
    }
  })
})

describe('paging a sorted view', () => {
  /** Follows "next page" links from `path`; `between` runs after the first page. */
  async function walk(path: string, between?: () => void): Promise<{ seen: string[]; pages: number }> {
    const seen: string[] = []
    let at: string | undefined = path
    let pages = 0
    while (at !== undefined) {
      const page = await get(at)
      expect(page.status, at).toBe(200)
      seen.push(...names(page.doc))
      pages++
      if (pages === 1) between?.()
      const next = [...page.doc.querySelectorAll('a')].find((a: any) => a.textContent === 'next page →')
      at = next === undefined ? undefined : next.getAttribute('href')
    }
    return { seen, pages }
  }

  /** Values in the order seen: descending (ties in any order), the runs without a value last. */
  function expectDescending(values: (number | undefined)[], missing: number): void {
    const present = values.length - missing
    expect(values.slice(0, present).every((x, i) => x !== undefined && (i === 0 || x <= values[i - 1]!))).toBe(true)
    expect(values.slice(present).every((x) => x === undefined)).toBe(true)
  }

  it('returns every run exactly once, in order, across pages, also when runs are added between pages', async () => {
    // A run added after the first page sorts before the place the cursor keeps: it must not shift the rest.
    const { seen, pages } = await walk('/runs?experiment=paging&sort=metrics.v&dir=desc', () => make('paging', 'late', { metrics: { v: 6 } }))
    expect(pages).toBe(3) // 100 + 100 + 5
    expect(seen.length).toBe(PAGING_RUNS)
    expect(new Set(seen)).toEqual(new Set(paging.map((e) => e.name)))
    const v = new Map(paging.map((e) => [e.name, e.v]))
    expectDescending(seen.map((n) => v.get(n)), 21) // i = 0, 10, …, 200 have no v
  })

  it('a sorted search pages the same way: 250 child runs, ties on value and start time, each once', async () => {
    const { seen, pages } = await walk(`/runs?filter=${encodeURIComponent('params.group = "bulk"')}&sort=metrics.w&dir=desc`)
    expect(pages).toBe(3)
    expect(seen.length).toBe(250)
    expect(new Set(seen).size).toBe(250)
    const w = (name: string) => {
      const i = Number(name.slice(1))
      return i % 25 === 0 ? undefined : (i * 37) % 11
    }
    expectDescending(seen.map(w), 10)
  })
})

describe('columns', () => {
  it('cols= shows exactly the columns asked for after the fixed ones; the chooser offers every key of the view', async () => {
    const page = await get('/runs?experiment=sorting&cols=tags.note,params.fast')
    expect(headers(page.doc)).toEqual(['', 'run', 'status', 'experiment', 'started', 'duration', 'child runs', 'tags.note', 'params.fast'])
    const row = [...page.doc.querySelectorAll('table.runs tbody tr')].find((tr: any) => tr.textContent.includes('none'))
    const cells = [...row.querySelectorAll('td')].map((td: any) => td.textContent)
    expect(cells.slice(-2)).toEqual(['no sharpe', 'abc'])
    const offered = [...page.doc.querySelectorAll('[data-col-chooser] input[type=checkbox]')].map((i: any) => `${i.getAttribute('value')}${i.hasAttribute('checked') ? ' ✓' : ''}`)
    expect(offered).toEqual(['params.fast ✓', 'metrics.sharpe', 'tags.note ✓'])
    // Without cols, the default: the params and metrics the runs have.
    expect(headers((await get('/runs?experiment=sorting')).doc).slice(7)).toEqual(['params.fast', 'metrics.sharpe'])
    // An empty choice is a choice: no extra columns.
    expect(headers((await get('/runs?experiment=sorting&cols=')).doc).slice(7)).toEqual([])
  })
})

describe('more columns than a view shows', () => {
  it('61 chosen columns: the first 60 shown with a note and a reset link, not a 400 page', async () => {
    const cols = Array.from({ length: 61 }, (_, i) => `params.p${String(i).padStart(2, '0')}`)
    const page = await get(`/runs?experiment=wide&cols=${cols.join(',')}`)
    expect(page.status).toBe(200)
    const extra = headers(page.doc).slice(7)
    expect(extra.length).toBe(60)
    expect(extra[0]).toBe('params.p00')
    expect(extra[59]).toBe('params.p59')
    expect(extra).not.toContain('params.p60')
    const note = page.doc.querySelector('[data-cols-dropped]')
    expect(note.getAttribute('data-cols-dropped')).toBe('1')
    expect(note.textContent).toMatch(/the first 60 chosen are shown, 1 left out/)
    // The reset link keeps the scope and drops the choice.
    const reset = new URL(note.querySelector('a').getAttribute('href'), 'http://x')
    expect([reset.pathname, reset.searchParams.getAll('experiment'), reset.searchParams.has('cols')]).toEqual(['/runs', ['wide'], false])
    // The chooser tells the client its limit; 60 columns exactly: no note.
    expect(page.doc.querySelector('[data-col-chooser]').getAttribute('data-max-cols')).toBe('60')
    const sixty = await get(`/runs?experiment=wide&cols=${cols.slice(0, 60).join(',')}`)
    expect(sixty.status).toBe(200)
    expect(sixty.doc.querySelector('[data-cols-dropped]')).toBeNull()
    expect(headers(sixty.doc).slice(7).length).toBe(60)
  })

  it('every 400 page of /runs links the default view of its scope and marks itself for runs.js', async () => {
    for (const path of ['/runs?experiment=wide&cols=fast', '/runs?experiment=wide&sort=bogus&cols=params.p01', `/runs?experiment=wide&filter=${encodeURIComponent('metrics.x >')}`, '/runs?lifecycle=gone']) {
      const page = await get(path)
      expect(page.status, path).toBe(400)
      const a = page.doc.querySelector('a[data-cols-reset]')
      expect(a, path).not.toBeNull()
      expect(a.textContent).toBe('Reset to the default view')
      const href = new URL(a.getAttribute('href'), 'http://x')
      const scoped = path.startsWith('/runs?experiment=wide')
      expect([href.pathname, href.search], path).toEqual(['/runs', scoped ? '?experiment=wide' : ''])
      expect(page.doc.querySelector('[data-runs-error]').getAttribute('data-scope'), path).toBe(scoped ? 'wide' : '*')
    }
  })
})

describe('metrics with units', () => {
  it('0.1234 totalReturn reads 12.34 %, 0.25 maxDrawdown 25.00 %, sharpe 0.75, trades 1,234; the exact value in the title and the CSV', async () => {
    const page = await get('/runs?experiment=units&cols=metrics.totalReturn,metrics.maxDrawdown,metrics.sharpe,metrics.trades,metrics.custom')
    const cells = [...page.doc.querySelectorAll('table.runs tbody tr[data-run] td')].slice(-5)
    expect(cells.map((td: any) => td.textContent)).toEqual(['12.34 %', '25.00 %', '0.75', '1,234', fmtNumber(0.123456789)])
    expect(cells.map((td: any) => td.getAttribute('title'))).toEqual(['0.1234', '0.25', '0.75', '1234', '0.123456789'])
    const csv = await get('/runs.csv?experiment=units&cols=metrics.totalReturn,metrics.maxDrawdown,metrics.sharpe,metrics.trades')
    expect(csv.text.split('\r\n')[1]!.split(',').slice(-4)).toEqual(['0.1234', '0.25', '0.75', '1234'])
  })
})

describe('deleted runs', () => {
  it('lifecycle=deleted lists the deleted run only, all lists both; the active list links the deleted one', async () => {
    const active = await get('/runs?experiment=lifecycle')
    expect(names(active.doc)).toEqual(['kept'])
    const to = [...active.doc.querySelectorAll('a')].find((a: any) => a.textContent === 'Deleted runs')
    expect(new URL(to.getAttribute('href'), 'http://x').search).toBe('?experiment=lifecycle&lifecycle=deleted')
    const deleted = await get('/runs?experiment=lifecycle&lifecycle=deleted')
    expect(deleted.status).toBe(200)
    expect(names(deleted.doc)).toEqual(['gone'])
    expect(deleted.doc.querySelector('h1').textContent).toBe('Runs: deleted in lifecycle')
    // No delete button for runs deleted already; the search box keeps the view.
    expect(deleted.doc.querySelector('[data-delete-button]')).toBeNull()
    expect(deleted.doc.querySelector('form[data-runs-filter] input[name=lifecycle]').getAttribute('value')).toBe('deleted')
    expect(names((await get('/runs?experiment=lifecycle&lifecycle=all&sort=name')).doc)).toEqual(['gone', 'kept'])
    expect((await get('/runs?lifecycle=sideways')).doc.querySelector('.error-box').textContent).toMatch(/^lifecycle: expected active, deleted or all \(received "sideways"\)/)
  })
})

describe('CSV export', () => {
  it('the whole view, cell by cell: quotes, commas and line breaks quoted, formulas defused, numbers in full', async () => {
    const r = await get('/runs.csv?experiment=csv&sort=name&dir=asc&cols=params.p,metrics.x,tags.t')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="runs.csv"')
    const runs = new Map(tracker.summaries().map((s) => [s.info.runId, s.info]))
    const fixed = (id: string) => {
      const info = runs.get(id)!
      return `${id},{NAME},FINISHED,${info.experimentId},${new Date(info.startTime).toISOString()},${info.endTime! - info.startTime},0`
    }
    // Sorted by name, code unit order: "-minus" < "<img…" < "=HYPERLINK" < "a,b…" < "neg".
    const expected = [
      'run_id,name,status,experiment,started,duration_ms,child_runs,params.p,metrics.x,tags.t',
      `${fixed(ids.dash!).replace('{NAME}', "'-minus")},ok,,`,
      `${fixed(ids.hostile!).replace('{NAME}', HOSTILE)},<script>alert(2)</script>,1e+21,`,
      `${fixed(ids.formula!).replace('{NAME}', `"'=HYPERLINK(""x"")"`)},'+1+2,-0.25,`,
      `${fixed(ids.quoted!).replace('{NAME}', '"a,b ""q""\nline2"')},'@sum,1.5,plain`,
      `${fixed(ids.negative!).replace('{NAME}', 'neg')},-0.5,,`,
      '',
    ].join('\r\n')
    expect(r.text).toBe(expected)
  })

  it('exports every row of the view, not one page; the page links the export of what it shows', async () => {
    const all = await get('/runs.csv?experiment=paging&sort=metrics.v&dir=desc&cols=metrics.v')
    const lines = all.text.trimEnd().split('\r\n')
    expect(lines.length).toBe(1 + PAGING_RUNS + 1) // the header, the paging runs and "late"
    const page = await get('/runs?experiment=sorting&sort=metrics.sharpe&dir=desc')
    const href = new URL(page.doc.querySelector('a.export').getAttribute('href'), 'http://x')
    expect(href.pathname).toBe('/runs.csv')
    expect([href.searchParams.get('sort'), href.searchParams.get('dir'), href.searchParams.get('cols'), href.searchParams.get('experiment')]).toEqual(['metrics.sharpe', 'desc', 'params.fast,metrics.sharpe', 'sorting'])
    const csv = await get(`${href.pathname}${href.search}`)
    expect(csv.text.split('\r\n').slice(1, 5).map((l) => l.split(',')[1])).toEqual(['hundred', 'ten', 'nine', 'none'])
  })

  it('a bad sort is a 400 JSON naming the parameter', async () => {
    const r = await get('/runs.csv?sort=nope')
    expect(r.status).toBe(400)
    expect(JSON.parse(r.text).error).toMatch(/^sort: no column "nope"/)
  })
})

describe('a sweep folded into one row', () => {
  it('the parent is one row with its count linking to its page; its child rows come as a fragment of the same columns', async () => {
    const page = await get('/runs?experiment=sweeps&cols=params.fast,metrics.sharpe')
    expect(names(page.doc)).toEqual(['solo', 'grid'])
    const parent = page.doc.querySelector(`tr[data-run="${ids.sweep}"]`)
    expect(parent.getAttribute('data-children')).toBe('3')
    expect(parent.querySelector('a.child-count').getAttribute('href')).toBe(`/runs/${ids.sweep}`)
    expect(parent.querySelector('a.child-count').textContent).toBe('3')

    const fragment = await get(`/runs/${ids.sweep}/children?fragment=1&cols=params.fast,metrics.sharpe&sort=metrics.sharpe&dir=desc`)
    expect(fragment.status).toBe(200)
    expect(fragment.text.startsWith('<tr ')).toBe(true)
    const rows = [...fragment.doc.querySelectorAll('tr')]
    expect(rows.map((tr: any) => tr.getAttribute('data-parent'))).toEqual([ids.sweep, ids.sweep, ids.sweep])
    expect(rows.map((tr: any) => tr.querySelector('a').textContent)).toEqual(['c3', 'c2', 'c1'])
    // As many cells as the table has columns (checkbox, 5 fixed, child runs, 2 chosen), the chosen ones last.
    expect(rows.map((tr: any) => tr.querySelectorAll('td').length)).toEqual([9, 9, 9])
    // params.fast as logged; metrics.sharpe a ratio, with two decimals.
    expect([...rows[0].querySelectorAll('td')].slice(-2).map((td: any) => td.textContent)).toEqual(['3', '3.00'])
    expect(rows[0].querySelector('input[name=runs]').getAttribute('value')).toBe(ids.c3)
  })

  it('an unknown or hostile id is a 404 JSON', async () => {
    for (const id of ['nope', '..%2F..%2Fsecret', encodeURIComponent(HOSTILE), '%2e%2e']) {
      const r = await get(`/runs/${id}/children?fragment=1`)
      expect(r.status, id).toBe(404)
      // JSON, never sniffed as HTML: whatever it quotes of the id stays inert.
      expect(r.headers.get('content-type')).toMatch(/^application\/json/)
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(typeof JSON.parse(r.text).error).toBe('string')
    }
  })
})

describe('hostile data', () => {
  it('run names, params and column names are escaped in the table, the chooser and the headers', async () => {
    const page = await get(`/runs?experiment=csv&cols=${encodeURIComponent('params.p,params.<b>x</b>')}`)
    expect(page.status).toBe(200)
    expect(page.text).not.toContain(HOSTILE)
    expect(page.text).not.toContain('<script>alert(2)')
    expect(page.text).not.toContain('<b>x</b>')
    expect(names(page.doc)).toContain(HOSTILE)
    expect(headers(page.doc)).toContain('params.<b>x</b>')
    expect(page.doc.querySelectorAll('img, b').length).toBe(0)
  })
})
