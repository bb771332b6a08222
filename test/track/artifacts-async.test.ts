// Files written in libuv's thread pool (writeFileAtomicAsync, writePiecesAsync) and several artifacts
// logged at once (logArtifacts, logBacktestAsync): the bytes on disk are the pieces joined whatever the
// kernel's short writes; a file's write has started (its temp file exists) before the next source is
// taken; the records land in the sources' order with the sha256 and size of the bytes (hashed here
// independently); a failing source or a refused name records the files written whole and nothing else;
// and a backtest logged in the background writes the same files, byte for byte, and the same records as
// logBacktest.

import { createHash } from 'node:crypto'
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { backtest, logBacktest, logBacktestAsync } from '../../lib/backtest/index.js'
import { writeFileAtomicAsync, writePiecesAsync } from '../../lib/core/index.js'
import { syntheticGbm } from '../../lib/data/index.js'
import { openTracker } from '../../lib/track/index.js'
import { bytePieces, shortWriter } from '../helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'mtflow-async-art-'))
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

const pieces = bytePieces

describe('writing in the thread pool', () => {
  it('writePiecesAsync writes the pieces joined, through short writes of any length', async () => {
    const { parts, whole } = pieces(300)
    for (const limit of [1, 3, 7, 40, 41, 1000]) {
      const file = join(dir(), 'short.bin')
      const fd = openSync(file, 'w')
      const short = shortWriter(limit)
      await writePiecesAsync(fd, parts, async (target, buffers) => short(target, buffers))
      closeSync(fd)
      expect(readFileSync(file).equals(whole), `limit ${limit}`).toBe(true)
    }
    const fd = openSync(join(dir(), 'stuck.bin'), 'w')
    await expect(writePiecesAsync(fd, [new Uint8Array(3)], async () => 0)).rejects.toThrow(/wrote nothing/)
    closeSync(fd)
  })

  it('writeFileAtomicAsync replaces the file whole (2,500 pieces, more than one writev takes), durable or not', async () => {
    const folder = dir()
    const file = join(folder, 'many.bin')
    const { parts, whole } = pieces(2_500)
    await writeFileAtomicAsync(file, 'old')
    await writeFileAtomicAsync(file, parts)
    expect(readFileSync(file).equals(whole)).toBe(true)
    await writeFileAtomicAsync(file, 'text', { durable: false })
    expect(readFileSync(file, 'utf8')).toBe('text')
    await writeFileAtomicAsync(file, [])
    expect(readFileSync(file).length).toBe(0)
    expect(readdirSync(folder)).toEqual(['many.bin']) // no temp file left
  })

  it('a failed write leaves the old file and no temp file', async () => {
    const folder = dir()
    const file = join(folder, 'keep.bin')
    await writeFileAtomicAsync(file, 'kept')
    // A piece that is not bytes: the write fails (Node refuses it before the pool takes it).
    await expect(writeFileAtomicAsync(file, [Buffer.from('a'), 42 as unknown as Uint8Array])).rejects.toThrow()
    expect(readFileSync(file, 'utf8')).toBe('kept')
    expect(readdirSync(folder)).toEqual(['keep.bin'])
  })

  it("removes its target's temp files left by dead writers, and no other file", async () => {
    const folder = dir()
    // pid 2^22 + 1 is above Linux's pid_max: no live process has it.
    const dead = `.x.bin.${2 ** 22 + 1}.abcd1234.tmp`
    const other = `.y.bin.${2 ** 22 + 1}.abcd1234.tmp`
    writeFileSync(join(folder, dead), 'half')
    writeFileSync(join(folder, other), 'half')
    await writeFileAtomicAsync(join(folder, 'x.bin'), 'whole')
    expect(readdirSync(folder).sort()).toEqual([other, 'x.bin'])
  })
})

describe('logArtifacts', () => {
  it('records each file in order with the sha256 and size of its bytes; a write has started before the next source is taken', async () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'async' })
    const artifacts = join(home, 'runs', run.experimentId, run.id, 'artifacts')
    const a = pieces(400)
    const b = pieces(50)
    const seen: string[][] = []
    const recordedThen: string[][] = []
    function* sources() {
      yield { name: 'a.bin', data: a.parts }
      // The first file's write has started and not ended (its temp file is there, not the file) before this runs.
      seen.push(readdirSync(artifacts))
      yield { name: 'sub/b.bin', data: b.parts }
      // a.bin is recorded once whole, before the third source is taken (at most two files in flight).
      recordedThen.push(tracker.listArtifacts(run.id).map((r) => r.path))
      yield { name: 'c.txt', data: 'text\n' }
    }
    const records = await run.logArtifacts(sources())
    expect(seen[0]!.filter((f) => f.startsWith('.a.bin.') && f.endsWith('.tmp'))).toHaveLength(1)
    expect(seen[0]).not.toContain('a.bin')
    expect(recordedThen[0]).toEqual(['a.bin'])
    expect(records.map((r) => r.path)).toEqual(['a.bin', 'sub/b.bin', 'c.txt'])
    expect(records.map((r) => r.sha256)).toEqual([sha(a.whole), sha(b.whole), sha(Buffer.from('text\n'))])
    expect(records.map((r) => r.size)).toEqual([a.whole.length, b.whole.length, 5])
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['a.bin', 'sub/b.bin', 'c.txt'])
    expect(tracker.readArtifact(run.id, 'sub/b.bin').bytes.equals(b.whole)).toBe(true)
    expect(readdirSync(artifacts).filter((f) => f.endsWith('.tmp'))).toEqual([])
    run.end()
  })

  it('a source that throws: the files written whole before it are recorded, then the error', async () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'async' })
    function* sources() {
      yield { name: 'first.bin', data: Buffer.from('one') }
      throw new Error('encoding failed')
    }
    await expect(run.logArtifacts(sources())).rejects.toThrow('encoding failed')
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['first.bin'])
    expect(tracker.readArtifact(run.id, 'first.bin').bytes.toString()).toBe('one')
    run.end()
  })

  it('refuses a name with "%", a name given twice, a path out of the folder and a temp-file name, recording only what came before', async () => {
    const home = dir()
    const tracker = openTracker(home)
    for (const [bad, message] of [
      ['a%2Fb', /must not contain "%"/],
      ['ok.bin', /given twice/],
      ['../escape.bin', /artifact name/],
      ['sub/.ok.bin.4194305.abcd.tmp', /shape of a writer's temp file/],
    ] as const) {
      const run = tracker.startRun({ experiment: 'async' })
      await expect(run.logArtifacts([{ name: 'ok.bin', data: 'x' }, { name: bad, data: 'y' }])).rejects.toThrow(message)
      expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['ok.bin'])
      expect(tracker.readArtifact(run.id, 'ok.bin').bytes.toString()).toBe('x')
      expect(existsSync(join(home, 'runs', run.experimentId, run.id, 'escape.bin'))).toBe(false)
      run.end()
    }
  })

  it('logArtifact refuses a temp-file name too: a later write beside it would remove it as a dead temp', () => {
    const tracker = openTracker(dir())
    const run = tracker.startRun({ experiment: 'sync' })
    expect(() => run.logArtifact({ name: '.x.bin.4194305.ab.tmp', data: 'kept?' })).toThrow(/shape of a writer's temp file/)
    run.logArtifact({ name: 'x.bin', data: 'x' })
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['x.bin'])
    run.end()
  })

  it('writes nothing through a folder that is a link out of the run', async () => {
    const home = dir()
    const outside = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'links' })
    run.logArtifact({ name: 'first.bin', data: 'x' })
    symlinkSync(outside, join(home, 'runs', run.experimentId, run.id, 'artifacts', 'link'))
    expect(() => run.logArtifact({ name: 'link/a.bin', data: 'a' })).toThrow(/not a folder \(a link or a file\)/)
    await expect(run.logArtifacts([{ name: 'link/b.bin', data: 'b' }])).rejects.toThrow(/not a folder/)
    expect(readdirSync(outside)).toEqual([])
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['first.bin'])
    run.end()
  })

  it('a write that fails after others: the files written whole are recorded, in order, then its error', async () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'async' })
    // "d" is a folder already (d/inner), so a file "d" cannot take its place: its rename fails in the pool.
    run.logArtifact({ name: 'd/inner', data: '0' })
    await expect(run.logArtifacts([{ name: 'm', data: '1' }, { name: 'd', data: '2' }, { name: 'z', data: '3' }])).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|directory/i)
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['d/inner', 'm', 'z'])
    expect(readdirSync(join(home, 'runs', run.experimentId, run.id, 'artifacts')).filter((f) => f.endsWith('.tmp'))).toEqual([])
    // A name and a folder of it in one call: refused before anything is written for it.
    await expect(run.logArtifacts([{ name: 'n', data: '1' }, { name: 'n/x', data: '2' }])).rejects.toThrow(/one is a folder of the other/)
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['d/inner', 'm', 'z', 'n'])
    run.end()
  })
})

describe('logArtifacts, more hostile cases', () => {
  it('a name given twice letter case aside, or with a part ending in a dot or a space, is refused', async () => {
    const tracker = openTracker(dir())
    const run = tracker.startRun({ experiment: 'case' })
    await expect(run.logArtifacts([{ name: 'a.bin', data: '1' }, { name: 'A.BIN', data: '2' }])).rejects.toThrow(/given twice/)
    await expect(run.logArtifacts([{ name: 'n', data: '1' }, { name: 'N/x', data: '2' }])).rejects.toThrow(/one is a folder of the other/)
    expect(() => run.logArtifact({ name: `.x.bin.4194305.ab.tmp.`, data: 'x' })).toThrow(/ending in a dot or a space/)
    expect(() => run.logArtifact({ name: 'dir /x', data: 'x' })).toThrow(/ending in a dot or a space/)
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['a.bin', 'n'])
    run.end()
  })

  it('on an error, the source is closed only after the files in flight are written (its finally may reuse their buffers)', async () => {
    const tracker = openTracker(dir())
    const run = tracker.startRun({ experiment: 'finally' })
    const buffer = new Uint8Array(8 << 20).fill(7)
    function* sources() {
      try {
        yield { name: 'big.bin', data: buffer }
        yield { name: 'bad%2F', data: 'x' }
      } finally {
        buffer.fill(0)
      }
    }
    await expect(run.logArtifacts(sources())).rejects.toThrow(/must not contain "%"/)
    const { bytes, artifact } = tracker.readArtifact(run.id, 'big.bin')
    expect(artifact.sha256).toBe(sha(new Uint8Array(8 << 20).fill(7)))
    expect(bytes[0]).toBe(7)
    run.end()
  })

  it('a later write failing while an earlier one is in flight: both settle, no unhandled rejection', async () => {
    const tracker = openTracker(dir())
    const run = tracker.startRun({ experiment: 'u' })
    run.logArtifact({ name: 'd/inner', data: '0' })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const big = new Uint8Array(64 << 20).fill(1)
      await expect(run.logArtifacts([{ name: 'big', data: big }, { name: 'd', data: '2' }])).rejects.toThrow(/EISDIR|directory/i)
      await new Promise((r) => setTimeout(r, 20))
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
    expect(tracker.listArtifacts(run.id).map((r) => r.path)).toEqual(['d/inner', 'big'])
    run.end()
  })

  it('a run removed while its files are written: the error says so', async () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'gone' })
    const runDir = join(home, 'runs', run.experimentId, run.id)
    function* sources() {
      yield { name: 'a.bin', data: new Uint8Array(4 << 20) }
      rmSync(runDir, { recursive: true, force: true })
    }
    await expect(run.logArtifacts(sources())).rejects.toThrow(`run ${run.id} was removed`)
  })

  it.runIf(process.platform === 'linux')('a durable write holds its temp file open O_DSYNC, with the mode of a synchronous write', async () => {
    const home = dir()
    const tracker = openTracker(home)
    const run = tracker.startRun({ experiment: 'dsync' })
    const flags: number[] = []
    function* sources() {
      yield { name: 'a.bin', data: new Uint8Array(1 << 20) }
      for (const fd of readdirSync('/proc/self/fd')) {
        let target = ''
        try {
          target = readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          continue
        }
        if (/\/\.a\.bin\.\d+\.[0-9a-f]+\.tmp$/.test(target)) flags.push(parseInt(/flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8))
      }
    }
    await run.logArtifacts(sources())
    expect(flags).toHaveLength(1)
    expect(flags[0]! & constants.O_DSYNC).toBe(constants.O_DSYNC)
    run.logArtifact({ name: 'b.bin', data: 'b' })
    const artifacts = join(home, 'runs', run.experimentId, run.id, 'artifacts')
    expect(statSync(join(artifacts, 'a.bin')).mode & 0o777).toBe(statSync(join(artifacts, 'b.bin')).mode & 0o777)
    run.end()
  })
})

describe('logBacktestAsync', () => {
  it('writes the same files, byte for byte, and the same records as logBacktest', async () => {
    const bars = syntheticGbm({ bars: 20_000, timeframe: '1m', seed: 3 })
    const result = backtest({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: [bars.symbol], timeframe: '1m', data: { [bars.symbol]: bars }, sizing: { qty: 1 }, fills: { takerRate: 0.0005 } })
    const home = dir()
    const tracker = openTracker(home)
    const options = { params: { fast: 10, slow: 30 }, config: { engine: 'event' } }
    const plain = tracker.startRun({ experiment: 'bt' })
    logBacktest(plain, result, options)
    plain.end()
    const background = tracker.startRun({ experiment: 'bt' })
    await logBacktestAsync(background, result, options)
    background.end()
    const files = (id: string) => tracker.listArtifacts(id).map((a) => [a.path, a.size, a.sha256])
    expect(files(background.id)).toEqual(files(plain.id))
    expect(files(plain.id).map(([p]) => p)).toEqual(['equity.parquet', 'trades.parquet', 'orders.parquet', 'fills.parquet', 'factors.parquet', 'results.json'])
    for (const [path] of files(plain.id)) expect(tracker.readArtifact(background.id, path as string).bytes.equals(tracker.readArtifact(plain.id, path as string).bytes)).toBe(true)
    const a = tracker.getRun(plain.id)
    const b = tracker.getRun(background.id)
    expect(b.params).toEqual(a.params)
    const values = (m: typeof a.metrics) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.value]))
    expect(values(b.metrics)).toEqual(values(a.metrics))
    expect(Object.keys(a.metrics).length).toBeGreaterThan(10)
    expect(b.tags['mtflow.kind']).toBe('backtest')
    const history = (id: string, key: string) => tracker.metricHistory(id, key).map((p) => [p.step, p.value, p.timestamp])
    expect(history(background.id, 'equity')).toEqual(history(plain.id, 'equity'))
    expect(history(background.id, 'drawdown')).toEqual(history(plain.id, 'drawdown'))
    expect(history(plain.id, 'equity').length).toBeGreaterThan(100)
  })

  it('when the first file is refused, the params, metrics and curves are still logged, as logBacktest logs them', async () => {
    const bars = syntheticGbm({ bars: 2_000, timeframe: '1m', seed: 4 })
    const result = backtest({ strategy: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: [bars.symbol], timeframe: '1m', data: { [bars.symbol]: bars }, sizing: { qty: 1 } })
    const home = dir()
    const tracker = openTracker(home)
    const counts: number[] = []
    for (const log of [logBacktest, logBacktestAsync]) {
      const run = tracker.startRun({ experiment: 'refused' })
      // The run's artifacts folder is a link: no file may be written through it.
      symlinkSync(dir(), join(home, 'runs', run.experimentId, run.id, 'artifacts'))
      await expect(Promise.resolve().then(() => log(run, result, { params: { fast: 5 } }))).rejects.toThrow(/not a folder/)
      counts.push(Object.keys(tracker.getRun(run.id).metrics).length)
      expect(tracker.metricHistory(run.id, 'equity').length).toBeGreaterThan(10)
      run.end()
    }
    expect(counts[0]).toBeGreaterThan(10)
    expect(counts[1]).toBe(counts[0])
  })

  it('a sink without logArtifacts is logged by logBacktest; artifacts: false writes no file', async () => {
    const bars = syntheticGbm({ bars: 2_000, timeframe: '1m', seed: 4 })
    const result = backtest({ strategy: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: [bars.symbol], timeframe: '1m', data: { [bars.symbol]: bars }, sizing: { qty: 1 } })
    const names: string[] = []
    let batches = 0
    const sink = { logBatch: () => void batches++, logArtifact: (a: { name: string }) => void names.push(a.name) }
    await logBacktestAsync(sink, result, { params: {} })
    expect(names).toEqual(['equity.parquet', 'trades.parquet', 'orders.parquet', 'fills.parquet', 'factors.parquet', 'results.json'])
    expect(batches).toBe(3)
    const tracker = openTracker(dir())
    const run = tracker.startRun({ experiment: 'bt' })
    await logBacktestAsync(run, result, { params: {}, artifacts: false })
    expect(tracker.listArtifacts(run.id)).toEqual([])
    expect(Object.keys(tracker.getRun(run.id).metrics)).toContain('sharpe')
    run.end()
  })
})
