// Text that a spreadsheet would run as a formula — a strategy's order tag, a symbol, starting with =, +, -, @,
// a tab or CR — is written to every CSV mtflow makes with a "'" in front (OWASP's advice), as the server's
// runs.csv already was; a plain number ("-0.5", "-Infinity") is left as it is. Before, `backtest --export`
// wrote `=HYPERLINK("http://evil","x")` into trades.csv and orders.csv as it came (an attack review).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { backtest, exportResults, logBacktest } from '../../lib/backtest/index.js'
import { csvText, splitCsvLine } from '../../lib/core/index.js'
import { readRunTable, runTableCsv, Tracker } from '../../lib/track/index.js'
import { bars, scripted } from '../backtest/scripted.js'

const EVIL = '=HYPERLINK("http://evil","x")'
const SYMBOL = '@SUM(1+1)'
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('CSV cells a spreadsheet would run', () => {
  it('csvText: formulas prefixed, plain numbers and plain text as they are', () => {
    expect(csvText('=1+1')).toBe("'=1+1")
    expect(csvText('-2+3')).toBe("'-2+3")
    expect(csvText('+cmd')).toBe("'+cmd")
    expect(csvText('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvText('\tx')).toBe("'\tx")
    expect(csvText(EVIL)).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`)
    for (const plain of ['-0.5', '-Infinity', '+1e5', '-3', '.5', 'SPX', 'a b', '', 'NaN']) expect(csvText(plain)).toBe(plain)
    expect(csvText('a,b')).toBe('"a,b"')
  })

  it('backtest --export and a run table downloaded as CSV prefix a hostile tag and symbol', () => {
    const rows = Array.from({ length: 6 }, (_, i) => [100 + i, 101 + i, 99 + i, 100.5 + i])
    const r = backtest({ strategy: scripted({ 1: (ctx) => ctx.buy(SYMBOL, { qty: 1, tag: EVIL }), 3: (ctx) => ctx.close(SYMBOL, { tag: '-2+3' }) }), symbols: [SYMBOL], timeframe: '1d', data: { [SYMBOL]: bars(SYMBOL, rows) }, cash: 10_000 })
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-csv-injection-'))
    dirs.push(dir)
    exportResults(r, dir)
    const cells = (file: string) => readFileSync(join(dir, file), 'utf8').trim().split('\n').map((line) => splitCsvLine(line))
    for (const file of ['trades.csv', 'orders.csv', 'fills.csv']) {
      const all = cells(file).flat()
      expect(all.filter((c) => /^[=+@]|^-[^\d.I]/.test(c)), file).toEqual([])
      expect(all, file).toContain(`'${SYMBOL}`)
    }
    expect(cells('orders.csv').flat()).toEqual(expect.arrayContaining([`'${EVIL}`, "'-2+3"]))
    // A number column is a plain number (read back as the engine's value).
    const trades = cells('trades.csv')
    const pnl = trades[1]![trades[0]!.indexOf('pnl')]!
    expect(Number(pnl)).toBeCloseTo(r.strategies[0]!.trades.pnl[0]!, 9)

    const home = mkdtempSync(join(tmpdir(), 'mtflow-csv-injection-home-'))
    dirs.push(home)
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'x', name: 'y' })
    logBacktest(run, r, { params: {} })
    run.end()
    const csv = runTableCsv(readRunTable(tracker, run.id, 'orders')!)
    const flat = csv.trim().split('\n').flatMap((line) => splitCsvLine(line))
    expect(flat).toEqual(expect.arrayContaining([`'${EVIL}`, `'${SYMBOL}`]))
    expect(flat.filter((c) => /^[=+@]/.test(c))).toEqual([])

    // A run recorded before keeps orders.csv as it was written then: downloaded, its cells are escaped too.
    const old = tracker.startRun({ experiment: 'x', name: 'old' })
    old.logArtifact({ name: 'orders.csv', data: `id,tag,qty\n1,${EVIL.replace(/"/g, '""').replace(/^/, '"').replace(/$/, '"')},-3\n` })
    old.end()
    const oldCsv = runTableCsv(readRunTable(tracker, old.id, 'orders')!)
    expect(oldCsv.trim().split('\n').flatMap((line) => splitCsvLine(line))).toEqual(['id', 'tag', 'qty', '1', `'${EVIL}`, '-3'])
  })
})
