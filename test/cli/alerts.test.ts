// `mtflow alerts check | test | list | forward` through the CLI's main() in this process, against a loopback
// webhook receiver: a bad URL is one line and exit 2 with nothing sent or written; test reaches every sink;
// list shows the history; --help and --json on every verb.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { main } from '../../lib/cli/main.js'
import type { CliContext } from '../../lib/cli/context.js'

let server: Server
let url: string
const bodies: unknown[] = []
let status = 200

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString('utf8')))
    req.on('end', () => {
      bodies.push(JSON.parse(text))
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(async () => {
  await new Promise<void>((done) => {
    server.close(() => done())
    server.closeAllConnections()
  })
})

let home: string
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-cli-alerts-'))
  bodies.length = 0
  status = 200
  return () => rmSync(home, { recursive: true, force: true })
})

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const context: CliContext = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, home, verbose: false, exitCode: 0 }
  const code = await main(['--home', home, 'alerts', ...args], context)
  return { code, stdout, stderr }
}

function configure(config: unknown): void {
  mkdirSync(join(home, 'monitor'), { recursive: true })
  writeFileSync(join(home, 'monitor', 'alerts.json'), JSON.stringify(config))
}

describe('mtflow alerts', () => {
  it('check: a good config lists its sinks; a javascript: webhook is exit 2 with one line naming the file and the field', async () => {
    configure({ sinks: [{ kind: 'webhook', name: 'ops', url: `${url}?k=1` }, { kind: 'log', file: 'stdout' }] })
    const ok = await cli('check', '--json')
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ file: join(home, 'monitor', 'alerts.json'), ok: true, sinks: [{ name: 'ops', kind: 'webhook', target: new URL(url).origin }, { name: 'log-2', kind: 'log', target: 'stdout' }] })

    configure({ sinks: [{ kind: 'webhook', url: 'javascript:alert(1)' }] })
    for (const verb of ['check', 'test']) {
      const bad = await cli(verb)
      expect(bad.code).toBe(2)
      expect(bad.stdout).toBe('')
      expect(bad.stderr).toBe(`mtflow: alerts config ${join(home, 'monitor', 'alerts.json')}: sinks[0].url "javascript:alert(1)" must be an absolute http:// or https:// URL\n`)
    }
    expect(existsSync(join(home, 'monitor', 'alerts.jsonl'))).toBe(false)
    expect(bodies).toEqual([])
  })

  it('test: one alert through every sink, a table of results; a failing sink is exit 1', async () => {
    configure({ sinks: [{ kind: 'webhook', name: 'ops', url }, { kind: 'log', name: 'file', file: 'monitor/alerts.log' }] })
    const r = await cli('test')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('sink  result    attempts\nops   ok (200)  1\nfile  ok        1\n')
    expect(bodies).toHaveLength(1)
    expect(bodies[0]).toMatchObject({ source: 'mtflow', key: 'mtflow:test', severity: 'info', count: 1 })
    expect(readFileSync(join(home, 'monitor', 'alerts.log'), 'utf8')).toMatch(/^\S+ INFO mtflow mtflow:test: test alert from mtflow alerts test\n$/)

    status = 404
    const failed = await cli('test', '--json')
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout).deliveries[0]).toEqual({ sink: 'ops', ok: false, attempts: 1, status: 404, error: 'the receiver answered 404' })
  })

  it('test --json: a stdout log sink writes to stderr, so stdout stays one JSON document', async () => {
    configure({ sinks: [{ kind: 'log', file: 'stdout' }] })
    const r = await cli('test', '--json')
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ key: 'mtflow:test', sent: true, deliveries: [{ sink: 'log-1', ok: true, attempts: 1 }] })
    expect(r.stderr).toMatch(/^\S+ INFO mtflow mtflow:test: test alert from mtflow alerts test\n$/)
  })

  it('test without sinks is exit 2 naming the file', async () => {
    const r = await cli('test')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`mtflow: no sinks to test: ${join(home, 'monitor', 'alerts.json')} is absent or lists none\n`)
  })

  it('list and forward: deployment alerts forwarded once, the history in order with held ones', async () => {
    configure({ sinks: [{ kind: 'webhook', url }] })
    mkdirSync(join(home, 'deployments', 'd1'), { recursive: true })
    const line = (text: string) => `${JSON.stringify({ time: '2026-01-01T00:00:00.000Z', text })}\n`
    writeFileSync(join(home, 'deployments', 'd1', 'alerts.jsonl'), line('fill missed: x') + line('fill missed: x') + line('halted: loss'))
    const f = await cli('forward')
    expect(f.code, f.stderr).toBe(0)
    // The second line repeats the first within the de-duplication window: held, not sent.
    expect(f.stdout).toBe('3 deployment alerts forwarded: 2 sent, 1 held\n')
    expect((await cli('forward', '--json')).stdout).toBe('[]\n')
    expect(bodies.map((b) => (b as { text: string }).text)).toEqual(['fill missed: x', 'halted: loss'])

    const list = await cli('list', '--json')
    expect(JSON.parse(list.stdout).map((a: { text: string; sent: boolean; held?: string }) => [a.text, a.sent, a.held ?? null])).toEqual([
      ['fill missed: x', true, null],
      ['fill missed: x', false, 'duplicate'],
      ['halted: loss', true, null],
    ])
    const table = await cli('list', '--limit', '1')
    expect(table.stdout.split('\n')[1]).toMatch(/^\S+Z\s+critical\s+deployment:d1\s+deployment:d1:[0-9a-f]{12}\s+sent\s+1\s+halted: loss$/)
    // A line another process wrote straight into the history (epoch-ms time, no delivery record).
    appendFileSync(join(home, 'monitor', 'alerts.jsonl'), `${JSON.stringify({ time: Date.UTC(2026, 0, 2), source: 'serving', key: 'serving.expired:m@1', severity: 'error', text: 'model m@1 has expired' })}\n`)
    expect((await cli('list', '--limit', '1')).stdout.split('\n')[1]).toBe('2026-01-02T00:00:00.000Z  error     serving  serving.expired:m@1  recorded  1      model m@1 has expired')
    const bad = await cli('list', '--limit', '0')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('mtflow: --limit must be an integer from 1 to 999999 (received "0")\n')
  })

  it('every verb has --help and --json', async () => {
    for (const verb of ['check', 'test', 'list', 'forward']) {
      const r = await cli(verb, '--help')
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('--json')
    }
  })
})
