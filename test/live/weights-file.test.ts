// Weights files (issue 19, point 5: `mtflow deploy --weights FILE`): CSV and JSON give the same pinned
// list; every refusal — unknown strategy ref, weight not finite or ≤ 0, weights summing past 1, the same
// strategy twice on a symbol, an empty file — is one line naming the file, the row and the problem.

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { validateDeploymentDraft } from '../../lib/live/config.js'
import { deploymentName, readWeightsFile, weightedDrafts } from '../../lib/live/weights-file.js'
import { Registry } from '../../lib/track/index.js'

let home: string
let registry: Registry
const sha = (data: string) => createHash('sha256').update(data).digest('hex')
const SMA1 = sha('sma v1\n')
const SMA2 = sha('sma v2\n')
const RSI1 = sha('rsi v1\n')

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-weights-'))
  registry = new Registry(home)
  registry.register('strategies', 'sma-cross', { files: { 'source.ts': 'sma v1\n' } })
  registry.register('strategies', 'sma-cross', { files: { 'source.ts': 'sma v2\n' } })
  registry.register('strategies', 'rsi-reversion', { files: { 'source.ts': 'rsi v1\n' } })
  registry.register('strategies', 'old', { files: { 'source.ts': 'old v1\n' } })
  registry.retire('strategies', 'old', 1)
  registry.setAlias('strategies', 'sma-cross', 'champion', 1)
})
afterAll(() => rmSync(home, { recursive: true, force: true }))

let n = 0
function file(content: string, ext = 'csv'): string {
  const path = join(home, `w${++n}.${ext}`)
  writeFileSync(path, content)
  return path
}

/** The one-line ConfigError of reading `path`. */
function refusal(path: string): string {
  let error: unknown
  try {
    readWeightsFile(path, registry)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(ConfigError)
  expect((error as Error).message).not.toContain('\n')
  return (error as Error).message
}

// Rows are file lines: 1 header, 2 sma, 3 blank, 4 comment, 5 rsi, 6 the three symbols.
const EXPECTED = [
  { ref: 'sma-cross@champion', strategy: { name: 'sma-cross', version: 1, sha256: SMA1 }, symbols: ['BTC/USDT', 'ETH/USDT'], weight: 0.5, row: 2 },
  { ref: 'rsi-reversion', strategy: { name: 'rsi-reversion', version: 1, sha256: RSI1 }, symbols: ['BTC/USDT'], weight: 0.3, row: 5 },
  { ref: 'sma-cross@2', strategy: { name: 'sma-cross', version: 2, sha256: SMA2 }, symbols: ['SOL/USDT', 'ADA/USDT', 'XRP/USDT'], weight: 0.2, row: 6 },
]

describe('readWeightsFile', () => {
  it('reads CSV: header in any order, symbols by spaces or "|", blank and # lines skipped, refs pinned', () => {
    const csv = file('symbols,Strategy,weight\n"BTC/USDT|ETH/USDT",sma-cross@champion,0.5\n\n# rsi on its own\nBTC/USDT, rsi-reversion ,0.3\r\nSOL/USDT ADA/USDT | XRP/USDT,sma-cross@2,.2\n')
    expect(readWeightsFile(csv, registry)).toEqual(EXPECTED)
  })

  it('reads JSON: symbols as a list or a string, params kept; weights summing to 1 within rounding', () => {
    const json = file(
      JSON.stringify([
        { strategy: 'sma-cross@champion', symbols: ['BTC/USDT', 'ETH/USDT'], weight: 0.5, params: { fast: 5, kind: 'ema' } },
        { strategy: 'rsi-reversion', symbols: 'BTC/USDT', weight: 0.3 },
        { strategy: 'sma-cross@2', symbols: 'SOL/USDT|ADA/USDT XRP/USDT', weight: 0.2 },
      ]),
      'json',
    )
    expect(readWeightsFile(json, registry)).toEqual([
      { ...EXPECTED[0], params: { fast: 5, kind: 'ema' }, row: 1 },
      { ...EXPECTED[1], row: 2 },
      { ...EXPECTED[2], row: 3 },
    ])
    // 0.34 + 0.56 + 0.1 = 1.0000000000000002 in doubles: within 1 + 1e-9.
    expect(0.34 + 0.56 + 0.1).toBeGreaterThan(1)
    const sum = file('strategy,symbols,weight\nsma-cross@1,A,0.34\nsma-cross@1,B,0.56\nsma-cross@1,C,0.1\n')
    expect(readWeightsFile(sum, registry).map((w) => w.weight)).toEqual([0.34, 0.56, 0.1])
  })

  it('refuses an unknown strategy, version or alias, and a retired version', () => {
    expect(refusal(file('strategy,symbols,weight\nsma-cross,A,0.5\nnope@1,B,0.2\n'))).toMatch(/^weights file \S+w\d+\.csv line 3: unknown strategy "nope@1": no strategy named "nope" in the registry$/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross@9,A,0.5\n'))).toMatch(/line 2: unknown strategy "sma-cross@9": strategy sma-cross has no version 9 \(versions: 1, 2\)$/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross@challenger,A,0.5\n'))).toMatch(/line 2: unknown strategy "sma-cross@challenger": strategy sma-cross has no alias "challenger" \(aliases: champion\)$/)
    expect(refusal(file('strategy,symbols,weight\nold@1,A,0.5\n'))).toMatch(/line 2: unknown strategy "old@1": strategy old@1 is retired/)
    expect(refusal(file('[{"strategy":"sma-cross@Bad!","symbols":"A","weight":0.1}]', 'json'))).toMatch(/entry 1: strategy must be a registry reference NAME, NAME@VERSION or NAME@ALIAS \(received "sma-cross@Bad!"\)$/)
  })

  it('refuses weights that are not finite or ≤ 0, naming the row', () => {
    const path = (w: string) => file(`strategy,symbols,weight\nsma-cross,A,0.5\nrsi-reversion,A,${w}\n`)
    expect(refusal(path('0'))).toMatch(/line 3: weight must be a finite number > 0 \(received "0"\)$/)
    expect(refusal(path('-0.2'))).toMatch(/line 3: weight must be a finite number > 0 \(received "-0\.2"\)$/)
    expect(refusal(path('abc'))).toMatch(/line 3: weight must be a finite number > 0 \(received "abc"\)$/)
    expect(refusal(path('Infinity'))).toMatch(/line 3: weight must be a finite number > 0 \(received "Infinity"\)$/)
    expect(refusal(path(''))).toMatch(/line 3: weight must be a finite number > 0 \(received ""\)$/)
    expect(refusal(file('[{"strategy":"sma-cross","symbols":"A","weight":"0.5x"}]', 'json'))).toMatch(/entry 1: weight must be a finite number > 0 \(received "0\.5x"\)$/)
    expect(refusal(file('[{"strategy":"sma-cross","symbols":"A","weight":null}]', 'json'))).toMatch(/entry 1: weight must be a finite number > 0 \(received null\)$/)
  })

  it('refuses weights summing past 1, at the row where the sum passes it', () => {
    // 0.5 + 0.3 = 0.8; + 0.3 = 1.1 on line 4.
    expect(refusal(file('strategy,symbols,weight\nsma-cross,A,0.5\nsma-cross,B,0.3\nrsi-reversion,A,0.3\nrsi-reversion,B,0.1\n'))).toMatch(
      /^weights file \S+ line 4: the weights sum to 1\.1 by this row; they are shares of the capital and must sum to at most 1$/,
    )
    expect(refusal(file('strategy,symbols,weight\nsma-cross,A,1.000001\n'))).toMatch(/line 2: the weights sum to 1\.000001 by this row/)
  })

  it('refuses the same strategy twice on a symbol (whatever the versions) and a symbol twice in a row', () => {
    expect(refusal(file('strategy,symbols,weight\nsma-cross@1,A B,0.2\nrsi-reversion,A,0.2\nsma-cross@2,C|B,0.2\n'))).toMatch(/line 4: strategy sma-cross on B is already on line 2$/)
    expect(refusal(file('[{"strategy":"sma-cross","symbols":["A"],"weight":0.1},{"strategy":"sma-cross@champion","symbols":["A"],"weight":0.1}]', 'json'))).toMatch(/entry 2: strategy sma-cross on A is already on entry 1$/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross,A|A,0.2\n'))).toMatch(/line 2: symbol A is listed twice$/)
  })

  it('refuses empty files, bad headers, bad rows and bad symbols', () => {
    expect(refusal(file(''))).toMatch(/^weights file \S+ is empty; expected the header strategy,symbols,weight and one row per strategy$/)
    expect(refusal(file('strategy,symbols,weight\n\n# nothing\n'))).toMatch(/is empty/)
    expect(refusal(file('[]', 'json'))).toMatch(/^weights file \S+ holds no entries; expected a JSON array/)
    expect(refusal(file('', 'json'))).toMatch(/holds no entries/)
    expect(refusal(file('strategy,symbol,weight\nsma-cross,A,1\n'))).toMatch(/line 1: unknown column "symbol"; expected the header strategy,symbols,weight$/)
    expect(refusal(file('strategy,weight\nsma-cross,1\n'))).toMatch(/line 1: the header has no column "symbols"/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross,A,0.5,extra\n'))).toMatch(/line 2: expected 3 fields \(strategy,symbols,weight\), found 4$/)
    expect(refusal(file('strategy,symbols,weight\n"sma-cross,A,0.5\n'))).toMatch(/line 2: a quoted field is not closed$/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross,,0.5\n'))).toMatch(/line 2: symbols must be one or more symbols separated by spaces or "\|" \(received ""\)$/)
    expect(refusal(file('strategy,symbols,weight\nsma-cross,BTC;USDT,0.5\n'))).toMatch(/line 2: symbol "BTC;USDT" is not a symbol such as BTC\/USDT/)
    expect(refusal(file('{"strategy":"sma-cross"}', 'json'))).toMatch(/must hold a JSON array/)
    expect(refusal(file('[{"strategy":"sma-cross","symbols":"A","weight":0.1,"wieght":1}]', 'json'))).toMatch(/entry 1: no field "wieght" \(fields: strategy, symbols, weight, params\)$/)
    expect(refusal(file('[{"strategy":"sma-cross","symbols":"A","weight":0.1,"params":[1]}]', 'json'))).toMatch(/entry 1: params must be an object/)
    expect(refusal(file('[1,', 'json'))).toMatch(/^weights file \S+ is not valid JSON/)
    expect(refusal(join(home, 'missing.csv'))).toBe(`weights file ${join(home, 'missing.csv')} does not exist`)
    expect(refusal(home)).toBe(`weights file ${home} is not a regular file`)
  })
})

describe('weightedDrafts', () => {
  const shared = { timeframe: '1h', mode: 'paper' as const, venue: { exchange: 'binance' }, feed: { kind: 'replay' as const }, cash: 50_000 }

  it('gives one pinned draft per row, named <strategy>.<symbols>, each a valid draft', () => {
    const csv = file('strategy,symbols,weight\nsma-cross@champion,BTC/USDT|ETH/USDT,0.5\nrsi-reversion,BTC/USDT:USDT,0.3\n')
    const drafts = weightedDrafts(readWeightsFile(csv, registry), shared)
    expect(drafts).toEqual([
      { ...shared, name: 'sma-cross.BTC_USDT-ETH_USDT', strategy: { name: 'sma-cross', version: 1, sha256: SMA1 }, symbols: ['BTC/USDT', 'ETH/USDT'], weight: 0.5 },
      { ...shared, name: 'rsi-reversion.BTC_USDT_USDT', strategy: { name: 'rsi-reversion', version: 1, sha256: RSI1 }, symbols: ['BTC/USDT:USDT'], weight: 0.3 },
    ])
    for (const d of drafts) expect(validateDeploymentDraft(d).name).toBe(d.name)
  })

  it('cuts names past 64 characters to 51 + "-" + 12 hex digits of the full name\'s sha256', () => {
    const symbols = ['AAAA/USDT', 'BBBB/USDT', 'CCCC/USDT', 'DDDD/USDT', 'EEEE/USDT', 'FFFF/USDT']
    const full = 'sma-cross.AAAA_USDT-BBBB_USDT-CCCC_USDT-DDDD_USDT-EEEE_USDT-FFFF_USDT'
    expect(full.length).toBe(69)
    expect(deploymentName('sma-cross', symbols)).toBe(`${full.slice(0, 51)}-${sha(full).slice(0, 12)}`)
    expect(deploymentName('sma-cross', symbols)).toHaveLength(64)
    expect(deploymentName('sma-cross', symbols.slice(0, 5))).toBe('sma-cross.AAAA_USDT-BBBB_USDT-CCCC_USDT-DDDD_USDT-EEEE_USDT')
  })

  it('refuses two rows that would share a name', () => {
    const csv = file('strategy,symbols,weight\nsma-cross,BTC/USDT,0.5\nsma-cross,BTC_USDT,0.3\n')
    expect(() => weightedDrafts(readWeightsFile(csv, registry), shared)).toThrow(/^weights rows 2 and 3 give the same deployment name sma-cross\.BTC_USDT; /)
  })
})
