// Issue 18, point 5/10 (bad input on disk): a dataset's generation pointer and period folders are read
// strictly. A tampered pointer ("../..", a string, not JSON) is refused with one line naming the file,
// and the CLI exits 2; folders that are not a 4-digit year or year-month are never read as partitions.

import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { barsFromRows, ingestBars, lakeDir, loadBars } from '../../lib/data/index.js'
import { runCli } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-ptr-'))
const rows = Array.from({ length: 3 }, (_, i) => ({ time: Date.UTC(2024, 0, 1 + i), open: 1, high: 2, low: 0.5, close: 1.5, volume: 1 }))

describe('the generation pointer as input', () => {
  it('refuses a tampered pointer with one line naming the file (code and CLI, exit 2)', async () => {
    for (const text of ['{"generation":"../../../etc"}', '{"generation":0}', 'gen=1']) {
      const h = home()
      await ingestBars(h, barsFromRows(rows, { symbol: 'PTR', timeframe: '1d' }))
      const pointer = join(lakeDir(h), 'source=local', 'symbol=PTR', 'timeframe=1d', 'CURRENT')
      writeFileSync(pointer, text)
      await expect(loadBars(h, { symbol: 'PTR', timeframe: '1d' })).rejects.toThrow(pointer)
      const r = await runCli(['data', 'list'], { env: { MTFLOW_HOME: h } })
      expect(r.code, text).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toContain('CURRENT')
    }
  })

  it('ignores folders that are not a period name, such as "period=+055969" or "period=1969-13"', async () => {
    const h = home()
    await ingestBars(h, barsFromRows(rows, { symbol: 'ODD', timeframe: '1d' }))
    const gen = join(lakeDir(h), 'source=local', 'symbol=ODD', 'timeframe=1d', 'gen=1')
    for (const name of ['period=+055969', 'period=1969-13', 'period=-001000']) {
      mkdirSync(join(gen, name), { recursive: true })
      // A copy of the real partition under the odd name: it would add 3 rows if it were read.
      copyFileSync(join(gen, 'period=2024', 'data.parquet'), join(gen, name, 'data.parquet'))
    }
    expect((await loadBars(h, { symbol: 'ODD', timeframe: '1d' })).time.length).toBe(3)
  })
})
