// /monitoring (lib/server/monitoring.ts) over a real socket: the monitors' latest state, their values and each
// drift column's score over time as charts, the triggers fired, the scheduler's jobs and the alerts — from the
// files the monitors, the scheduler and the alert sinks write (written here with the same writers) — every
// text escaped, and the token required like every page.

import { mkdirSync, mkdtempSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadAlerting } from '../../lib/monitor/alerts.js'
import { monitorStateFile } from '../../lib/monitor/rules.js'
import { historyFile } from '../../lib/scheduler/state.js'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { appendRecords } from '../../lib/track/jsonl.js'

let home: string
let server: Listening
let token: string
const T0 = Date.UTC(2026, 0, 5)
const HOUR = 3_600_000

function get(path: string, auth = true): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, ...(auth ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-monitoring-page-'))
  mkdirSync(join(home, 'monitor'), { recursive: true })
  mkdirSync(join(home, 'scheduler'), { recursive: true })
  const drift = (i: number, score: number) => ({
    monitor: 'btc-drift',
    kind: 'drift',
    target: 'btc-ret@champion',
    version: 2,
    time: T0 + i * HOUR,
    value: score > 0.1 ? 1 : 0,
    threshold: 0.5,
    breached: score > 0.1,
    status: score > 0.1 ? 'breached' : 'ok',
    fired: score > 0.1 && i === 2 ? ['retrain-btc', 'rollback'] : [],
    alerted: score > 0.1 && i === 2,
    evidence: { columns: [{ column: 'ret_1', method: 'wasserstein', score, threshold: 0.1, drifted: score > 0.1 }, { column: 'rsi_14', method: 'wasserstein', score: 0.02, threshold: 0.1, drifted: false }] },
  })
  appendRecords(monitorStateFile(home), [drift(0, 0.03), drift(1, 0.05), drift(2, 0.31), { monitor: 'paper-dd', kind: 'drawdown', target: 'paper<b>', time: T0 + 2 * HOUR, value: 0.042, threshold: 0.1, breached: false, status: 'ok', fired: [], alerted: false, evidence: {} }])
  appendRecords(historyFile(home), [
    { job: 'watch', time: new Date(T0 + 2 * HOUR).toISOString(), status: 'ok', ms: 120, runId: 'run123', trigger: 'cron' },
    { job: 'retrain-btc', time: new Date(T0 + 2 * HOUR + 1000).toISOString(), status: 'failed', ms: 55, error: 'no bars <i>here</i>', runId: 'run124', trigger: 'trigger' },
  ])
  // Lines of other writers: an alert with an epoch-ms time, a state line without evidence or triggers.
  appendRecords(join(home, 'monitor', 'alerts.jsonl'), [{ time: T0, source: 'serving', key: 'k', severity: 'critical', text: 'expired', count: 1, sent: false }])
  appendRecords(monitorStateFile(home), [{ monitor: 'bare', kind: 'sharpe', target: 'x', time: T0, value: null, threshold: 0, breached: false, status: 'no-data' }])
  await loadAlerting(home).alert({ source: 'monitor', key: 'monitor:btc-drift', severity: 'warning', text: 'monitor btc-drift breached: <script>alert(1)</script>' }, { now: T0 + 2 * HOUR })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
})
afterAll(async () => {
  await server.close()
})

describe('/monitoring', () => {
  it('shows each monitor, its values and drift per feature over time, the triggers, the jobs and the alerts', async () => {
    const r = await get('/monitoring')
    expect(r.status).toBe(200)
    const t = r.text
    // The latest state of each monitor.
    expect(t).toContain('<td>btc-drift</td><td>drift</td><td>btc-ret@champion (v2)</td><td><strong class="bad">breached</strong></td><td>1.000</td><td>0.5000</td>')
    expect(t).toContain('<td>paper-dd</td><td>drawdown</td><td>paper&lt;b&gt;</td><td>ok</td><td>0.04200</td><td>0.1000</td>')
    // Charts: a value chart per monitor, and the drift monitor's per-column chart with both columns.
    expect((t.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(3)
    expect(t).toContain('btc-drift: drift score per column')
    expect(t).toMatch(/ret_1[\s\S]*rsi_14|rsi_14[\s\S]*ret_1/)
    // The trigger that fired, the jobs (a failure marked, its error escaped) and the alert (escaped).
    expect(t).toContain('<td>retrain-btc, rollback</td>')
    expect(t).toContain('<strong class="bad">failed</strong>')
    expect(t).toContain('no bars &lt;i&gt;here&lt;/i&gt;')
    expect(t).toContain('<a href="/runs/run124">run124</a>')
    expect(t).toContain('monitor btc-drift breached: &lt;script&gt;alert(1)&lt;/script&gt;')
    expect(t).not.toContain('<script>alert(1)')
    expect(t).toContain('<a href="/monitoring"')
    expect(t).toContain('<td>2026-01-05 00:00:00</td><td>serving</td><td>critical</td><td>expired</td>')
    expect(t).toContain('<td>bare</td><td>sharpe</td>')
  })

  it('needs the token like every page', async () => {
    expect((await get('/monitoring', false)).status).toBe(401)
  })
})
