// Quoted decimal commas in a comma-delimited file (a spreadsheet saved in a decimal-comma locale with , as the
// separator): "151,45" was read as not a number and "151,801" as 151801 — a numbers audit found a lake holding
// 2024-01-03 at 1000× its price beside two quarantined rows, and a file whose cells all have three decimals stored
// whole at 1000× with nothing quarantined. pandas keeps such cells as text. Refused now, as in ; and tab files.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importFile, loadBars, readBarsCsv } from '../../lib/data/index.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-comma-quoted-'))

describe('quoted decimal commas in a comma-delimited file', () => {
  it('are refused, not read as thousands (151,801 is 151.801, not 151801), and nothing is written', async () => {
    const h = home()
    const file = join(h, 'usdjpy.csv')
    writeFileSync(file, ['date,open,high,low,close,volume', '2024-01-01,"151,2","151,9","150,87","151,45",100', '2024-01-02,"151,45","152,01","151,12","151,8",200', '2024-01-03,"151,801","152,234","151,456","151,987",300', ''].join('\n'))
    await expect(importFile(h, file, { symbol: 'USDJPY', timeframe: '1d' })).rejects.toThrow(/holds quoted numbers such as "151,2" with the delimiter , : a decimal comma; a decimal comma needs another delimiter \(save with ; or tab\), or give decimal \. if the commas group thousands/)
    expect(existsSync(join(h, 'lake', 'bars'))).toBe(false)
    expect(() => readBarsCsv(file, { symbol: 'USDJPY', timeframe: '1d' })).toThrow(/a decimal comma/)
  })

  it('are refused as ambiguous when every cell has three decimals (the whole file was 1000× too large); --decimal . reads thousands', async () => {
    const h = home()
    const file = join(h, 'usdjpy3.csv')
    writeFileSync(file, 'date,open,high,low,close,volume\n2024-01-01,"151,234","151,900","150,870","151,450",100\n2024-01-02,"151,450","152,010","151,120","151,800",200\n')
    await expect(importFile(h, file, { symbol: 'USDJPY', timeframe: '1d' })).rejects.toThrow(/"151,234" with the delimiter , : 151234 \(thousands\) or 151\.234 \(a decimal comma\)\? ambiguous/)
    expect(existsSync(join(h, 'lake', 'bars'))).toBe(false)
    await importFile(h, file, { symbol: 'USDJPY', timeframe: '1d', decimal: '.' })
    expect(Array.from((await loadBars(h, { symbol: 'USDJPY', timeframe: '1d' })).open)).toEqual([151_234, 151_450])
  })

  it('still reads US thousands that a decimal point settles ("4,512.25"), and many groups ("1,234,567")', async () => {
    const h = home()
    const file = join(h, 'us.csv')
    writeFileSync(file, 'date,open,high,low,close,volume\n2024-01-01,"4,512.25","4,530.00","4,500.10","4,520.75","1,234,567"\n')
    await importFile(h, file, { symbol: 'SPX', timeframe: '1d' })
    const b = await loadBars(h, { symbol: 'SPX', timeframe: '1d' })
    expect([b.open[0], b.high[0], b.low[0], b.close[0], b.volume[0]]).toEqual([4512.25, 4530, 4500.1, 4520.75, 1_234_567])
  })

  it('reads whole prices grouped by thousands beside a many-group volume (KRW: "78,200" and "17,142,847"; refused as ambiguous in a review)', () => {
    const file = join(home(), 'krw.csv')
    writeFileSync(file, ['Date,Open,High,Low,Close,Volume', '2024-01-02,"78,200","79,800","78,200","79,600","17,142,847"', '2024-01-03,"78,500","78,800","77,000","77,000","21,753,644"', ''].join('\n'))
    const b = readBarsCsv(file, { symbol: '005930', timeframe: '1d' })
    expect(Array.from(b.open)).toEqual([78_200, 78_500])
    expect(Array.from(b.volume)).toEqual([17_142_847, 21_753_644])
  })
})
