// Issue 18, point 6 (the lake's half): crash debris. A CLI import killed with SIGKILL while it writes
// leaves temp files and a half-built generation that nobody sees; lakeDebris lists them, the next
// import of the dataset removes them. removeLakeDebris clears dead writers' files and leaves live ones.

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importFile, lakeDebris, lakeDir, loadBars, removeLakeDebris } from '../../lib/data/index.js'
import { ROOT, runCli } from '../helpers.js'

const home = () => mkdtempSync(join(tmpdir(), 'mtflow-debris-'))
const MINUTE = 60_000

function minuteCsv(file: string, from: number, to: number): void {
  const lines: string[] = ['time,open,high,low,close,volume']
  for (let t = from; t < to; t += MINUTE) lines.push(`${t},100,101,99,100,1`)
  writeFileSync(file, `${lines.join('\n')}\n`)
}

function tempFiles(h: string): string[] {
  const root = lakeDir(h)
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true }).map(String).filter((p) => p.endsWith('.tmp'))
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!
}

/** Start a CLI import and SIGKILL it as soon as a partition temp file exists; undefined if it ended first. */
async function killWhileWriting(h: string, csv: string): Promise<number | undefined> {
  const child = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), 'import', csv, '--symbol', 'BIG', '--timeframe', '1m'], {
    cwd: ROOT,
    env: { ...process.env, MTFLOW_HOME: h },
    stdio: 'ignore',
  })
  let ended = false
  const closed = new Promise<void>((resolve) => child.on('close', () => ((ended = true), resolve())))
  while (!ended) {
    if (tempFiles(h).length > 0) {
      child.kill('SIGKILL')
      await closed
      return tempFiles(h).length > 0 ? child.pid : undefined
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  return undefined
}

describe('lake crash debris', () => {
  it('an import killed mid-write shows nothing, leaves debris that lakeDebris names, and the next import removes it', async () => {
    const csv = join(mkdtempSync(join(tmpdir(), 'mtflow-debris-csv-')), 'big.csv')
    minuteCsv(csv, Date.UTC(2024, 0, 1), Date.UTC(2025, 0, 1)) // 366 days × 1440 = 527,040 bars, 12 partitions
    let h = ''
    let pid: number | undefined
    for (let attempt = 0; attempt < 4 && pid === undefined; attempt++) {
      h = home()
      pid = await killWhileWriting(h, csv)
    }
    expect(pid, 'the import was never caught while writing').toBeDefined()
    // Nothing of the killed import is visible: no generation was switched to.
    await expect(loadBars(h, { symbol: 'BIG', timeframe: '1m' })).rejects.toThrow(/no bars for BIG/)
    const debris = lakeDebris(h)
    const temps = debris.filter((d) => d.kind === 'temp')
    expect(temps.length).toBeGreaterThan(0)
    expect(temps.every((d) => d.reason === `writer pid ${pid} is gone` && d.path.endsWith('.tmp'))).toBe(true)
    expect(debris.some((d) => d.kind === 'generation' && d.path.endsWith('gen=1'))).toBe(true)

    // The next import of the dataset cleans up and lands whole.
    const small = join(h, 'small.csv')
    minuteCsv(small, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2))
    const r = await runCli(['import', small, '--symbol', 'BIG', '--timeframe', '1m'], { env: { MTFLOW_HOME: h } })
    expect(r.code, r.stderr).toBe(0)
    expect(tempFiles(h)).toEqual([])
    expect(lakeDebris(h)).toEqual([])
    expect((await loadBars(h, { symbol: 'BIG', timeframe: '1m' })).time.length).toBe(1440)
  }, 180_000)

  it('removeLakeDebris removes dead writers’ temps, stale locks and orphaned generations, and nothing live', async () => {
    const h = home()
    const csv = join(h, 'jan.csv')
    minuteCsv(csv, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 3)) // 2 days = 2,880 bars
    await importFile(h, csv, { symbol: 'DEB', timeframe: '1m' })
    const dataset = join(lakeDir(h), 'source=local', 'symbol=DEB', 'timeframe=1m')
    const dead = deadPid()
    const deadTemp = join(dataset, 'gen=1', 'period=2024-01', `data.parquet.${dead}.3.tmp`)
    const liveTemp = join(dataset, 'gen=1', 'period=2024-01', `data.parquet.${process.pid}.4.tmp`)
    const staleLock = join(dataset, '.lock')
    const orphan = join(dataset, 'gen=7')
    const quarantineDir = join(h, 'lake', 'quarantine', 'source=local', 'symbol=DEB', 'timeframe=1m')
    mkdirSync(quarantineDir, { recursive: true })
    mkdirSync(join(orphan, 'period=2024-01'), { recursive: true })
    const quarantineTemp = join(quarantineDir, `x.parquet.${dead}.1.tmp`)
    for (const f of [deadTemp, liveTemp, quarantineTemp]) writeFileSync(f, 'partial')
    writeFileSync(staleLock, JSON.stringify({ pid: dead, at: Date.now() }))

    const found = lakeDebris(h)
    expect(found.map((d) => [d.kind, d.path]).sort()).toEqual(
      [
        ['generation', orphan],
        ['lock', staleLock],
        ['temp', deadTemp],
        ['temp', quarantineTemp],
      ].sort(),
    )
    expect(found.find((d) => d.kind === 'lock')!.reason).toBe(`lock owner pid ${dead} is gone`)
    expect(removeLakeDebris(h).sort()).toEqual([deadTemp, orphan, quarantineTemp, staleLock].sort())
    expect(lakeDebris(h)).toEqual([])
    for (const gone of [deadTemp, orphan, quarantineTemp, staleLock]) expect(existsSync(gone), gone).toBe(false)
    expect(existsSync(liveTemp)).toBe(true)
    expect((await loadBars(h, { symbol: 'DEB', timeframe: '1m' })).time.length).toBe(2880)
  })

  it('a live writer’s lock, half-built generation and temp are left alone however old its lock', async () => {
    const h = home()
    const csv = join(h, 'jan.csv')
    minuteCsv(csv, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2))
    await importFile(h, csv, { symbol: 'LIVE', timeframe: '1m' }) // generation 1
    const dataset = join(lakeDir(h), 'source=local', 'symbol=LIVE', 'timeframe=1m')
    const lock = join(dataset, '.lock')
    // A real process takes the dataset's lock through lock.ts and holds it for 6 s, as a long import would.
    const script = `require('tsx/cjs/api').register();
      const { withLockSync } = require(${JSON.stringify(join(ROOT, 'lib', 'core', 'lock.ts'))});
      withLockSync(${JSON.stringify(lock)}, () => { process.stdout.write('held\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000) })`
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve())
        child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)))
      })
      // Its lock made to look an hour old (the age rule would call it stale), its work in progress beside it.
      const info = JSON.parse(readFileSync(lock, 'utf8')) as Record<string, unknown>
      writeFileSync(lock, JSON.stringify({ ...info, at: Date.now() - 3_600_000 }))
      const lockText = readFileSync(lock, 'utf8')
      const building = join(dataset, 'gen=2', 'period=2024-01')
      mkdirSync(building, { recursive: true })
      const temp = join(building, `data.parquet.${child.pid}.1.tmp`)
      writeFileSync(temp, 'being written')
      expect(lakeDebris(h)).toEqual([])
      expect(removeLakeDebris(h)).toEqual([])
      expect(readFileSync(temp, 'utf8')).toBe('being written')
      expect(readFileSync(lock, 'utf8')).toBe(lockText)
      expect(readdirSync(dataset).sort()).toEqual(['.lock', 'CURRENT', 'gen=1', 'gen=2'])
    } finally {
      child.kill('SIGKILL')
    }
    // Gone (reaped: a zombie still answers signal 0), however long that takes on a loaded machine.
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r))
    // Once the writer is gone, the same files are a dead writer's debris.
    expect(removeLakeDebris(h).sort()).toEqual([join(dataset, 'gen=2'), join(dataset, 'gen=2', 'period=2024-01', `data.parquet.${child.pid}.1.tmp`), lock].sort())
  }, 30_000)
})
