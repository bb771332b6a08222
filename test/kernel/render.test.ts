import * as Plot from '@observablehq/plot'
import * as aq from 'arquero'
import { tableFromArrays } from 'apache-arrow'
import { describe, expect, it } from 'vitest'
import { formatCell, render } from '../../kernel/render.js'
import { renderPlot } from '../../lib/report/index.js'

function bodyRows(html: string): string[][] {
  const body = html.split('<tbody>')[1]!.split('</tbody>')[0]!
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]!))
}

describe('render', () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ i, x: i / 4, name: `r${i}` }))

  it('shows an array of objects as an HTML table of the first rows with the total count', () => {
    const bundle = render(rows, { rows: 3 })
    const html = bundle.data['text/html']!
    expect(html).toContain('data-rows="25"')
    expect(html).toContain('25 rows × 3 columns (first 3 shown)')
    expect(bodyRows(html)).toEqual([
      ['0', '0', 'r0'],
      ['1', '0.25', 'r1'],
      ['2', '0.5', 'r2'],
    ])
    expect(bundle.data['text/plain']!.split('\n')[0]).toBe('i     x  name')
  })

  it('shows arquero and Arrow tables the same way', () => {
    const t = aq.from(rows)
    expect(bodyRows(render(t, { rows: 2 }).data['text/html']!)).toEqual([
      ['0', '0', 'r0'],
      ['1', '0.25', 'r1'],
    ])
    expect(render(t).data['text/html']).toContain('25 rows × 3 columns (first 10 shown)')
    const arrow = tableFromArrays({ i: Int32Array.from(rows, (r) => r.i), x: Float64Array.from(rows, (r) => r.x) })
    const html = render(arrow, { rows: 2 }).data['text/html']!
    expect(html).toContain('data-rows="25"')
    expect(bodyRows(html)).toEqual([
      ['0', '0'],
      ['1', '0.25'],
    ])
  })

  it('shows columnar records (Bars) with epoch-ms times as dates and scalars in the caption', () => {
    const bars = { symbol: 'SPX', time: new Float64Array([946857600000, 946944000000]), close: new Float64Array([1455.219971, 1399.420044]) }
    const html = render(bars).data['text/html']!
    expect(bodyRows(html)).toEqual([
      ['2000-01-03', '1455.219971'],
      ['2000-01-04', '1399.420044'],
    ])
    expect(html).toContain('symbol: SPX · 2 rows × 2 columns')
  })

  it('shows Plot figures as inline SVG, strings as Markdown, the rest as text', () => {
    const svg = render(renderPlot({ marks: [Plot.lineY([1, 3, 2])] }))
    expect(svg.data['image/svg+xml']).toMatch(/^<svg[^>]*viewBox="0 0 640 400"/)
    expect(svg.data['text/html']).toContain('<path')
    expect(render('# Title').data).toEqual({ 'text/markdown': '# Title', 'text/plain': '# Title' })
    expect(render({ a: 1, b: [1, 2] }).data).toEqual({ 'text/plain': '{ a: 1, b: [ 1, 2 ] }' })
    expect(render(new Float64Array([1.5])).data['text/plain']).toBe('Float64Array(1) [ 1.5 ]')
  })

  it('formats cells for people', () => {
    expect(formatCell(0.1 + 0.2)).toBe('0.3')
    expect(formatCell(NaN)).toBe('NaN')
    expect(formatCell(1e-12)).toBe('1e-12')
    expect(formatCell(1700000000000, 'time')).toBe('2023-11-14T22:13:20Z')
    expect(formatCell(new Date(Date.UTC(2020, 0, 2)))).toBe('2020-01-02')
    expect(formatCell(null)).toBe('')
    expect(render([{ a: '<b>&' }]).data['text/html']).toContain('<td>&lt;b&gt;&amp;</td>')
  })
})
