import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { declaredParameters, injectedSource, parseParameterArgs, parseParameterValue, toTsLiteral } from '../../kernel/parameters.js'

describe('notebook parameters', () => {
  it('parses key=value arguments into typed values', () => {
    expect(parseParameterArgs(['start=2010-01-01', 'n=20', 'k=2.5', 'neg=-3e-2', 'on=true', 'off=false', 'none=null'])).toEqual({
      start: '2010-01-01',
      n: 20,
      k: 2.5,
      neg: -0.03,
      on: true,
      off: false,
      none: null,
    })
    expect(parseParameterArgs(['symbols=["BTC/USDT","ETH/USDT"]', 'cfg={"a":1}', 'q="42"', 'expr=a=b'])).toEqual({
      symbols: ['BTC/USDT', 'ETH/USDT'],
      cfg: { a: 1 },
      q: '42',
      expr: 'a=b',
    })
    expect(parseParameterValue('[not json')).toBe('[not json')
    expect(parseParameterValue('1.2.3')).toBe('1.2.3')
  })

  it('rejects malformed parameters with one line naming the input', () => {
    expect(() => parseParameterArgs(['start'])).toThrow(new ConfigError('parameter "start" is not key=value'))
    expect(() => parseParameterArgs(['=5'])).toThrow(/not key=value/)
    expect(() => parseParameterArgs(['1x=5'])).toThrow(/parameter name "1x" is not a usable TypeScript identifier/)
    expect(() => parseParameterArgs(['class=5'])).toThrow(/not a usable TypeScript identifier/)
  })

  it('writes TypeScript literals', () => {
    expect(toTsLiteral(3)).toBe('3')
    expect(toTsLiteral(-0.5)).toBe('-0.5')
    expect(toTsLiteral(NaN)).toBe('NaN')
    expect(toTsLiteral(-Infinity)).toBe('-Infinity')
    expect(toTsLiteral('it\'s "x"\n')).toBe('"it\'s \\"x\\"\\n"')
    expect(toTsLiteral([1, 'a', null, { b: true }])).toBe('[1,"a",null,{"b":true}]')
    expect(() => toTsLiteral(() => 1, 'f')).toThrow(/parameter f must be/)
    // A key named "constructor" is data (it was refused as "not a plain object": an attack review).
    expect(toTsLiteral({ constructor: { a: 1 }, b: 2 }, 'o')).toBe('{"constructor":{"a":1},"b":2}')
    expect(toTsLiteral(JSON.parse('{"o":{"constructor":{"prototype":1}}}'), 'o')).toBe('{"o":{"constructor":{"prototype":1}}}')
    // Nesting past 64 levels is named (3,000 levels overflowed the stack: "Maximum call stack size exceeded").
    let deep: unknown = 1
    for (let k = 0; k < 3000; k++) deep = [deep]
    expect(() => toTsLiteral(deep, 'd')).toThrow('parameter d is nested more than 64 levels deep; expected a flatter value')
    let fine: unknown = 1
    for (let k = 0; k < 64; k++) fine = { k: fine }
    expect(toTsLiteral(fine, 'f').length).toBeGreaterThan(64 * 5)
    expect(() => toTsLiteral(new Date(0), 'd')).toThrow(/parameter d must be/)
  })

  it('reuses the type annotations of the parameters cell', async () => {
    const declared = await declaredParameters("let start: string = '2000-01-01'\nconst n = 5\nlet mode: 'fast' | 'slow' = 'fast'\n// note\n")
    expect(declared).toEqual([{ name: 'start', type: 'string' }, { name: 'n' }, { name: 'mode', type: "'fast' | 'slow'" }])
    const source = injectedSource({ start: '2010-01-01', n: 7, mode: 'slow', extra: [1, 2] }, declared)
    expect(source.split('\n')).toEqual([
      '// Parameters injected by `mtflow notebook run`',
      'let start: string = "2010-01-01"',
      'let n = 7',
      'let mode: \'fast\' | \'slow\' = "slow"',
      'let extra = [1,2]',
    ])
  })
})

describe('parameter literals that JSON alone gets wrong', () => {
  it('escapes U+2028 and U+2029, which TypeScript 5.0 reads as line breaks', () => {
    expect(toTsLiteral('a\u2028b\u2029c')).toBe('"a\\u2028b\\u2029c"')
    expect(toTsLiteral(['\u2028'])).toBe('["\\u2028"]')
  })

  it('refuses __proto__, which an object literal or an assignment would turn into a prototype', () => {
    expect(() => parseParameterArgs(['__proto__=1'])).toThrow(/parameter name "__proto__" is not a usable TypeScript identifier/)
    const value = parseParameterValue('{"__proto__":{"polluted":1},"k":2}')
    expect(() => toTsLiteral(value, 'o')).toThrow('parameter o has a "__proto__" key, which a TypeScript object literal cannot carry')
  })
})
