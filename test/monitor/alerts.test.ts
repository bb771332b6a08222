// Alerts against a loopback webhook receiver (node:http on 127.0.0.1, port 0) that records every body:
// de-duplication and cooldown on an injected clock (the expected sends worked out by hand below), retries
// on 503 with the documented backoff, a receiver that never answers (timeout, no throw), routing by source
// and severity, bad configs refused with one line, and deployments' alerts.jsonl forwarded once each.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { forwardDeploymentAlerts, loadAlerting, readAlertHistory, type AlertsConfig } from '../../lib/monitor/alerts.js'

interface Receiver {
  url: string
  bodies: unknown[]
  /** What the next requests are answered: a status, or 'hang' (never answered). The last one repeats. */
  answers: (number | 'hang')[]
  close(): Promise<void>
}

const receivers: Receiver[] = []

async function receiver(answers: (number | 'hang')[] = [200]): Promise<Receiver> {
  const r: Receiver = { url: '', bodies: [], answers, close: async () => {} }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString('utf8')))
    req.on('end', () => {
      r.bodies.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(text) as unknown })
      const answer = r.answers.length > 1 ? r.answers.shift()! : r.answers[0]!
      if (answer === 'hang') return
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  r.close = () =>
    new Promise<void>((done) => {
      server.close(() => done())
      server.closeAllConnections()
    })
  receivers.push(r)
  return r
}

let home: string
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-alerts-'))
})
afterEach(async () => {
  rmSync(home, { recursive: true, force: true })
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})
afterAll(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

function configure(config: unknown): void {
  mkdirSync(join(home, 'monitor'), { recursive: true })
  writeFileSync(join(home, 'monitor', 'alerts.json'), JSON.stringify(config))
}

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0)
const at = (s: number) => T0 + s * 1000
const iso = (s: number) => new Date(at(s)).toISOString()
const bodiesOf = (r: Receiver) => r.bodies.map((b) => (b as { body: unknown }).body)

describe('alert delivery', () => {
  it('POSTs { time, source, key, severity, text, count } as JSON to the webhook and records the alert', async () => {
    const r = await receiver()
    configure({ sinks: [{ kind: 'webhook', url: r.url, name: 'ops' }] })
    const out = await loadAlerting(home).alert({ source: 'monitor', key: 'drift:z', severity: 'warning', text: 'PSI 0.31 on z' }, { now: at(0) })
    expect(r.bodies).toEqual([{ method: 'POST', type: 'application/json', body: { time: iso(0), source: 'monitor', key: 'drift:z', severity: 'warning', text: 'PSI 0.31 on z', count: 1 } }])
    expect(out.sent).toBe(true)
    expect(out.deliveries).toEqual([{ sink: 'ops', ok: true, attempts: 1, status: 200 }])
    const history = readAlertHistory(home)
    expect(history).toHaveLength(1)
    expect(history[0]).toMatchObject({ key: 'drift:z', text: 'PSI 0.31 on z', sent: true, count: 1 })
  })

  it('de-duplicates the same alert within the window, holds others of the key during the cooldown, lets an escalation through, and counts what it held', async () => {
    const r = await receiver()
    configure({ sinks: [{ kind: 'webhook', url: r.url }], dedupeSeconds: 600, cooldownSeconds: 60 })
    // Worked by hand from the rules: same key+severity+text within 600 s of the last send → duplicate;
    // another alert of the key within 60 s of the last send, not more severe → cooldown; a send carries
    // 1 + the alerts held since the previous send. Separate instances: the state is the workspace's.
    const steps: [number, string, 'info' | 'warning' | 'critical', string][] = [
      [0, 'k', 'warning', 'x'], // sent, count 1
      [10, 'k', 'warning', 'x'], // duplicate (1st held)
      [15, 'k2', 'warning', 'x'], // another key: sent, count 1
      [20, 'k', 'warning', 'x'], // duplicate (2nd held)
      [30, 'k', 'warning', 'y'], // cooldown (3rd held): 30 s after the send at 0
      [40, 'k', 'critical', 'z'], // escalation: sent, count 4
      [100, 'k', 'critical', 'z'], // duplicate of the send at 40 (1st held)
      [200, 'k', 'warning', 'w'], // 160 s after the last send: sent, count 2
      [799, 'k', 'warning', 'w'], // 599 s after: duplicate (1st held)
      [800, 'k', 'warning', 'w'], // 600 s after: the window is over: sent, count 2
    ]
    const outcomes = []
    for (const [s, key, severity, text] of steps) outcomes.push(await loadAlerting(home).alert({ source: 'monitor', key, severity, text }, { now: at(s) }))
    expect(outcomes.map((o) => [o.sent, o.held ?? null, o.count])).toEqual([
      [true, null, 1],
      [false, 'duplicate', 1],
      [true, null, 1],
      [false, 'duplicate', 2],
      [false, 'cooldown', 3],
      [true, null, 4],
      [false, 'duplicate', 1],
      [true, null, 2],
      [false, 'duplicate', 1],
      [true, null, 2],
    ])
    expect(bodiesOf(r).map((b) => { const { key, text, count, time } = b as { key: string; text: string; count: number; time: string }; return [time, key, text, count] })).toEqual([
      [iso(0), 'k', 'x', 1],
      [iso(15), 'k2', 'x', 1],
      [iso(40), 'k', 'z', 4],
      [iso(200), 'k', 'w', 2],
      [iso(800), 'k', 'w', 2],
    ])
    // Every alert is in the history, held ones included.
    expect(readAlertHistory(home, { limit: 100 }).map((h) => h.sent)).toEqual(outcomes.map((o) => o.sent))
  })

  it('retries a 503 after 500 ms then 1 s and succeeds on the third attempt; a 400 is not retried', async () => {
    const r = await receiver([503, 503, 200])
    configure({ sinks: [{ kind: 'webhook', url: r.url, retries: 3 }] })
    const waits: number[] = []
    const alerting = loadAlerting(home, { sleep: async (ms) => void waits.push(ms) })
    const out = await alerting.alert({ source: 'scheduler', key: 'job:retrain', severity: 'critical', text: 'retrain failed' }, { now: at(0) })
    expect(out.deliveries).toEqual([{ sink: 'webhook-1', ok: true, attempts: 3, status: 200 }])
    expect(waits).toEqual([500, 1000])
    expect(r.bodies).toHaveLength(3)
    expect(new Set(r.bodies.map((b) => JSON.stringify(b))).size).toBe(1)

    const bad = await receiver([400])
    configure({ sinks: [{ kind: 'webhook', url: bad.url, retries: 3 }] })
    const refused = await loadAlerting(home, { sleep: async () => {} }).alert({ source: 'scheduler', key: 'job:x', severity: 'info', text: 'x' }, { now: at(0) })
    expect(refused.deliveries).toEqual([{ sink: 'webhook-1', ok: false, attempts: 1, status: 400, error: 'the receiver answered 400' }])
    expect(bad.bodies).toHaveLength(1)
  })

  it('gives up on a 503 after 1 + retries attempts, backing off 500, 1000, 2000 ms', async () => {
    const r = await receiver([503])
    configure({ sinks: [{ kind: 'webhook', url: r.url, retries: 3 }] })
    const waits: number[] = []
    const out = await loadAlerting(home, { sleep: async (ms) => void waits.push(ms) }).alert({ source: 's', key: 'k', severity: 'info', text: 't' }, { now: at(0) })
    expect(out.deliveries[0]).toMatchObject({ ok: false, attempts: 4, status: 503 })
    expect(waits).toEqual([500, 1000, 2000])
    expect(r.bodies).toHaveLength(4)
  })

  it('a receiver that never answers times out, is retried, and the caller gets an outcome, not an exception', async () => {
    const r = await receiver(['hang'])
    configure({ sinks: [{ kind: 'webhook', url: r.url, timeoutMs: 150, retries: 1 }, { kind: 'log', file: 'monitor/alerts.log' }] })
    const out = await loadAlerting(home, { sleep: async () => {} }).alert({ source: 's', key: 'k', severity: 'warning', text: 'hello' }, { now: at(0) })
    expect(out.deliveries[0]).toEqual({ sink: 'webhook-1', ok: false, attempts: 2, error: 'no answer within 150 ms' })
    // The other sink is not held up by the failing one.
    expect(out.deliveries[1]).toEqual({ sink: 'log-2', ok: true, attempts: 1 })
    expect(readFileSync(join(home, 'monitor', 'alerts.log'), 'utf8')).toBe(`${iso(0)} WARNING s k: hello\n`)
    expect(r.bodies).toHaveLength(2)
  })

  it('a receiver that is not there is a failed delivery after the retries', async () => {
    const r = await receiver()
    const url = r.url
    await r.close()
    configure({ sinks: [{ kind: 'webhook', url, retries: 2 }] })
    const out = await loadAlerting(home, { sleep: async () => {} }).alert({ source: 's', key: 'k', severity: 'warning', text: 'x' }, { now: at(0) })
    expect(out.deliveries[0]).toMatchObject({ ok: false, attempts: 3 })
    expect(out.deliveries[0]!.error).toMatch(/^could not reach the receiver \(ECONNREFUSED\)$/)
  })

  it('routes by source prefix and minimum severity', async () => {
    const lines: string[] = []
    configure({
      sinks: [{ kind: 'log', name: 'file', file: 'logs/deploy.log' }, { kind: 'log', name: 'out', file: 'stdout' }],
      routes: [
        { sources: ['deployment:*'], minSeverity: 'critical', sinks: ['file'] },
        { sources: ['monitor'], sinks: ['out'] },
      ],
    })
    const alerting = loadAlerting(home, { stdout: { write: (t: string) => lines.push(t) } })
    const a = await alerting.alert({ source: 'deployment:d1', key: 'a', severity: 'warning', text: 'reconcile diff' }, { now: at(0) })
    const b = await alerting.alert({ source: 'deployment:d1', key: 'b', severity: 'critical', text: 'halted' }, { now: at(1) })
    const c = await alerting.alert({ source: 'monitor', key: 'c', severity: 'info', text: 'drift' }, { now: at(2) })
    const d = await alerting.alert({ source: 'monitors', key: 'd', severity: 'critical', text: 'no route' }, { now: at(3) })
    expect([a, b, c, d].map((o) => o.deliveries.map((x) => x.sink))).toEqual([[], ['file'], ['out'], []])
    expect(readFileSync(join(home, 'logs', 'deploy.log'), 'utf8')).toBe(`${iso(1)} CRITICAL deployment:d1 b: halted\n`)
    expect(lines).toEqual([`${iso(2)} INFO monitor c: drift\n`])
    // A log line stays one line, without terminal escapes.
    await alerting.alert({ source: 'monitor', key: 'k\n2', severity: 'info', text: 'a\u001b[2Jb\r\nc' }, { now: at(4) })
    expect(lines[1]).toBe(`${iso(4)} INFO monitor k 2: a [2Jb c\n`)
    expect(readAlertHistory(home)).toHaveLength(5)
  })

  it('`test` sends one alert through every sink whatever the routes', async () => {
    const r = await receiver()
    configure({ sinks: [{ kind: 'webhook', url: r.url, name: 'w' }], routes: [{ sources: ['nothing'], sinks: ['w'] }] })
    const out = await loadAlerting(home).test({ now: at(0) })
    expect(out.deliveries).toEqual([{ sink: 'w', ok: true, attempts: 1, status: 200 }])
    expect(bodiesOf(r)).toEqual([{ time: iso(0), source: 'mtflow', key: 'mtflow:test', severity: 'info', text: 'test alert from mtflow alerts test', count: 1 }])
  })
})

describe('bad configs', () => {
  const webhook = (url: unknown) => ({ sinks: [{ kind: 'webhook', url }] })
  const refused: [string, unknown, RegExp][] = [
    ['file: URL', webhook('file:///etc/passwd'), /sinks\[0\]\.url "file:\/\/\/etc\/passwd" must be an absolute http:\/\/ or https:\/\/ URL/],
    ['javascript: URL', webhook('javascript:alert(1)'), /sinks\[0\]\.url "javascript:alert\(1\)" must be an absolute http/],
    ['credentials', webhook('https://user:secret@hooks.example/x'), /sinks\[0\]\.url "https:\/\/hooks\.example": credentials in the URL are refused/],
    ['a user name', webhook('https://hooktoken@hooks.example/x'), /credentials in the URL are refused/],
    ['a cloud metadata address', webhook('http://169.254.169.254/latest/meta-data/'), /sinks\[0\]\.url "http:\/\/169\.254\.169\.254": a link-local or cloud metadata address is refused/],
    ['an IPv6 link-local address', webhook('http://[fe80::1]:8080/x'), /a link-local or cloud metadata address is refused/],
    ['the metadata host name', webhook('http://metadata.google.internal/computeMetadata/v1/'), /a link-local or cloud metadata address is refused/],
    ['not a URL', webhook('not a url'), /must be an absolute http/],
    ['relative', webhook('/hooks/x'), /must be an absolute http/],
    ['scheme-relative', webhook('//hooks.example/x'), /must be an absolute http/],
    ['http: without slashes', webhook('http:hooks.example'), /must be an absolute http/],
    ['ftp', webhook('ftp://hooks.example/x'), /must be an absolute http/],
    ['bad port', webhook('http://hooks.example:99999/x'), /is not a URL/],
    ['a number', webhook(42), /sinks\[0\]\.url must be a string/],
    ['log file outside', { sinks: [{ kind: 'log', file: '../outside.log' }] }, /sinks\[0\]\.file "\.\.\/outside\.log" must be a relative path inside the workspace/],
    ['unknown kind', { sinks: [{ kind: 'email' }] }, /sinks\[0\]\.kind must be "log" or "webhook"/],
    ['unknown field', { sinks: [], routez: [] }, /unknown field "routez"/],
    ['route to no sink', { sinks: [{ kind: 'log' }], routes: [{ sinks: ['ops'] }] }, /routes\[0\]\.sinks names "ops", which is no sink \(sinks: log-1\)/],
    ['bad severity', { sinks: [{ kind: 'log' }], routes: [{ sinks: ['log-1'], minSeverity: 'high' }] }, /minSeverity must be one of info, warning, critical/],
    ['bad retries', { sinks: [{ kind: 'webhook', url: 'http://127.0.0.1:1/x', retries: 50 }] }, /retries must be an integer from 0 to 10/],
  ]
  for (const [name, config, message] of refused) {
    it(`refuses ${name} with one line naming the file and the field`, () => {
      configure(config)
      let error: unknown
      try {
        loadAlerting(home)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ConfigError)
      const text = (error as Error).message
      expect(text).toContain(join(home, 'monitor', 'alerts.json'))
      expect(text).toMatch(message)
      expect(text).not.toContain('\n')
      expect(text).not.toContain('secret')
    })
  }

  it('refuses a file that is not JSON', () => {
    mkdirSync(join(home, 'monitor'), { recursive: true })
    writeFileSync(join(home, 'monitor', 'alerts.json'), '{ sinks: ')
    expect(() => loadAlerting(home)).toThrow(/alerts config .*alerts\.json is not valid JSON/)
  })

  it('no config: no sinks, and alerts are still recorded', async () => {
    const out = await loadAlerting(home).alert({ source: 's', key: 'k', severity: 'info', text: 't' }, { now: at(0) })
    expect(out.deliveries).toEqual([])
    expect(readAlertHistory(home)).toHaveLength(1)
  })

  it('a malformed alert is a ConfigError naming the field', async () => {
    await expect(loadAlerting(home).alert({ source: 's', key: 'k', severity: 'loud' as never, text: 't' })).rejects.toThrow(/an alert's severity must be one of info, warning, critical \(received "loud"\)/)
    await expect(loadAlerting(home).alert({ source: '', key: 'k', severity: 'info', text: 't' })).rejects.toThrow(/an alert's source must be a string of 1–200 characters/)
  })
})

describe('forwardDeploymentAlerts', () => {
  it('sends each new line of deployments/NAME/alerts.jsonl once, remembering a byte offset per file', async () => {
    const r = await receiver()
    configure({ sinks: [{ kind: 'webhook', url: r.url }] } satisfies AlertsConfig)
    const file = join(home, 'deployments', 'sma.BTC', 'alerts.jsonl')
    mkdirSync(join(home, 'deployments', 'sma.BTC'), { recursive: true })
    const l1 = `${JSON.stringify({ time: '2026-01-05T11:00:00.000Z', text: 'fill missed: a' })}\n`
    const l2 = `${JSON.stringify({ time: '2026-01-05T11:01:00.000Z', text: 'halted: daily loss over 500' })}\n`
    writeFileSync(file, l1 + l2)
    const first = await forwardDeploymentAlerts(home, { now: at(0) })
    expect(first.map((o) => [o.source, o.severity, o.text, o.sent])).toEqual([
      ['deployment:sma.BTC', 'warning', 'fill missed: a', true],
      ['deployment:sma.BTC', 'critical', 'halted: daily loss over 500', true],
    ])
    const offsets = () => JSON.parse(readFileSync(join(home, 'monitor', 'alerts-offsets.json'), 'utf8')) as Record<string, number>
    expect(offsets()).toEqual({ 'sma.BTC': Buffer.byteLength(l1 + l2) })
    expect(await forwardDeploymentAlerts(home, { now: at(1) })).toEqual([])

    // A line being written (no newline yet) waits for its end; a damaged line is skipped.
    const l3 = `${JSON.stringify({ time: '2026-01-05T11:02:00.000Z', text: 'ack learned: é' })}\n`
    appendFileSync(file, `not json\n${l3.slice(0, 20)}`)
    expect(await forwardDeploymentAlerts(home, { now: at(2) })).toEqual([])
    expect(offsets()).toEqual({ 'sma.BTC': Buffer.byteLength(`${l1}${l2}not json\n`) })
    appendFileSync(file, l3.slice(20))
    expect((await forwardDeploymentAlerts(home, { now: at(3) })).map((o) => o.text)).toEqual(['ack learned: é'])
    expect(offsets()).toEqual({ 'sma.BTC': Buffer.byteLength(`${l1}${l2}not json\n${l3}`) })
    expect(bodiesOf(r).map((b) => (b as { text: string }).text)).toEqual(['fill missed: a', 'halted: daily loss over 500', 'ack learned: é'])

    // A file replaced by a shorter one is read from its start.
    const l4 = `${JSON.stringify({ time: '2026-01-06T00:00:00.000Z', text: 'new journal' })}\n`
    writeFileSync(file, l4)
    expect((await forwardDeploymentAlerts(home, { now: at(4) })).map((o) => o.text)).toEqual(['new journal'])
    expect(offsets()).toEqual({ 'sma.BTC': Buffer.byteLength(l4) })
  })

  it('the same alert with other numbers is one key: held by the de-duplication, not a storm', async () => {
    const r = await receiver()
    configure({ sinks: [{ kind: 'webhook', url: r.url }], dedupeSeconds: 600, cooldownSeconds: 600 } satisfies AlertsConfig)
    const dir = join(home, 'deployments', 'storm')
    mkdirSync(dir, { recursive: true })
    const lines = [101.5, 99.25, 100.75].map((p, i) => `${JSON.stringify({ time: `2026-01-05T11:0${i}:00.000Z`, text: `guard: order resized at price ${p}, notional ${p * 10}` })}\n`)
    writeFileSync(join(dir, 'alerts.jsonl'), lines.join(''))
    const out = await forwardDeploymentAlerts(home, { now: at(0) })
    expect(out.map((o) => o.sent)).toEqual([true, false, false])
    expect(new Set(out.map((o) => o.key)).size).toBe(1)
    expect(bodiesOf(r)).toHaveLength(1)
  })

  it('has nothing to do without deployments', async () => {
    expect(await forwardDeploymentAlerts(home)).toEqual([])
    expect(existsSync(join(home, 'monitor', 'alerts-offsets.json'))).toBe(false)
  })
})
