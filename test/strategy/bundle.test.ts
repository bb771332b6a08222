// A strategy written outside the clone: it imports 'mtflow' and a local helper. It backtests by file
// through the CLI; registering it stores one self-contained bundle, which still runs (same numbers) by
// ref once the helper is gone; the version's sha256 — and a run's lineage hash — cover the helper too.

import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleStrategy } from '../../lib/strategy/bundle.js'
import { ROOT, runCli } from '../helpers.js'

let home: string
let dir: string
const cli = (...args: string[]) => runCli(['--home', home, ...args], { cwd: dir })
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}
const sha = (text: string) => createHash('sha256').update(text).digest('hex')

// Buys on the close of bar double(at) and sells on the close of bar 3·double(at): the helper decides when.
const STRATEGY = `import { defineStrategy, intParam } from 'mtflow'
import { double } from './helper.js'

export default defineStrategy({
  name: 'outside-helper',
  params: { at: intParam(5, 1, 1000, 'half the bar index to buy on') },
  universe: (_p, request) => request.symbols.map((symbol) => ({ symbol, timeframe: request.timeframe })),
  warmup: () => 1,
  onBar(ctx, bar) {
    if (bar.index === double(ctx.params.at)) ctx.buy(bar.symbol)
    if (bar.index === 3 * double(ctx.params.at)) ctx.close(bar.symbol)
  },
})
`
const HELPER = `export const double = (x: number): number => 2 * x\n`

/** The bundled sample's rows, read here without mtflow: date, open, close. */
function sampleRows(): { date: string; open: number; close: number }[] {
  const lines = readFileSync(join(ROOT, 'data', 'samples', 'sp500-daily-2000-2020.csv'), 'utf8').trim().split('\n')
  return lines.slice(1).map((line) => {
    const [date, open, , , close] = line.split(',')
    return { date: date!, open: Number(open), close: Number(close) }
  })
}

interface Trade {
  entryTime: string
  entryPrice: number
  exitTime: string
  exitPrice: number
  pnl: number
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-bundle-home-'))
  dir = mkdtempSync(join(tmpdir(), 'mtflow-bundle-strategy-'))
  expect(relative(ROOT, dir).startsWith('..')).toBe(true) // outside the clone: no package self-reference
  writeFileSync(join(dir, 'outside.ts'), STRATEGY)
  writeFileSync(join(dir, 'helper.ts'), HELPER)
  expect((await cli('data', 'samples', '--json')).code).toBe(0)
}, 120_000)
afterAll(() => {
  rmSync(home, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
})

describe('a strategy outside the clone, importing mtflow and a helper', () => {
  it('backtests by file, registers as one bundle, and runs by ref with the helper gone; the hash covers the helper', async () => {
    // By file: one round trip, entry at the open after bar 10 and exit at the open after bar 30 (100 % of
    // 100 000 at bar 10's close, no costs) — worked out here from the CSV.
    const rows = sampleRows()
    const byFile = await json('backtest', '--strategy', './outside.ts', '--symbol', 'SPX')
    const trades = byFile.trades as Trade[]
    expect(trades).toHaveLength(1)
    expect(trades[0]!.entryTime.slice(0, 10)).toBe(rows[11]!.date)
    expect(trades[0]!.exitTime.slice(0, 10)).toBe(rows[31]!.date)
    expect(trades[0]!.entryPrice).toBeCloseTo(rows[11]!.open, 6)
    expect(trades[0]!.exitPrice).toBeCloseTo(rows[31]!.open, 6)
    expect(trades[0]!.pnl).toBeCloseTo((100_000 / rows[10]!.close) * (rows[31]!.open - rows[11]!.open), 6)

    // Registered: source.ts is a bundle — the helper inlined, 'mtflow' still an import, no relative import.
    const v1 = await json('strategy', 'register', './outside.ts', '--no-parity')
    expect(v1.version).toBe(1)
    const stored = readFileSync(join(home, 'registry', 'strategies', 'outside-helper', 'v1', 'source.ts'), 'utf8')
    expect(stored).toContain('2 * x')
    expect(stored).toMatch(/from\s*"mtflow"/)
    expect(stored).not.toMatch(/from\s*["']\.{1,2}\//)
    expect(v1.sha256).toBe(sha(stored))
    // A tracked run by file hashes the same bundle.
    const run = await json('runs', 'show', byFile.runId)
    expect(run.info.lineage.strategy.sha256).toBe(v1.sha256)

    // The helper deleted: by ref it still runs, with the same numbers.
    unlinkSync(join(dir, 'helper.ts'))
    const byRef = await json('backtest', '--strategy', 'outside-helper@1', '--symbol', 'SPX')
    expect(byRef.trades).toEqual(trades)
    expect(byRef.metrics.endEquity).toBe(byFile.metrics.endEquity)
    expect(byRef.metrics.sharpe).toBe(byFile.metrics.sharpe)
    const refRun = await json('runs', 'show', byRef.runId)
    expect(refRun.info.lineage.strategy.sha256).toBe(v1.sha256)
    // By file it cannot load now (the helper is what it imports).
    expect((await cli('backtest', '--strategy', './outside.ts', '--symbol', 'SPX', '--no-track')).code).toBe(2)

    // A changed helper (the entry file unchanged) is another source: a new version, another sha256.
    writeFileSync(join(dir, 'helper.ts'), `export const double = (x: number): number => 2 * x + 1\n`)
    const v2 = await json('strategy', 'register', './outside.ts', '--no-parity')
    expect(v2.version).toBe(2)
    expect(v2.sha256).not.toBe(v1.sha256)
    // …and its trade moves by the helper's one bar: entry after bar 11, exit after bar 33.
    const changed = (await json('backtest', '--strategy', 'outside-helper@2', '--symbol', 'SPX', '--no-track')).trades as Trade[]
    expect(changed[0]!.entryTime.slice(0, 10)).toBe(rows[12]!.date)
    expect(changed[0]!.exitTime.slice(0, 10)).toBe(rows[34]!.date)

    // A helper from outside the strategy's folder is bundled too, and said (its text goes into the registry).
    mkdirSync(join(dir, 'nested'))
    writeFileSync(join(dir, 'nested', 'inner.ts'), STRATEGY.replace("'outside-helper'", "'inner-helper'").replace("'./helper.js'", "'../helper.js'"))
    const inner = await cli('strategy', 'register', './nested/inner.ts', '--no-parity', '--json')
    expect(inner.code, inner.stderr).toBe(0)
    expect(inner.stderr).toBe("mtflow: note: the version bundles 1 file(s) from outside the strategy's folder (../helper.ts); their text is in the registry, which mtflow serve publishes\n")
    const own = await cli('strategy', 'register', './outside.ts', '--no-parity', '--json')
    expect(own.stderr).toBe('')
  }, 180_000)
})

describe('bundleStrategy', () => {
  it("rewrites imports of this project's lib to 'mtflow' and mtflow/lib/…, and leaves a file without local imports as it is", () => {
    const libIndex = relative(dir, join(ROOT, 'lib', 'index.js')).split('\\').join('/')
    const libSignals = relative(dir, join(ROOT, 'lib', 'strategy', 'signals.js')).split('\\').join('/')
    const text = `import { defineStrategy } from '${libIndex}'\nimport { crossing } from '${libSignals}'\nimport { readFileSync } from 'node:fs'\nexport default defineStrategy({ name: 'by-path', params: {}, universe: () => [], warmup: () => 1, onBar() { void crossing; void readFileSync } })\n`
    writeFileSync(join(dir, 'by-path.ts'), text)
    const bundle = bundleStrategy(join(dir, 'by-path.ts'))
    expect(bundle.bundled).toBe(true)
    expect(bundle.source).toMatch(/import \{ defineStrategy \} from "mtflow";/)
    expect(bundle.source).toMatch(/import \{ crossing \} from "mtflow\/lib\/strategy\/signals\.ts";/)
    expect(bundle.source).toMatch(/from "node:fs"/)
    expect(bundle.source).not.toContain('../')
    expect(bundle.sha256).toBe(sha(bundle.source))

    const plain = `import { defineStrategy } from 'mtflow'\nexport default defineStrategy({ name: 'plain', params: {}, universe: () => [], warmup: () => 1, onBar() {} })\n`
    writeFileSync(join(dir, 'plain.ts'), plain)
    expect(bundleStrategy(join(dir, 'plain.ts'))).toEqual({ source: plain, sha256: sha(plain), bundled: false, inputs: ['plain.ts'] })
  })
})
