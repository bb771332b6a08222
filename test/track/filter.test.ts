// The search language: parse trees for precedence, evaluation on hand-made runs (the expected matches
// picked by reading the runs, not by running the code), and errors that point at the position.

import { describe, expect, it } from 'vitest'
import { compileFilter, FilterError, parseFilter, parseOrderBy } from '../../lib/track/index.js'
import type { RunSummary } from '../../lib/track/index.js'

function run(id: string, o: { metrics?: Record<string, number>; params?: Record<string, string>; tags?: Record<string, string>; status?: RunSummary['info']['status']; start?: number; end?: number; name?: string }): RunSummary {
  return {
    info: { runId: id, experimentId: 'e', name: o.name ?? id, status: o.status ?? 'FINISHED', startTime: o.start ?? 0, ...(o.end === undefined ? {} : { endTime: o.end }), host: 'h', pid: 1, lineage: {} },
    params: o.params ?? {},
    metrics: Object.fromEntries(Object.entries(o.metrics ?? {}).map(([k, value]) => [k, { value, step: 0, timestamp: 0 }])),
    tags: o.tags ?? {},
  }
}

const runs = [
  run('a', { metrics: { sharpe: 1.5, maxDrawdown: 0.1 }, params: { fast: '10', slow: '30' }, tags: { kind: 'single' }, start: Date.parse('2026-01-01'), end: Date.parse('2026-01-01') + 5000 }),
  run('b', { metrics: { sharpe: 0.8 }, params: { fast: '10', slow: '50' }, tags: { kind: 'sweep' }, start: Date.parse('2026-02-01') }),
  run('c', { metrics: { sharpe: 2.1 }, params: { fast: '20', slow: '9' }, tags: { kind: 'sweep', 'mtflow.strategy': 'sma-cross' }, status: 'FAILED', start: Date.parse('2026-03-01') }),
  run('d', { metrics: { sharpe: NaN }, params: { fast: 'auto' }, tags: {}, status: 'RUNNING', name: 'SMA Cross run', start: Date.parse('2026-04-01') }),
]

const match = (filter: string) =>
  runs
    .filter(compileFilter(parseFilter(filter)))
    .map((r) => r.info.runId)
    .join('')

describe('the search filter', () => {
  it('gives AND precedence over OR, and parentheses override it', () => {
    expect(parseFilter('metrics.a > 1 or metrics.b > 1 and metrics.c > 1')).toMatchObject({ type: 'or', right: { type: 'and' } })
    expect(parseFilter('(metrics.a > 1 or metrics.b > 1) and metrics.c > 1')).toMatchObject({ type: 'and', left: { type: 'or' } })
    // a: sharpe 1.5, fast 10 → yes; b: sharpe 0.8 → no; c: 2.1, sweep → yes; d: NaN → no.
    expect(match('metrics.sharpe > 1 and (params.fast = "10" or tags.kind = "sweep")')).toBe('ac')
    // Without parentheses: (sharpe > 1 and fast = 10) or kind = sweep → a, b, c.
    expect(match('metrics.sharpe > 1 and params.fast = "10" or tags.kind = "sweep"')).toBe('abc')
    expect(match('not (tags.kind = "sweep")')).toBe('ad')
  })

  it('compares metrics as numbers, NaN matching no comparison but !=', () => {
    expect(match('metrics.sharpe >= 1.5')).toBe('ac')
    expect(match('metrics.sharpe < 1')).toBe('b')
    expect(match('metrics.sharpe != 0.8')).toBe('acd')
    expect(match('metrics.maxDrawdown <= 0.1')).toBe('a')
    expect(match('metrics.maxDrawdown is null')).toBe('bcd')
    expect(match('metrics.sharpe > -1e3')).toBe('abc')
  })

  it('compares params that read as numbers numerically against a number, as text against a string', () => {
    // "9" < 30 numerically; as text "9" > "30".
    expect(match('params.slow < 30')).toBe('c')
    expect(match('params.slow < "30"')).toBe('')
    expect(match('params.fast = 10')).toBe('ab')
    expect(match("params.fast = 'auto'")).toBe('d')
    expect(match('params.fast in ("20", "auto")')).toBe('cd')
    expect(match('params.fast not in (10)')).toBe('cd')
  })

  it('matches like and ilike patterns, dotted and quoted tag names, attributes and times', () => {
    expect(match('attributes.name like "SMA%"')).toBe('d')
    expect(match('attributes.name like "sma%"')).toBe('')
    expect(match('attributes.name ilike "sma%run"')).toBe('d')
    expect(match('attributes.run_id like "_"')).toBe('abcd')
    expect(match('tags.mtflow.strategy = "sma-cross"')).toBe('c')
    expect(match('tags."mtflow.strategy" = "sma-cross"')).toBe('c')
    expect(match('tags.`mtflow.strategy` is not null')).toBe('c')
    expect(match('attributes.status in ("FAILED", "RUNNING")')).toBe('cd')
    expect(match('attributes.start_time >= "2026-02-15" and attributes.start_time < "2026-03-15"')).toBe('c')
    expect(match('attributes.duration = 5000')).toBe('a')
    expect(match('metrics.sharpe > 2 AND attributes.status = "FAILED"')).toBe('c')
  })

  it('reads an empty filter as "all runs"', () => {
    expect(parseFilter('  ')).toBeUndefined()
    expect(match('')).toBe('abcd')
  })

  it('points at the position of the mistake', () => {
    const cases: [string, number, RegExp][] = [
      ['metrics.sharpe >', 16, /expected a number/],
      ['metrics.sharpe > 1 and (params.fast = "10"', 42, /expected a closing \)/],
      ['metrics.sharpe ~ 1', 15, /expected a key, an operator or a value/],
      ['sharpe > 1', 0, /metrics\., params\., tags\. or attributes\./],
      ['metrics.sharpe > "high"', 17, /a number \(metrics.sharpe is numeric\)/],
      ['params.fast = "10', 14, /a closing "/],
      ['metrics.sharpe > 1 metrics.sortino > 1', 19, /and, or, or the end/],
      ['attributes.colour = "red"', 11, /an attribute/],
      ['params.fast not 10', 16, /in after not/],
      ['metrics.sharpe is 1', 18, /null after is/],
    ]
    for (const [filter, position, message] of cases) {
      let caught: unknown
      try {
        parseFilter(filter)
      } catch (error) {
        caught = error
      }
      expect(caught, filter).toBeInstanceOf(FilterError)
      expect((caught as FilterError).position, filter).toBe(position)
      expect((caught as FilterError).message, filter).toMatch(message)
      expect((caught as FilterError).message, filter).toContain(`position ${position}`)
      expect((caught as FilterError).message).not.toContain('\n')
    }
  })

  it('parses order-by keys with a direction', () => {
    expect(parseOrderBy('metrics.sharpe desc')).toEqual({ key: { kind: 'metrics', name: 'sharpe' }, direction: 'desc' })
    expect(parseOrderBy('attributes.start_time')).toEqual({ key: { kind: 'attributes', name: 'start_time' }, direction: 'asc' })
    expect(() => parseOrderBy('metrics.sharpe sideways')).toThrow(FilterError)
  })
})
