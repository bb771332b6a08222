// Test helpers for the bullmq executor: a real redis-server on a free loopback port without persistence
// (started, killed and started again on the same port, empty), and real `mtflow worker` processes. Every
// process started here runs in its own process group and is killed by `killAll` (call it in afterAll).

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, waitFor } from '../helpers.js'

const started = new Set<ChildProcess>()
const dirs: string[] = []

/** A loopback port nothing listens on (at the time of asking). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

/**
 * Whether the redis-server of process `pid` answers on the port (INFO's process_id): another test's redis that
 * took the port first answers too, and the test would have used it.
 */
function pong(port: number, pid: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let text = ''
    socket.on('connect', () => socket.write('INFO server\r\n'))
    socket.on('data', (d) => {
      text += d.toString()
      const id = /process_id:(\d+)/.exec(text)
      if (id !== null || text.startsWith('-')) {
        socket.destroy()
        resolve(id !== null && Number(id[1]) === pid)
      }
    })
    socket.on('error', () => resolve(false))
    socket.setTimeout(1000, () => {
      socket.destroy()
      resolve(false)
    })
  })
}

export interface TestRedis {
  port: number
  url: string
  /** Start (again, empty) on the same port. */
  start(): Promise<void>
  /** kill -9 (everything in it is lost). */
  kill(): Promise<void>
  readonly pid: number | undefined
}

export async function startRedis(): Promise<TestRedis> {
  // A free port is not held: another process can take it before redis binds it. Try others then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(await freePort())
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('did not start on port')) throw error
    }
  }
}

async function startRedisOn(port: number): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'mtflow-redis-'))
  dirs.push(dir)
  let child: ChildProcess | undefined
  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { detached: true, stdio: 'ignore' })
      const c = child
      started.add(c)
      c.on('exit', () => started.delete(c))
      let failed: Error | undefined
      c.on('error', (error) => (failed = error))
      for (let k = 0; k < 200; k++) {
        if (await pong(port, c.pid)) return
        if (failed !== undefined) throw new Error(`cannot start redis-server (${failed.message}): install Debian's redis-server (.ci/run does)`)
        if (c.exitCode !== null) break
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`redis-server did not start on port ${port}`)
    },
    async kill() {
      const c = child
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()))
      process.kill(-c.pid!, 'SIGKILL')
      await gone
    },
  }
  await redis.start()
  return redis
}

export interface TestWorker {
  pid: number
  /** stderr (its log lines) and stdout so far. */
  readonly stderr: string
  readonly stdout: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): void
}

/** A process's error lines only: vitest reads file:line text in a message as the error's own stack. */
export function errorLines(stderr: string): string {
  return stderr.split('\n').filter((l) => /^(\w*Error\b|mtflow:)/.test(l)).join('; ').slice(-2000) || 'no error line'
}

/** A `mtflow worker` process (from `root`'s lib/cli/bin.cjs), resolved once it says it serves. */
export async function startWorker(args: string[], options: { root?: string; home: string; env?: NodeJS.ProcessEnv } = { home: '' }): Promise<TestWorker> {
  const root = options.root ?? ROOT
  const child = spawn(process.execPath, [join(root, 'lib', 'cli', 'bin.cjs'), '--home', options.home, 'worker', ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  started.add(child)
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      started.delete(child)
      resolve({ code, signal })
    }),
  )
  let done = false
  void exited.then(() => (done = true))
  await waitFor(() => done || /Ctrl-C stops/.test(stderr), 60_000, 50)
  if (done) throw new Error(`mtflow worker exited before serving: ${errorLines(stderr)}`)
  return {
    pid: child.pid!,
    get stderr() {
      return stderr
    },
    get stdout() {
      return stdout
    },
    exited,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, signal)
    },
  }
}

/** SIGKILL to every process group started here that is still running; Redis's folders removed. */
export function killAll(): void {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  started.clear()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}
