// The portfolio's input files read strictly: signals (JSON lines or an array), weights tables, positions,
// results tables; and the production config's weights. Each problem is one line naming file and line.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { directionOf, latestPerTarget, parsePositions, parseResultsCsv, parseSignals, parseWeightsTable, prodConfig, readSignalsFile, schemeWeights, MAX_SIGNALS_BYTES } from '../../lib/portfolio/index.js'

const s = (over: Record<string, unknown> = {}) => JSON.stringify({ time: '2024-01-02T00:00:00.000Z', target: 'BTC/USDT', model: 'm@1', probability: 0.7, side: 'long', confidence: 0.3999999999999999, ...over })

describe('signals', () => {
  it('JSON lines or an array; every field checked; the latest per target', () => {
    const text = [s(), '', s({ time: '2024-01-03T00:00:00.000Z', probability: 0.2, side: 'short', confidence: 0.6 }), s({ target: 'A~B', side: 'long spread', time: '2024-01-01T00:00:00Z' }), s({ time: '2024-01-01T00:00:00.000Z' })].join('\n')
    const signals = parseSignals(text, 'sig.jsonl')
    expect(signals.length).toBe(4)
    expect(latestPerTarget(signals).map((x) => [x.target, x.time])).toEqual([['BTC/USDT', '2024-01-03T00:00:00.000Z'], ['A~B', '2024-01-01T00:00:00Z']])
    expect(parseSignals(`[${s()}]`, 'sig.json').length).toBe(1)
    const bad: [string, string][] = [
      [s({ extra: 1 }), 'sig.jsonl:1: no field "extra" (fields: time, target, model, probability, side, confidence)'],
      [s({ time: 'yesterday' }), 'sig.jsonl:1: time must be an ISO time'],
      [s({ target: 'A~B~C' }), 'sig.jsonl:1: target must be a symbol or a pair "Y~X" of symbols (received "A~B~C")'],
      [s({ target: 'A~A', side: 'long spread' }), 'sig.jsonl:1: target A~A pairs a symbol with itself'],
      [s({ model: 'no version' }), 'sig.jsonl:1: model must be a registry reference NAME@VERSION'],
      [s({ probability: null }), 'sig.jsonl:1: probability must be a number in [0, 1] (received null)'],
      [s({ confidence: 0.9 }), 'sig.jsonl:1: confidence 0.9 is not |2p − 1| of probability 0.7'],
      [s({ side: 'buy' }), 'sig.jsonl:1: side must be one of'],
      ['[1]', 'sig.jsonl entry 1: expected an object'],
      [JSON.stringify({ time: '2024-01-02T00:00:00.000Z' }), 'sig.jsonl:1: field target is missing'],
    ]
    for (const [t, message] of bad) expect(() => parseSignals(t, 'sig.jsonl'), message).toThrow(message)
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-portfolio-in-'))
    const big = join(dir, 'big.jsonl')
    writeFileSync(big, ' '.repeat(MAX_SIGNALS_BYTES + 1))
    expect(() => readSignalsFile(big)).toThrow(`signals file ${big} is ${MAX_SIGNALS_BYTES + 1} bytes; expected at most ${MAX_SIGNALS_BYTES}`)
    const empty = join(dir, 'empty.jsonl')
    writeFileSync(empty, '\n')
    expect(() => readSignalsFile(empty)).toThrow(`signals file ${empty} holds no signals`)
  })

  it('direction: the side; a pair flat below p 0.5 (no reversion expected); anything under min confidence flat', () => {
    const one = (over: Record<string, unknown>) => parseSignals(s(over), 'x')[0]!
    expect(directionOf(one({}))).toBe(1)
    expect(directionOf(one({ side: 'short' }))).toBe(-1)
    expect(directionOf(one({ target: 'A~B', side: 'short spread' }))).toBe(-1)
    expect(directionOf(one({ target: 'A~B', side: 'long spread', probability: 0.3 }))).toBe(0)
    expect(directionOf(one({}), 0.5)).toBe(0)
  })
})

describe('weights, positions and results tables', () => {
  it('weights: target,weight or strategy,weight (CSV or JSON); problems name the line', () => {
    expect(parseWeightsTable('target,weight\nA~B,0.6\n# note\nC,0.4\n', 'w.csv').map((r) => [r.row, r.target, r.weight])).toEqual([[2, 'A~B', 0.6], [4, 'C', 0.4]])
    expect(parseWeightsTable('strategy,symbols,weight\nsma@2,BTC/USDT|ETH/USDT,1\n', 'w.csv')[0]).toMatchObject({ strategy: 'sma@2', symbols: ['BTC/USDT', 'ETH/USDT'] })
    expect(parseWeightsTable('[{"target":"A","weight":1}]', 'w.json')[0]).toMatchObject({ target: 'A', weight: 1, label: 'entry 1' })
    expect(() => parseWeightsTable('name,weight\nA,1\n', 'w.csv')).toThrow('weights file w.csv line 1: unknown column "name"; expected target,weight or strategy,weight (symbols optional)')
    expect(() => parseWeightsTable('target,weight\nA,-1\n', 'w.csv')).toThrow('weights file w.csv line 2: weight must be a finite number ≥ 0 (received "-1")')
    expect(() => parseWeightsTable('target,weight\nA,1\nA,2\n', 'w.csv')).toThrow('weights file w.csv line 3: A is already on line 2')
    expect(() => parseWeightsTable('target,weight\n', 'w.csv')).toThrow('weights file w.csv holds no rows')
    expect(() => parseWeightsTable('[{"target":"A","weight":1,"x":2}]', 'w.json')).toThrow('weights file w.json entry 1: no field "x"')
  })

  it('positions: JSON or CSV, signed quantities', () => {
    expect(parsePositions('{"BTC/USDT":0.5,"ETH/USDT":-2}', 'p.json')).toEqual({ 'BTC/USDT': 0.5, 'ETH/USDT': -2 })
    expect(parsePositions('symbol,qty\nA,1\nB,-3\n', 'p.csv')).toEqual({ A: 1, B: -3 })
    expect(() => parsePositions('symbol,qty\nA,x\n', 'p.csv')).toThrow('positions file p.csv line 2: the quantity of A must be a finite number (received "x")')
    expect(() => parsePositions('symbol,qty\nA,1\nA,2\n', 'p.csv')).toThrow('positions file p.csv line 3: A is listed twice')
    expect(() => parsePositions('sym,q\n', 'p.csv')).toThrow('positions file p.csv line 1: expected the header symbol,qty')
  })

  it('schemes on results; the production config sums to at most 1', () => {
    const rows = parseResultsCsv('target,sharpe,volatility\nA,2,0.1\nB,0,0.3\nC,0.5,0.6\n', 'r.csv')
    expect(schemeWeights(rows, 'winners', 'r')).toEqual({ A: 0.5, B: 0, C: 0.5 })
    // 1/σ: 10, 10/3, 5/3 of 15.
    const inv = schemeWeights(rows, 'inverse-vol', 'r')
    expect([inv.A, inv.B, inv.C].map((v) => v!.toFixed(12))).toEqual(['0.666666666667', '0.222222222222', '0.111111111111'])
    expect(() => schemeWeights(parseResultsCsv('name,sharpe\nA,-1\n', 'r.csv'), 'winners', 'results file r.csv')).toThrow('results file r.csv: no row has a Sharpe ratio > 0; the winners scheme would weight nothing')
    expect(() => schemeWeights(rows, 'best' as never, 'r')).toThrow('--scheme must be one of winners, equal, inverse-vol (received "best")')
    const prod = prodConfig([{ strategy: 's@1', symbols: ['A'], weight: 1 }, { strategy: 's@1', symbols: ['B'], weight: 0 }, { strategy: 's@1', symbols: ['C'], weight: 2 }])
    expect(prod.map((r) => r.symbols[0])).toEqual(['A', 'C'])
    expect(prod[0]!.weight + prod[1]!.weight).toBeLessThanOrEqual(1)
    expect(prod[0]!.weight).toBeCloseTo(1 / 3, 11)
    expect(() => prodConfig([{ strategy: 's@1', symbols: ['A'], weight: 0 }])).toThrow('--prod-config: no strategy has a weight > 0; nothing to deploy')
  })
})
