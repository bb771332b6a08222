// A tracked run's tables as Parquet (issue 24): lib/core/parquet-columns.ts checked against DuckDB (an
// independent reader) on hand-made tables — missing values, irregular and regular times, text with many
// values, more rows than a page — and against hostile bytes; logBacktest's artifacts read by DuckDB equal
// the result's own columns; and a run logged as Parquet gives the same tearsheet, DSR, tearsheet page,
// `mtflow report` and trades table as the same run logged the old way (CSV files, as before issue 24).

import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backtest, logBacktest, portfolioBacktest, resultFiles, type BacktestResult, type RunSink } from '../../lib/backtest/index.js'
import { columnsParquet, parquetColumns } from '../../lib/core/parquet-columns.js'
import { DataError, seededRandom } from '../../lib/core/index.js'
import { duckdb, sqlString } from '../../lib/data/duckdb.js'
import { importSamples, loadBars } from '../../lib/data/index.js'
import { loadRunTearsheet, readRunTrades, tearsheet } from '../../lib/report/index.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Tracker } from '../../lib/track/index.js'
import { readRunTable, runTableCsv, runTableRows } from '../../lib/track/run-tables.js'
import { selectRuns } from '../../lib/tune/select-runs.js'
import { ROOT, runCli } from '../helpers.js'

const scratch = mkdtempSync(join(tmpdir(), 'mtflow-artifacts-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

let files = 0
/** The bytes as a file DuckDB reads. */
async function writeTemp(bytes: Uint8Array): Promise<string> {
  const { writeFileSync } = await import('node:fs')
  const path = join(scratch, `t${++files}.parquet`)
  writeFileSync(path, bytes)
  return path
}

/** A Parquet file's columns as DuckDB reads them: timestamps as epoch ms, NULL as null. */
async function duckColumns(path: string): Promise<{ types: Record<string, string>; columns: Record<string, unknown[]> }> {
  const conn = await duckdb()
  const source = `read_parquet(${sqlString(path)})`
  const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjects() as { column_name: string; column_type: string }[]
  const types = Object.fromEntries(described.map((d) => [d.column_name, d.column_type]))
  const select = described.map((d) => (d.column_type.startsWith('TIMESTAMP') ? `epoch_ms("${d.column_name}")::DOUBLE AS "${d.column_name}"` : `"${d.column_name}"`)).join(', ')
  const rows = (await conn.runAndReadAll(`SELECT ${select} FROM ${source}`)).getRowObjects() as Record<string, unknown>[]
  return { types, columns: Object.fromEntries(described.map((d) => [d.column_name, rows.map((r) => r[d.column_name])])) }
}

/** What DuckDB should read for a column given to the writer: NaN, undefined and null as NULL. */
function asRead(values: ArrayLike<unknown>): unknown[] {
  return Array.from(values, (v) => (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? null : v))
}

describe('columnsParquet → DuckDB', () => {
  it('numbers, times (irregular, with gaps and missing), text with many values and flags read back exactly', async () => {
    const rng = seededRandom(11)
    const n = 3_001
    const time = new Float64Array(n)
    const entryTime = new Float64Array(n)
    const price = new Float64Array(n)
    const symbol: (string | undefined)[] = []
    const open: (boolean | undefined)[] = []
    let t = Date.UTC(2020, 0, 1)
    for (let i = 0; i < n; i++) {
      // Steps of one minute, with gaps from a minute to 40 days: miniblocks of 0 to 32 bits.
      t += rng.next() < 0.9 ? 60_000 : Math.floor(rng.next() * 40 * 86_400_000)
      time[i] = t
      entryTime[i] = rng.next() < 0.2 ? NaN : Date.UTC(1969, 11, 31) + Math.floor(rng.next() * 1e6) * (rng.next() < 0.5 ? -1 : 1)
      price[i] = rng.next() < 0.1 ? NaN : i === 7 ? -0 : i === 8 ? Infinity : (rng.next() - 0.5) * 1e6
      symbol.push(rng.next() < 0.05 ? undefined : i % 3 === 0 ? `S${Math.floor(rng.next() * 700)}` : ['BTC/USDT', 'é"x,y\n', ''][i % 3 === 1 ? 0 : rng.next() < 0.5 ? 1 : 2])
      open.push(rng.next() < 0.1 ? undefined : rng.next() < 0.5)
    }
    const columns = { time, entryTime, price, symbol, open, whole: Float64Array.from(time, (x) => x / 60_000) }
    const path = await writeTemp(columnsParquet(columns))
    const read = await duckColumns(path)
    expect(read.types).toEqual({ time: 'TIMESTAMP WITH TIME ZONE', entryTime: 'TIMESTAMP WITH TIME ZONE', price: 'DOUBLE', symbol: 'VARCHAR', open: 'BOOLEAN', whole: 'DOUBLE' })
    for (const [name, values] of Object.entries(columns)) expect(read.columns[name], name).toEqual(asRead(values))
  })

  it('text of every dictionary width read back exactly: 2 to 2^17 distinct values, runs and bit-packed', async () => {
    // Widths 1 … 17 bits: each column's indexes bit-packed (values alternate) or in runs (long repeats).
    for (const distinct of [2, 3, 5, 9, 17, 200, 257, 4_097, 65_537, 131_072]) {
      const n = Math.max(3 * distinct, 1_000)
      const alternating = Array.from({ length: n }, (_, i) => `v${(i * 7919) % distinct}`)
      const runs = Array.from({ length: n }, (_, i) => `r${Math.floor((i * distinct) / n)}`)
      const read = await duckColumns(await writeTemp(columnsParquet({ alternating, runs })))
      expect(read.columns.alternating, `${distinct} alternating`).toEqual(alternating)
      expect(read.columns.runs, `${distinct} in runs`).toEqual(runs)
    }
  })

  it('a time column that is not whole milliseconds stays DOUBLE; a table of 0 rows has its columns', async () => {
    const odd = await duckColumns(await writeTemp(columnsParquet({ time: Float64Array.from([1.5, 2]), exitAt: Float64Array.from([2 ** 51, 0]) })))
    expect(odd.types).toEqual({ time: 'DOUBLE', exitAt: 'DOUBLE' })
    expect(odd.columns).toEqual({ time: [1.5, 2], exitAt: [2 ** 51, 0] })
    const empty = await duckColumns(await writeTemp(columnsParquet({ time: new Float64Array(0), pnl: new Float64Array(0), symbol: [] })))
    expect(empty.columns).toEqual({ time: [], pnl: [], symbol: [] })
  })

  it('1,100,000 rows (two pages): a minute grid and its values, counted by DuckDB', async () => {
    const n = 1_100_000
    const t0 = Date.UTC(2022, 0, 1)
    const time = Float64Array.from({ length: n }, (_, i) => t0 + i * 60_000)
    const equity = Float64Array.from({ length: n }, (_, i) => (i === 1_050_000 ? NaN : i * 0.5))
    const bytes = columnsParquet({ time, equity })
    // The grid is delta-encoded: the file is the equity column's 8 bytes a row and little else.
    expect(bytes.length).toBeLessThan(n * 8 + 100_000)
    const path = await writeTemp(bytes)
    const conn = await duckdb()
    const row = (await conn.runAndReadAll(`SELECT count(*)::DOUBLE AS n, count(*) FILTER (WHERE epoch_ms(time) <> ${t0} + (rn - 1) * 60000)::DOUBLE AS badTime, count(*) FILTER (WHERE equity IS DISTINCT FROM (rn - 1) * 0.5)::DOUBLE AS badEquity FROM (SELECT *, row_number() OVER () AS rn FROM read_parquet(${sqlString(path)}))`)).getRowObjects()[0]!
    expect(row).toEqual({ n, badTime: 0, badEquity: 1 }) // the one NULL
    const back = parquetColumns(bytes, 'big')
    let differ = 0 // (toEqual over a million values takes seconds)
    for (let i = 0; i < n; i++) if (!Object.is(back.time![i], time[i]) || !Object.is(back.equity![i], equity[i])) differ++
    expect(differ).toBe(0)
  })

  it('parquetColumns reads back what was written; hostile bytes are a DataError naming the file, never another error', () => {
    const columns = { time: Float64Array.from([0, 60_000, 120_000, NaN]), pnl: Float64Array.from([1, NaN, -2.5, 3]), tag: ['a', 'b', 'a', 'c'], open: [true, false, true, true] }
    const bytes = columnsParquet(columns)
    expect(parquetColumns(bytes, 'x')).toEqual(columns)
    expect(() => parquetColumns(Buffer.from('time,equity\n1,2\n'), 'equity.parquet of run r1')).toThrow(/^equity\.parquet of run r1: not a Parquet file/)
    expect(() => parquetColumns(bytes.subarray(0, bytes.length - 20), 'cut')).toThrow(DataError)
    const rng = seededRandom(5)
    for (let k = 0; k < 2_000; k++) {
      const bad = Uint8Array.from(bytes)
      for (let j = 0; j < 1 + (k % 4); j++) bad[Math.floor(rng.next() * (bad.length - 8)) + 4] = Math.floor(rng.next() * 256)
      try {
        parquetColumns(bad, 'fuzz')
      } catch (error) {
        expect(error, String(error)).toBeInstanceOf(DataError)
        expect((error as Error).message.startsWith('fuzz: ')).toBe(true)
      }
    }
  })
})

/** A tracked run's artifact files, by name. */
function artifactDir(home: string, runId: string): string {
  const runs = join(home, 'runs')
  for (const experiment of readdirSync(runs)) if (readdirSync(join(runs, experiment)).includes(runId)) return join(runs, experiment, runId, 'artifacts')
  throw new Error(`no run ${runId}`)
}

/** The columns of the export's CSV tables (what the old artifacts held), by table. */
function expectedTables(result: BacktestResult): Record<string, Record<string, ArrayLike<unknown>>> {
  const s = result.strategies
  // One table after the other; a column one strategy's table lacks (another factor set) is missing in its rows.
  const cat = (parts: Record<string, ArrayLike<unknown>>[]) => {
    const names = [...new Set(parts.flatMap((p) => Object.keys(p)))]
    const out: Record<string, unknown[]> = Object.fromEntries(names.map((k) => [k, []]))
    for (const part of parts) {
      const n = Object.values(part)[0]?.length ?? 0
      for (const k of names) out[k]!.push(...(part[k] === undefined ? new Array(n).fill(null) : Array.from(part[k]!)))
    }
    return out
  }
  return {
    equity: { time: result.time, equity: result.equity, exposure: result.exposure, ...(s.length > 1 ? Object.fromEntries(s.map((x) => [`equity_${x.strategy}`, x.equity])) : {}) },
    trades: cat(s.map((x) => x.trades as Record<string, ArrayLike<unknown>>)),
    orders: cat(s.map((x) => x.orders as Record<string, ArrayLike<unknown>>)),
    fills: cat(s.map((x) => x.fills as Record<string, ArrayLike<unknown>>)),
    factors: cat(s.map((x) => ({ strategy: Array.from(x.factors.entryOrderId ?? [], () => x.strategy), ...x.factors }))),
  }
}

describe('logBacktest: the tables as Parquet', () => {
  let home: string
  beforeAll(async () => {
    home = join(scratch, 'home-log')
    await importSamples(home, join(ROOT, 'data', 'samples'))
  }, 120_000)

  it('a one-strategy and a two-strategy run: each Parquet artifact read by DuckDB equals the result column for column', async () => {
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const one = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, sizing: { qty: 1 }, fills: { takerRate: 0.0005 } })
    const two = portfolioBacktest({
      data: { SPX: bars },
      sizing: { percent: 0.5 },
      sleeves: [
        { strategy: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: ['SPX'], timeframe: '1d', weight: 0.5 },
        { strategy: 'rsi-reversion', params: {}, symbols: ['SPX'], timeframe: '1d', weight: 0.5 },
      ],
    })
    const tracker = new Tracker(home)
    for (const result of [one, two]) {
      const run = tracker.startRun({ experiment: 'backtests' })
      logBacktest(run, result, { params: { fast: 10 } })
      run.end()
      expect(tracker.getRun(run.id).artifacts.map((a) => a.path).sort()).toEqual(['equity.parquet', 'factors.parquet', 'fills.parquet', 'orders.parquet', 'results.json', 'trades.parquet'])
      const dir = artifactDir(home, run.id)
      for (const [name, columns] of Object.entries(expectedTables(result))) {
        const read = await duckColumns(join(dir, `${name}.parquet`))
        expect(Object.keys(read.columns), name).toEqual(Object.keys(columns))
        for (const [column, values] of Object.entries(columns)) expect(read.columns[column], `${name}.${column}`).toEqual(asRead(values))
        if (name !== 'factors') expect(Object.values(read.columns)[0]!.length, name).toBeGreaterThan(0)
      }
      expect(two.strategies.length).toBe(2)
    }
  }, 60_000)
})

describe('a run logged as Parquet and the same run logged the old way (CSV)', () => {
  let home: string
  let server: Listening
  let token: string
  const ids: Record<string, string> = {}

  /** logBacktest as it was before issue 24: the same batches, the export's CSV files as the artifacts. */
  function logOldWay(run: RunSink, result: BacktestResult, options: { params: Record<string, unknown>; config: Record<string, unknown> }): void {
    logBacktest(run, result, { ...options, artifacts: false })
    for (const [name, text] of Object.entries(resultFiles(result, { ...options.config, params: options.params }))) run.logArtifact({ name, data: text })
  }

  beforeAll(async () => {
    home = join(scratch, 'home-compare')
    await importSamples(home, join(ROOT, 'data', 'samples'))
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d', start: '2012-01-01' })
    const tracker = new Tracker(home)
    for (const [fast, slow] of [
      [10, 30],
      [20, 60],
    ] as const) {
      const result = backtest({ strategy: 'sma-cross', params: { fast, slow }, symbols: ['SPX'], timeframe: '1d', data: { SPX: bars }, cash: 100_000, sizing: { percent: 1 }, fills: { takerRate: 0.001 } })
      const options = { params: { fast, slow }, config: { strategy: 'sma-cross', symbols: 'SPX', timeframe: '1d' } }
      for (const format of ['parquet', 'csv'] as const) {
        const run = tracker.startRun({ experiment: `sma-${format}`, name: `sma-cross ${fast}/${slow}` })
        if (format === 'parquet') logBacktest(run, result, options)
        else logOldWay(run, result, options)
        run.end()
        ids[`${format}${fast}`] = run.id
      }
    }
    token = workspaceToken(home)
    server = await startServer({ home, token, port: 0 })
  }, 120_000)

  afterAll(async () => {
    await server?.close()
  })

  function get(path: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, authorization: `Bearer ${token}` } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, text }))
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('the tearsheet inputs and the tearsheet are the same', () => {
    const tracker = new Tracker(home)
    const fresh = loadRunTearsheet(tracker, ids.parquet10!)
    const old = loadRunTearsheet(tracker, ids.csv10!)
    expect(fresh).toEqual(old)
    expect(fresh.trades!.pnl.length).toBeGreaterThan(10)
    expect(tearsheet(fresh, { periodsPerYear: fresh.periodsPerYear })).toEqual(tearsheet(old, { periodsPerYear: old.periodsPerYear }))
  })

  it("select's deflated Sharpe ratio is the same over the Parquet runs as over the CSV runs", async () => {
    const verdicts = async (experiment: string) => (await selectRuns(home, { experiments: [experiment], rules: { guardrails: false }, dryRun: true })).verdicts
    const fresh = await verdicts('sma-parquet')
    const old = await verdicts('sma-csv')
    expect(fresh.map((v) => v.deflated)).toEqual(old.map((v) => v.deflated))
    expect(fresh.length).toBe(2)
    expect(fresh[0]!.deflated).not.toBeNull()
  })

  it('the run page links the tearsheet for both; the tearsheet pages are the same', async () => {
    for (const id of [ids.parquet10!, ids.csv10!]) expect((await get(`/runs/${id}`)).text).toContain(`href="/runs/${id}/tearsheet"`)
    const fresh = await get(`/runs/${ids.parquet10}/tearsheet`)
    const old = await get(`/runs/${ids.csv10}/tearsheet`)
    expect(fresh.status, fresh.text.slice(0, 300)).toBe(200)
    expect(fresh.text.split(ids.parquet10!).join('RUN')).toBe(old.text.split(ids.csv10!).join('RUN'))
  })

  it('`mtflow report RUN --json` prints the same tearsheet', async () => {
    const report = async (id: string) => {
      const r = await runCli(['--home', home, 'report', id, '--json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as unknown
    }
    expect(await report(ids.parquet10!)).toEqual(await report(ids.csv10!))
  })

  it('each table as CSV text is the old artifact byte for byte (the export format)', () => {
    const tracker = new Tracker(home)
    for (const name of ['equity', 'trades', 'orders', 'fills', 'factors'] as const) {
      const old = readRunTable(tracker, ids.csv10!, name)!
      expect(old.format).toBe('csv')
      expect(runTableCsv(readRunTable(tracker, ids.parquet10!, name)!), name).toBe(old.format === 'csv' ? old.text : '')
    }
  })

  it('the trades table as text (the strategy dashboard) is the same; readRunTrades reads both', () => {
    const tracker = new Tracker(home)
    const fresh = readRunTable(tracker, ids.parquet10!, 'trades')!
    const old = readRunTable(tracker, ids.csv10!, 'trades')!
    expect([fresh.format, old.format]).toEqual(['parquet', 'csv'])
    expect(runTableRows(fresh)).toEqual(runTableRows(old))
    expect(readRunTrades(tracker, ids.parquet10!)).toEqual(readRunTrades(tracker, ids.csv10!))
  })
})
