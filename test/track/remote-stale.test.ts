// Staleness of runs that remote clients start (issue 22, point 3): the run records the client's host and
// pid, not the server's; the client's RemoteTracker keeps the heartbeat (its ActiveRun timer posts beats);
// a restarted server leaves a beating run RUNNING; a client killed with SIGKILL leaves a run judged by its
// heartbeat's age — RUNNING within staleMs of the last beat, FAILED past it (clock moved, no waiting).
// The server and the clients are child processes: RemoteTracker blocks its thread on each request.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Tracker } from '../../lib/track/index.js'
import { ROOT } from '../helpers.js'

const EXPERIMENT = 'remote-stale'
/** The tracker's default staleMs (store.ts), restated: the server applies it, and so do the readers here. */
const STALE_MS = 120_000

let home: string
let elsewhere: string
let port: number
let server: ChildProcess
let url: string
let token: string
const clients: ChildProcess[] = []

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

/** `mtflow serve` on the fixed port (so a restarted server is at the clients' URL); resolves once listening. */
async function serve(): Promise<ChildProcess> {
  const p = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), 'serve', '--port', String(port), '--json'], { env: { ...process.env, MTFLOW_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    p.once('exit', (code) => reject(new Error(`mtflow serve exited (${code})`)))
  })
  ;({ url, token } = JSON.parse(line) as { url: string; token: string })
  return p
}

async function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const closed = new Promise((r) => p.once('close', r))
  p.kill('SIGKILL')
  await closed
}

/** A client process: a RemoteTracker beating every 100 ms starts a run, prints { id, pid, host } and idles. */
async function client(name: string): Promise<{ proc: ChildProcess; id: string; pid: number; host: string }> {
  const code = `require('tsx/cjs/api').register(); const track = require(${JSON.stringify(join(ROOT, 'lib', 'track', 'index.ts'))});
    const t = new track.RemoteTracker(undefined, { url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)}, heartbeatMs: 100 });
    const run = t.startRun({ experiment: ${JSON.stringify(EXPERIMENT)}, name: ${JSON.stringify(name)} });
    console.log(JSON.stringify({ id: run.id, pid: process.pid, host: require('node:os').hostname() }));
    setInterval(() => {}, 1 << 30)`
  const proc = spawn(process.execPath, ['-e', code], { cwd: ROOT, env: { ...process.env, MTFLOW_HOME: elsewhere }, stdio: ['ignore', 'pipe', 'inherit'] })
  clients.push(proc)
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    proc.once('exit', (c) => reject(new Error(`client exited (${c})`)))
  })
  return { proc, ...(JSON.parse(line) as { id: string; pid: number; host: string }) }
}

/** Poll until `probe` holds (waiting for an event; the limit only keeps a broken build from hanging). */
async function until(what: string, probe: () => boolean, limitMs = 60_000): Promise<void> {
  const start = Date.now()
  while (!probe()) {
    if (Date.now() - start > limitMs) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const heartbeatFile = (runId: string) => join(home, 'runs', EXPERIMENT, runId, 'heartbeat')
const beatAt = (runId: string) => statSync(heartbeatFile(runId)).mtimeMs

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/track${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const text = await res.text()
  return { status: res.status, body: JSON.parse(text) }
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-remote-stale-server-'))
  elsewhere = mkdtempSync(join(tmpdir(), 'mtflow-remote-stale-client-'))
  // A free port is not held: another process can take it before the server binds it. Try others then.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      server = await serve()
      break
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}, 60_000)

afterAll(async () => {
  for (const c of clients) await kill(c)
  await kill(server)
  rmSync(home, { recursive: true, force: true })
  rmSync(elsewhere, { recursive: true, force: true })
})

describe('runs started by remote clients', () => {
  let beating: Awaited<ReturnType<typeof client>>

  it("record the client's host and pid, and the client's heartbeats reach the server", async () => {
    beating = await client('beating')
    const info = new Tracker(home).getRun(beating.id).info
    expect(info.status).toBe('RUNNING')
    expect([info.host, info.pid]).toEqual([beating.host, beating.pid])
    expect(info.pid).not.toBe(server.pid)
    // The client's ActiveRun timer posts beats: the heartbeat file moves on after the run started.
    const first = beatAt(beating.id)
    await until('a heartbeat from the client', () => beatAt(beating.id) > first)

    // A client elsewhere: recorded as it says, whatever this machine's name.
    const far = await call('POST', '/runs', { experiment: EXPERIMENT, name: 'far', origin: { host: 'worker-7.cluster', pid: 4242 } })
    expect(far.status).toBe(200)
    expect([far.body.info.host, far.body.info.pid]).toEqual(['worker-7.cluster', 4242])
  }, 60_000)

  it('refuses a malformed origin in one line and writes no run', async () => {
    const before = new Tracker(home).summaries().length
    const cases: [unknown, string][] = [
      ['host-7', 'origin must be an object (received "host-7")'],
      [{ host: '', pid: 1 }, 'origin.host must be a host name of 1–255 printable characters (received "")'],
      [{ host: 'a\nb', pid: 1 }, 'origin.host must be a host name of 1–255 printable characters (received "a\\nb")'],
      [{ host: 'h'.repeat(256), pid: 1 }, 'origin.host must be a host name of 1–255 printable characters'],
      [{ host: 'h', pid: 0 }, 'origin.pid must be an integer ≥ 1 (received 0)'],
      [{ host: 'h', pid: 1.5 }, 'origin.pid must be an integer ≥ 1 (received 1.5)'],
      [{ host: 'h', pid: '12' }, 'origin.pid must be an integer ≥ 1 (received "12")'],
      [{ host: 'h' }, 'origin.pid must be an integer ≥ 1 (received undefined)'],
    ]
    for (const [origin, message] of cases) {
      const res = await call('POST', '/runs', { experiment: 'never-made', origin })
      expect(res.status, JSON.stringify(origin)).toBe(400)
      expect(res.body.error).toContain(message)
      expect(res.body.error.split('\n')).toHaveLength(1)
    }
    expect(new Tracker(home).summaries().length).toBe(before)
    expect(new Tracker(home).listExperiments().map((e) => e.name)).not.toContain('never-made')
  })

  it('stay RUNNING across a restart of the server while their client beats', async () => {
    await kill(server)
    server = await serve()
    const restarted = Date.now()
    // The client beats into the new server at the same URL.
    await until('a heartbeat after the restart', () => beatAt(beating.id) > restarted)
    const got = await call('GET', `/runs/${beating.id}`)
    expect(got.status).toBe(200)
    expect(got.body.info.status).toBe('RUNNING')
    expect(got.body.tags['mtflow.failure']).toBeUndefined()
    expect((await call('POST', '/mark-stale')).body.runIds).toEqual([])
    expect(new Tracker(home).getRun(beating.id).info.status).toBe('RUNNING')
  }, 120_000)

  it('become stale once a client killed with SIGKILL has not beaten for staleMs, not before', async () => {
    // Started on the server as it now runs (no restart after), then killed.
    const doomed = await client('doomed')
    const first = beatAt(doomed.id)
    await until('a heartbeat from the doomed client', () => beatAt(doomed.id) > first)
    await kill(doomed.proc)
    // A beat the client sent just before it died may still be written by a busy server: wait until it is.
    let last = beatAt(doomed.id)
    for (let settled = false; !settled; ) {
      await new Promise((r) => setTimeout(r, 500))
      settled = beatAt(doomed.id) === last
      last = beatAt(doomed.id)
    }
    // Judged by the heartbeat's age, on a moved clock: within staleMs of the last beat the run stands
    // (its pid is not consulted), past it the run is marked FAILED.
    const within = new Tracker(home, { staleMs: STALE_MS, now: () => last + STALE_MS - 1000 })
    expect(within.staleReason(within.getRun(doomed.id).info)).toBeUndefined()
    expect(within.markStaleRuns()).not.toContain(doomed.id)
    expect(within.getRun(doomed.id).info.status).toBe('RUNNING')
    // Only this run: on that clock the live client's run would be past staleMs too.
    const past = new Tracker(home, { staleMs: STALE_MS, now: () => last + STALE_MS + 1000 })
    expect(past.markStaleRun(past.indexedRuns(EXPERIMENT).get(doomed.id)!.info)).toBe(true)
    const got = new Tracker(home).getRun(doomed.id)
    expect(got.info.status).toBe('FAILED')
    expect(got.tags['mtflow.failure']).toBe(`marked FAILED: no heartbeat from ${doomed.host} for ${Math.round((STALE_MS + 1000) / 1000)} s`)
    expect(got.info.endTime).toBe(Math.round(beatAt(doomed.id)))
    // On the real clock, the live client's run is untouched.
    expect(new Tracker(home).getRun(beating.id).info.status).toBe('RUNNING')
  }, 120_000)
})

describe('Tracker.startRun for a remote client (heartbeat: false)', () => {
  it('starts no heartbeat timer in this process; a run without the option does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-remote-stale-local-'))
    vi.useFakeTimers()
    try {
      const tracker = new Tracker(dir, { heartbeatMs: 1000, staleMs: 5000 })
      const beats: string[] = []
      tracker.beat = (runId: string) => void beats.push(runId)
      const kept = tracker.startRun({ experiment: 'local', origin: { host: 'worker-7', pid: 4242 }, heartbeat: false })
      const own = tracker.startRun({ experiment: 'local' })
      vi.advanceTimersByTime(3500)
      expect(beats).toEqual([own.id, own.id, own.id])
      own.end()
      kept.end()
    } finally {
      vi.useRealTimers()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Tracker remoteBeatsSince (a server back from an outage)', () => {
  it('does not judge a remote-kept run on silence from before the server started, and does after staleMs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-remote-stale-outage-'))
    try {
      const writer = new Tracker(dir)
      const kept = writer.startRun({ experiment: 'outage', origin: { host: 'worker-7', pid: 4242 }, heartbeat: false })
      const plain = writer.startRun({ experiment: 'outage', origin: { host: 'worker-8', pid: 4343 } })
      plain.end('RUNNING') // its timer stopped; it stays RUNNING
      // Both last beat 10 minutes before the server (re)started at t0.
      const t0 = Date.now()
      const old = new Date(t0 - 600_000)
      for (const id of [kept.id, plain.id]) utimesSync(join(dir, 'runs', 'outage', id, 'heartbeat'), old, old)
      const at = (ms: number) => new Tracker(dir, { staleMs: 60_000, remoteBeatsSince: t0, now: () => t0 + ms })
      const info = (id: string) => writer.indexedRuns('outage').get(id)!.info
      // Within staleMs of the start: the remote client has had no chance to beat yet.
      expect(at(59_000).staleReason(info(kept.id))).toBeUndefined()
      // A run whose own process keeps the beat is judged as before.
      expect(at(59_000).staleReason(info(plain.id))).toBe('no heartbeat from worker-8 for 659 s')
      // Past staleMs since the start with no beat: stale, the age counted from the last beat.
      expect(at(61_000).staleReason(info(kept.id))).toBe('no heartbeat from worker-7 for 661 s')
      // Without the option, at once.
      expect(new Tracker(dir, { staleMs: 60_000, now: () => t0 }).staleReason(info(kept.id))).toBe('no heartbeat from worker-7 for 600 s')
      kept.end()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
