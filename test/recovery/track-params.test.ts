// Issue 18 point 8: a param keeps its first value across processes. Two real processes log the same 600
// keys to one run at once; each key must be accepted (written to params.jsonl) exactly once, whether the
// two send the same value (the second is a no-op) or different ones (the second is refused).

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Tracker } from '../../lib/track/index.js'
import { FIXTURES } from '../helpers.js'

const KEYS = 600
const homes: string[] = []
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})

function writer(home: string, runId: string, value: string): Promise<{ refused: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(FIXTURES, 'param-writer.cjs'), home, runId, String(KEYS), value], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`param-writer exited ${code}`))))
  })
}

/** Every key of params.jsonl with how many records hold it, read here line by line. */
function keyCounts(home: string, runId: string): Map<string, { count: number; values: string[] }> {
  const counts = new Map<string, { count: number; values: string[] }>()
  for (const line of readFileSync(join(home, 'runs', 'shared', runId, 'params.jsonl'), 'utf8').split('\n')) {
    if (line === '') continue
    for (const [k, v] of Object.entries(JSON.parse(line) as Record<string, string>)) {
      const c = counts.get(k) ?? { count: 0, values: [] }
      c.count++
      c.values.push(v)
      counts.set(k, c)
    }
  }
  return counts
}

async function race(values: [string, string]): Promise<{ home: string; runId: string; results: { refused: number }[] }> {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-params-'))
  homes.push(home)
  const run = new Tracker(home).startRun({ experiment: 'shared' })
  run.end()
  const pending = [writer(home, run.id, values[0]), writer(home, run.id, values[1])]
  // Both loaded and waiting at the gate (each says so with a ready file).
  const deadline = Date.now() + 30_000
  while (readdirSync(home).filter((f) => f.startsWith('ready-')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  writeFileSync(join(home, 'go'), '')
  return { home, runId: run.id, results: await Promise.all(pending) }
}

describe('params across processes', () => {
  it('two processes, the same 600 keys and values: each key written once', async () => {
    const { home, runId, results } = await race(['same', 'same'])
    expect(results).toEqual([{ refused: 0 }, { refused: 0 }])
    const counts = keyCounts(home, runId)
    expect(counts.size).toBe(KEYS)
    expect([...counts.values()].filter((c) => c.count !== 1)).toEqual([])
  }, 60_000)

  it('two processes, the same 600 keys with different values: each key accepted once, the other refused', async () => {
    const { home, runId, results } = await race(['a', 'b'])
    const counts = keyCounts(home, runId)
    expect(counts.size).toBe(KEYS)
    expect([...counts.values()].filter((c) => c.count !== 1)).toEqual([])
    // Every key was refused to exactly one of the two; the values kept are the winners'.
    expect(results[0]!.refused + results[1]!.refused).toBe(KEYS)
    const kept = [...counts.values()].map((c) => c.values[0])
    expect(kept.filter((v) => v === 'b').length).toBe(results[0]!.refused)
    expect(kept.filter((v) => v === 'a').length).toBe(results[1]!.refused)
    expect(new Tracker(home).getRun(runId).params).toEqual(Object.fromEntries([...counts].map(([k, c]) => [k, c.values[0]])))
  }, 60_000)
})
