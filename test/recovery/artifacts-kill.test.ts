// A process killed (SIGKILL) while logArtifacts writes its files — the moment a tracked backtest's tables
// are in flight: every artifact recorded reads back whole (its sha256 checked), the recorded ones are the
// first files in order, at most two temp files are left in the run's artifacts/, and `findDebris` (what
// `mtflow doctor` lists) finds exactly those and removes them, touching nothing recorded.

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { findDebris, removeDebris } from '../../lib/core/index.js'
import { openTracker } from '../../lib/track/index.js'
import { ROOT } from '../helpers.js'

const homes: string[] = []
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true })
})

/** A child logging eight 24 MB files, killed when it takes the `killAt`-th source (earlier ones in flight or recorded). */
async function killWhileLogging(killAt: number): Promise<{ home: string; runId: string }> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-art-kill-'))
  homes.push(home)
  const script = `require(${JSON.stringify(join(ROOT, 'lib/core/loader.cjs'))})
    const { openTracker } = require(${JSON.stringify(join(ROOT, 'lib/track/index.ts'))})
    const run = openTracker(${JSON.stringify(home)}).startRun({ experiment: 'kill' })
    process.stdout.write('run ' + run.id + '\\n')
    function* sources() {
      for (let i = 0; i < 8; i++) {
        process.stdout.write('taking ' + i + '\\n')
        if (i === ${killAt}) { const end = Date.now() + 10_000; while (Date.now() < end); }
        yield { name: 't' + i + '.bin', data: new Uint8Array(24 << 20).fill(i + 1) }
      }
    }
    run.logArtifacts(sources()).then(() => process.stdout.write('done\\n'))`
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes(`taking ${killAt}\n`)) resolve()
    })
    child.on('exit', () => reject(new Error(`the child ended before taking source ${killAt}: ${out}`)))
  })
  child.kill('SIGKILL')
  await exited
  return { home, runId: /^run (\S+)$/m.exec(out)![1]! }
}

it.each([1, 2, 5])('killed when taking source %i: what is recorded is whole, at most two temp files stay, and the debris scan removes exactly those', async (killAt) => {
  const { home, runId } = await killWhileLogging(killAt)
  const tracker = openTracker(home)
  const recorded = tracker.listArtifacts(runId).map((a) => a.path)
  // The first files, in order; the ones still in flight when killed (at most two) are not among them.
  expect(recorded).toEqual(Array.from({ length: recorded.length }, (_, i) => `t${i}.bin`))
  expect(recorded.length).toBeGreaterThanOrEqual(Math.max(0, killAt - 2))
  for (const path of recorded) {
    const { bytes } = tracker.readArtifact(runId, path) // throws if the bytes differ from the recorded sha256
    expect(bytes.length).toBe(24 << 20)
    expect(bytes[bytes.length - 1]).toBe(Number(/\d+/.exec(path)![0]) + 1)
  }
  const folder = join(home, 'runs', 'kill', runId, 'artifacts')
  const temps = readdirSync(folder).filter((f) => f.endsWith('.tmp'))
  expect(temps.length).toBeLessThanOrEqual(2)
  const found = findDebris(home).filter((d) => d.path.startsWith(folder))
  expect(found.map((d) => d.path.slice(folder.length + 1)).sort()).toEqual([...temps].sort())
  removeDebris(found)
  const left = readdirSync(folder)
  expect(left.filter((f) => f.endsWith('.tmp'))).toEqual([])
  expect(left.filter((f) => !recorded.includes(f)).every((f) => /^t\d\.bin$/.test(f))).toBe(true)
  for (const path of recorded) tracker.readArtifact(runId, path)
}, 60_000)
