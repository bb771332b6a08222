// The search language: parse trees for precedence, evaluation on hand-made runs (the expected matches
// picked by reading the runs, not by running the code), and errors that point at the position.

import { describe, expect, it } from 'vitest'
import { compileFilter, FilterError, MAX_LIKE_PATTERN, parseFilter, parseOrderBy } from '../../lib/track/index.js'
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
    // The position is the offending word's (it was the end of the text).
    expect(() => parseOrderBy('metrics.sharpe sideways')).toThrow('invalid filter at position 15: expected asc, desc or the end of the order-by, found "sideways" (in "metrics.sharpe sideways")')
    expect(() => parseOrderBy('metrics.sharpe desc x')).toThrow('at position 20: expected asc, desc or the end of the order-by, found "x"')
  })
})

describe('like and ilike in time linear in the text (an attack review: a dozen % took seconds, 18 hung the server)', () => {
  /** LIKE by its definition, as a table of which prefix of the pattern matches which prefix of the text (no backtracking). */
  function reference(text: string, pattern: string): boolean {
    let row = new Array<boolean>(text.length + 1).fill(false)
    row[0] = true
    for (const p of pattern) {
      const next = new Array<boolean>(text.length + 1).fill(false)
      if (p === '%') {
        let any = false
        for (let t = 0; t <= text.length; t++) next[t] = any = any || row[t]!
      } else for (let t = 1; t <= text.length; t++) next[t] = row[t - 1]! && (p === '_' || text[t - 1] === p)
      row = next
    }
    return row[text.length]!
  }
  const one = (name: string) => [run('x', { name })]

  it('matches as the definition on 20,000 random patterns and texts of a few letters, % and _', () => {
    let seed = 42
    const pick = (alphabet: string, n: number) => {
      let out = ''
      for (let k = 0; k < n; k++) {
        seed = (seed * 48271) % 2147483647
        out += alphabet[seed % alphabet.length]
      }
      return out
    }
    for (let k = 0; k < 20_000; k++) {
      seed = (seed * 48271) % 2147483647
      const text = pick('ab', seed % 9)
      seed = (seed * 48271) % 2147483647
      const pattern = pick('ab%_', seed % 7)
      const got = one(text).filter(compileFilter(parseFilter(`attributes.name like '${pattern}'`))).length === 1
      expect(got, `${JSON.stringify(text)} like ${JSON.stringify(pattern)}`).toBe(reference(text, pattern))
    }
  })

  it('answers at once where a backtracking expression never would: 40 % against 20,000 letters, a long piece spanning words', () => {
    const text = 'a'.repeat(20_000)
    expect(one(text).filter(compileFilter(parseFilter(`attributes.name like '${'%'.repeat(40)}!'`)))).toHaveLength(0)
    expect(one(text).filter(compileFilter(parseFilter(`attributes.name like '${'%a'.repeat(40)}%'`)))).toHaveLength(1)
    expect(one(text).filter(compileFilter(parseFilter(`attributes.name like '%${'a'.repeat(70)}b%'`)))).toHaveLength(0)
    const long = `${'x'.repeat(100)}${'ab'.repeat(40)}${'y'.repeat(100)}`
    expect(one(long).filter(compileFilter(parseFilter(`attributes.name like '%${'a_'.repeat(40)}y%'`)))).toHaveLength(1)
    expect(one(long).filter(compileFilter(parseFilter(`attributes.name like '%${'a_'.repeat(41)}%'`)))).toHaveLength(0)
    expect(one('SMA Cross').filter(compileFilter(parseFilter(`attributes.name ilike 'sma%CROSS'`)))).toHaveLength(1)
  })

  it('ilike folds case one UTF-16 unit at a time, as the /i expression it replaced (a review: ΟΔΟΣ, İstanbul, the Kelvin sign)', () => {
    const ilike = (text: string, pattern: string) => one(text).filter(compileFilter(parseFilter(`attributes.name ilike '${pattern}'`))).length === 1
    expect(ilike('ΟΔΟΣ', '%Σ')).toBe(true)
    expect(ilike('ΟΔΟΣ', 'οδοσ')).toBe(true)
    expect(ilike('ΣΑ', '%ς%')).toBe(true)
    expect(ilike('İstanbul', '_stanbul')).toBe(true)
    expect(ilike('\u212a', 'k')).toBe(false) // the Kelvin sign is not k under /i without /u
    expect(ilike('Straße', 'STRASSE')).toBe(false) // ß is one unit, SS two
    expect(ilike('SMA Cross', 'sma%cross')).toBe(true)
  })

  it(`a like pattern is at most ${MAX_LIKE_PATTERN} characters; a piece longer than the text matches nothing at once`, () => {
    expect(() => parseFilter(`attributes.name like '${'a'.repeat(MAX_LIKE_PATTERN + 1)}'`)).toThrow(`expected a pattern of at most ${MAX_LIKE_PATTERN} characters after like (this one has ${MAX_LIKE_PATTERN + 1})`)
    expect(one('aaa').filter(compileFilter(parseFilter(`attributes.name like '%${'a'.repeat(MAX_LIKE_PATTERN - 2)}%'`)))).toHaveLength(0)
    expect(one('a'.repeat(600)).filter(compileFilter(parseFilter(`attributes.name like '%${'a_'.repeat(200)}%'`)))).toHaveLength(1)
  })
})
