// Shared test helpers: the project root, running the CLI as a real process, finding kernel processes,
// and independent facts about the bundled sample (computed here from the raw CSV text, not by lib/).

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const SAMPLE_CSV = join(ROOT, 'data', 'samples', 'sp500-daily-2000-2020.csv')
export const QUICKSTART = join(ROOT, 'notebooks', '00-quickstart.ipynb')
export const FIXTURES = join(ROOT, 'test', 'fixtures')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  pid: number
}

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    options.onSpawn?.(child.pid!)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid! }))
  })
}

/**
 * Several CLI commands, one after another, in one process (test/fixtures/cli-batch.cjs): each result is what
 * runCli would give (main's code as the exit code, its own stdout and stderr) without a process start each.
 * For checks of many refusals where the point is the message and the code, not the process. `env` per call
 * applies to that call only; an undefined value unsets the variable, as in runCli.
 */
export function runCliBatch(
  calls: (string[] | { args: string[]; env?: NodeJS.ProcessEnv })[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-batch-'))
  const file = join(dir, 'results.json')
  const input = calls.map((c) => {
    const { args, env = {} } = Array.isArray(c) ? { args: c } : c
    return { args, env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? null])) }
  })
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'cli-batch.cjs'), file], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.stdin.end(JSON.stringify(input))
    child.on('close', (code, signal) => {
      try {
        if (code !== 0) throw new Error(`the CLI batch exited ${code ?? signal}: ${output}`)
        const results = JSON.parse(readFileSync(file, 'utf8')) as { code: number; stdout: string; stderr: string }[]
        resolve(results.map((r) => ({ ...r, signal: null, pid: child.pid! })))
      } catch (error) {
        reject(error)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

/** Pids of live tslab kernels (our launcher) whose parent process is `parentPid`. */
export function kernelsOf(parentPid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (!cmdline.includes('tslab-launcher.cjs')) continue
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(' ')[2]
      if (state !== 'Z' && environ.includes(`MTFLOW_KERNEL_PARENT_PID=${parentPid}`)) out.push(Number(entry))
    } catch {
      /* gone meanwhile */
    }
  }
  return out
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (predicate()) return true
    await new Promise((r) => setTimeout(r, stepMs))
  }
  return predicate()
}

/** Rows of the sample with start ≤ date ≤ end, by comparing the ISO date text of each line. */
export function sampleRowsBetween(start: string, end: string): { count: number; first: string; last: string; firstClose: number; lastClose: number } {
  const lines = readFileSync(SAMPLE_CSV, 'utf8').trim().split('\n').slice(1)
  const rows = lines.map((l) => l.split(',')).filter((c) => c[0]! >= start && c[0]! <= end)
  return {
    count: rows.length,
    first: rows[0]![0]!,
    last: rows[rows.length - 1]![0]!,
    firstClose: Number(rows[0]![4]),
    lastClose: Number(rows[rows.length - 1]![4]),
  }
}

/** The text of a notebook output (stream text or a MIME entry), joined. */
export function outputText(output: Record<string, unknown>, mime?: string): string {
  const value = mime === undefined ? output.text : (output.data as Record<string, unknown> | undefined)?.[mime]
  if (value === undefined) return ''
  return Array.isArray(value) ? value.join('') : String(value)
}

/** '' when every number of the two values has the same bits (Object.is: NaN equals NaN, -0 differs from 0), descending into objects and Float64Arrays; else the first path that differs. */
export function sameBits(a: unknown, b: unknown, path = 'value'): string {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) ? '' : `${path}: ${a} vs ${b}`
  if (a instanceof Float64Array && b instanceof Float64Array) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `${path}[${i}]: ${a[i]} vs ${b[i]}`
    return ''
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = sameBits((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`)
      if (d !== '') return d
    }
    return ''
  }
  return a === b ? '' : `${path}: ${String(a)} vs ${String(b)}`
}

/** Pieces of 0 … 40 bytes (some empty), byte k of the whole being k mod 251: files written from pieces (test/core/write-pieces, test/track/artifacts-async). */
export function bytePieces(count: number): { parts: Uint8Array[]; whole: Buffer } {
  const parts: Uint8Array[] = []
  let k = 0
  for (let i = 0; i < count; i++) {
    const part = new Uint8Array((i * 7) % 41)
    for (let j = 0; j < part.length; j++) part[j] = k++ % 251
    parts.push(part)
  }
  return { parts, whole: Buffer.from(Array.from({ length: k }, (_, j) => j % 251)) }
}

/** A kernel that writes at most `limit` bytes per writev call, from the first buffers given (short writes). */
export function shortWriter(limit: number, onCall: () => void = () => undefined): (fd: number, buffers: readonly Uint8Array[]) => number {
  return (fd, buffers) => {
    onCall()
    let left = limit
    let written = 0
    for (const b of buffers) {
      if (left === 0) break
      const n = writeSync(fd, b, 0, Math.min(left, b.length))
      written += n
      left -= n
      if (n < b.length) break
    }
    return written
  }
}
