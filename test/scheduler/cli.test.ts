// `mtflow scheduler …` as processes (the CLI loads lib/scheduler lazily, through tsx's require): validate (exit 2 and one
// line on a bad file), list (next run times, read back in the job's time zone with Intl), trigger of an
// ingest job against the loopback Binance stand-in (candles known in advance: 2024-01-09 00:00 … 2024-01-10
// 04:00 closed = 29) and of a report job (the newest finished backtest's tearsheet), history, run --once.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadBars } from '../../lib/data/index.js'
import { Tracker } from '../../lib/track/index.js'
import { startBinanceStandin, type Standin } from '../fixtures/binance-standin.js'
import { ROOT, runCli, waitFor } from '../helpers.js'

const NOW = Date.UTC(2024, 0, 10, 5, 30) // the stand-in's clock: the 05:00 candle is still open
let standin: Standin
let home: string

async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['--home', home, ...args])
}

function writeJobs(doc: unknown, file = join(home, 'scheduler', 'jobs.json')): string {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, JSON.stringify(doc, null, 2))
  return file
}

beforeAll(async () => {
  standin = await startBinanceStandin({ now: NOW })
  home = mkdtempSync(join(tmpdir(), 'mtflow-scheduler-cli-'))
})
afterAll(async () => {
  await standin.close()
})

describe('mtflow scheduler', () => {
  it('validate: exit 2 and one line naming the job; a good file lists its jobs', async () => {
    const bad = writeJobs({ jobs: [{ name: 'ok', cron: '0 6 * * *', kind: 'monitor' }, { name: 'broken', cron: '0 25 * * *', kind: 'monitor' }] }, join(home, 'bad.json'))
    const r = await cli('scheduler', 'validate', bad)
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^mtflow: job broken: cron "0 25 \* \* \*" is not a valid cron expression \(.*hour.*\)/)
    const unknown = await cli('scheduler', 'validate', writeJobs({ jobs: [{ name: 'x', cron: '* * * * *', kind: 'backup' }] }, join(home, 'bad2.json')))
    expect([unknown.code, unknown.stderr.trim()]).toEqual([2, 'mtflow: job x: kind must be one of ingest, retrain, reoptimise, monitor, report, pipeline (received "backup")'])
    const missing = await cli('scheduler', 'validate', join(home, 'none.json'))
    expect([missing.code, missing.stderr.trim()]).toEqual([2, `mtflow: jobs file ${join(home, 'none.json')} does not exist`])
    const file = writeJobs({
      jobs: [
        { name: 'refresh', cron: '0 6 * * *', timezone: 'Europe/London', kind: 'ingest', args: { exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', since: '2024-01-09T00:00:00Z', apiUrl: standin.url } },
        { name: 'tearsheet', cron: '30 6 * * 1-5', kind: 'report', args: { experiment: 'backtests' } },
      ],
    })
    const good = await cli('scheduler', 'validate')
    expect([good.code, good.stdout]).toEqual([0, `${file}: 2 jobs, all valid (refresh: ingest, tearsheet: report)\n`])
    const json = JSON.parse((await cli('scheduler', 'validate', '--json')).stdout) as { jobs: { name: string; missed: string; retries: number; graceMs: number }[] }
    expect(json.jobs.map((j) => [j.name, j.missed, j.retries, j.graceMs])).toEqual([['refresh', 'skip', 0, 60_000], ['tearsheet', 'skip', 0, 60_000]])
    expect((await cli('scheduler', 'validate', '--help')).code).toBe(0)
  })

  it('list: the next run of each job, at 06:00 in London and 06:30 UTC on a weekday', async () => {
    const before = Date.now()
    const r = await cli('scheduler', 'list', '--json')
    expect(r.code, r.stderr).toBe(0)
    const rows = JSON.parse(r.stdout) as { name: string; next: string; timezone: string }[]
    const london = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    const refresh = Date.parse(rows[0]!.next)
    expect(london.format(refresh)).toBe('06:00')
    expect(refresh > before && refresh - before <= 86_400_000 + 3_600_000).toBe(true)
    const tearsheet = new Date(rows[1]!.next)
    expect([tearsheet.getUTCHours(), tearsheet.getUTCMinutes()]).toEqual([6, 30])
    expect([1, 2, 3, 4, 5]).toContain(tearsheet.getUTCDay())
    const human = await cli('scheduler', 'list')
    expect(human.stdout.split('\n')[0]).toMatch(/^job\s+kind\s+cron\s+timezone\s+next\s+last\s+status$/)
  })

  it('trigger: an ingest job runs `ingest ccxt` in process; the lake, the tracked run and the history agree', async () => {
    const r = await cli('scheduler', 'trigger', 'refresh', '--json')
    expect(r.code, r.stderr).toBe(0)
    const [record] = JSON.parse(r.stdout) as { job: string; status: string; runId: string; trigger: string; summary: string }[]
    expect(record).toMatchObject({ job: 'refresh', status: 'ok', trigger: 'manual', summary: 'ingest: BTC/USDT +29' })
    const bars = await loadBars(home, { symbol: 'BTC/USDT', timeframe: '1h', source: 'binance' })
    expect(bars.time.length).toBe(29)
    expect(bars.time[0]).toBe(Date.UTC(2024, 0, 9))
    const run = new Tracker(home).getRun(record!.runId)
    expect(run.info.status).toBe('FINISHED')
    expect(run.metrics.added!.value).toBe(29)
    expect(run.tags).toMatchObject({ 'mtflow.kind': 'job', 'mtflow.job': 'refresh', 'mtflow.trigger': 'manual' })
    const history = JSON.parse((await cli('scheduler', 'history', '--job', 'refresh', '--json')).stdout) as { runId: string; status: string }[]
    expect(history.map((h) => [h.status, h.runId])).toEqual([['ok', record!.runId]])
  })

  it('trigger: a report job without a finished run fails (exit 1, the reason in the history); with one it writes the tearsheet', async () => {
    const failed = await cli('scheduler', 'trigger', 'tearsheet', '--json')
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout)[0]).toMatchObject({ status: 'failed' })
    expect((await cli('data', 'samples', '--json')).code).toBe(0)
    const bt = await cli('backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--param', 'fast=10', '--param', 'slow=30', '--json')
    expect(bt.code, bt.stderr).toBe(0)
    const backtestRun = (JSON.parse(bt.stdout) as { runId: string }).runId
    const ok = await cli('scheduler', 'trigger', 'tearsheet', '--json')
    expect(ok.code, ok.stderr).toBe(0)
    const [record] = JSON.parse(ok.stdout) as { status: string; runId: string }[]
    expect(record!.status).toBe('ok')
    expect(new Tracker(home).getRun(record!.runId).tags['mtflow.job.report']).toBe(backtestRun)
    const out = join(home, 'scheduler', 'reports', 'tearsheet.html')
    expect(existsSync(out)).toBe(true)
    expect(readFileSync(out, 'utf8')).toContain('<html')
    const lines = (await cli('scheduler', 'history', '--job', 'tearsheet')).stdout.trim().split('\n')
    expect(lines).toHaveLength(3) // the header, the failure, the success
    expect(lines[1]).toMatch(/tearsheet\s+manual\s+failed/)
    expect(lines[2]).toMatch(/tearsheet\s+manual\s+ok/)
  }, 120_000)

  it('run --once with nothing due says so; trigger of an unknown job and a bad --last are one line and exit 2', async () => {
    writeJobs({ jobs: [{ name: 'yearly', cron: '0 0 1 1 *', kind: 'monitor' }] })
    const r = await cli('scheduler', 'run', '--once')
    expect([r.code, r.stdout]).toMatchObject([0, expect.stringMatching(/^no job due at .* \(1 job; mtflow scheduler list shows when each runs next\)\n$/)])
    expect(JSON.parse((await cli('scheduler', 'run', '--once', '--json')).stdout)).toEqual([])
    const unknown = await cli('scheduler', 'trigger', 'nope')
    expect([unknown.code, unknown.stderr]).toEqual([2, 'mtflow: no job matches "nope"; jobs: yearly\n'])
    const last = await cli('scheduler', 'history', '--last', '0')
    expect([last.code, last.stderr]).toEqual([2, 'mtflow: --last must be an integer ≥ 1 (received "0")\n'])
  })

  it('a monitor job through the CLI (lib/monitor loaded by require); run stays up until SIGTERM, then exits 0', async () => {
    mkdirSync(join(home, 'monitor'), { recursive: true })
    writeFileSync(join(home, 'monitor', 'monitors.json'), JSON.stringify({ monitors: [] }))
    writeJobs({ jobs: [{ name: 'watch', cron: '0 0 1 1 *', kind: 'monitor' }] })
    const t = await cli('scheduler', 'trigger', 'watch', '--json')
    expect(t.code, t.stderr).toBe(0)
    expect(JSON.parse(t.stdout)[0]).toMatchObject({ job: 'watch', status: 'ok', summary: 'no job triggered' })
    const child = spawn(process.execPath, [join(ROOT, 'lib', 'cli', 'bin.cjs'), '--home', home, 'scheduler', 'run'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    // The two lines may come in two chunks: wait for the second (the schedule), written after the first.
    expect(await waitFor(() => stderr.includes('  watch: next '), 60_000, 50)).toBe(true)
    expect(stderr).toContain('Ctrl-C stops')
    child.kill('SIGTERM')
    expect(await closed).toBe(0)
  }, 120_000)

  it('trigger: a pipeline job runs `pipeline pairs` with its args as flags', async () => {
    const h = mkdtempSync(join(tmpdir(), 'mtflow-scheduler-cli-pipeline-'))
    expect((await runCli(['--home', h, 'data', 'synthetic', '--kind', 'pair', '--pairs', '3', '--bars', '1500', '--timeframe', '1h', '--json'])).code).toBe(0)
    const symbols = ['SYN-Y1', 'SYN-X1', 'SYN-Y2', 'SYN-X2', 'SYN-Y3', 'SYN-X3']
    writeJobs({ jobs: [{ name: 'pairs', cron: '0 1 * * 6', kind: 'pipeline', args: { symbols, timeframe: '1h', topK: 2, maxPvalue: 0.5, minCorr: 0, guardrails: false } }] }, join(h, 'scheduler', 'jobs.json'))
    const r = await runCli(['--home', h, 'scheduler', 'trigger', 'pairs', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const [record] = JSON.parse(r.stdout) as { status: string; runId: string }[]
    expect(record!.status).toBe('ok')
    const tracker = new Tracker(h)
    const pipelineRun = tracker.getRun(record!.runId).tags['mtflow.job.pipeline']!
    const summary = JSON.parse(tracker.readArtifact(pipelineRun, 'pipeline.json').bytes.toString('utf8')) as { symbols: string[]; timeframe: string; champions: unknown[] }
    expect([summary.symbols, summary.timeframe]).toEqual([symbols, '1h'])
    expect(summary.champions.length).toBeLessThanOrEqual(2)
    expect(tracker.getRun(pipelineRun).info.status).toBe('FINISHED')
  }, 180_000)
})
