// The server tells no client where the workspace is (lib/server/README.md; error bodies and two pages were
// fixed in an earlier review). A run that failed keeps its error as the `mtflow.error` tag, and a scheduled
// job that failed keeps it in scheduler/history.jsonl: both are shown by the server (the run page, the JSON
// API, /runs.csv, /monitoring). Node's own messages (ENOENT …, open '/abs/path') name the workspace there.
// Attack review: a failed `mtflow backtest` and a failed scheduler job, as their real code paths record them,
// read back over a real socket.

import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { checkJob, runJob, WallClock } from '../../lib/scheduler/index.js'
import { runCli } from '../helpers.js'

const ROOT = resolve(__dirname, '..', '..')
let home: string
/** The project the strategy file lives in (its path is the run's lineage, not the workspace's place). */
let project: string
let server: Listening
let token: string

const get = async (path: string) => {
  const r = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: r.status, text: await r.text() }
}

beforeAll(async () => {
  home = realpathSync(mkdtempSync(join(tmpdir(), 'mtflow-where-')))
  project = realpathSync(mkdtempSync(join(tmpdir(), 'mtflow-project-')))
  token = workspaceToken(home)
  expect((await runCli(['--home', home, 'data', 'samples'])).code).toBe(0)
  // A strategy that reads a file of the workspace that is not there: Node's ENOENT names its absolute path.
  writeFileSync(
    join(project, 'reads-weights.ts'),
    `import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eachSymbol } from ${JSON.stringify(join(ROOT, 'lib', 'strategy', 'builtin', 'common.ts'))}
export default {
  name: 'reads-weights',
  params: {},
  universe: eachSymbol,
  warmup: () => 0,
  onBar() { readFileSync(join(process.env.MTFLOW_HOME ?? '', 'weights.json'), 'utf8') },
}
`,
  )
  const bt = await runCli(['--home', home, 'backtest', '--strategy', join(project, 'reads-weights.ts'), '--symbol', 'SPX'], { env: { MTFLOW_HOME: home } })
  expect(bt.code).not.toBe(0)
  expect(bt.stderr).toContain('weights.json')
  // A scheduled job whose code fails the same way (the runner records it as the scheduler does).
  const job = checkJob({ name: 'nightly-report', cron: '0 6 * * *', kind: 'report', args: { experiment: 'backtests' } }, 0)
  await runJob(job, 'cron', {
    home,
    clock: new WallClock(),
    handlers: {
      report: async () => {
        readFileSync(join(home, 'reports', 'template.html'), 'utf8')
      },
    },
  })
  server = await startServer({ home, token, port: 0 })
}, 120_000)

afterAll(async () => {
  await server?.close()
  rmSync(home, { recursive: true, force: true })
  rmSync(project, { recursive: true, force: true })
})

describe("the workspace's place on disk", () => {
  it('is not in a failed run\'s error, on its page, in the JSON API or in /runs.csv', async () => {
    const runs = JSON.parse((await get('/api/runs?filter=' + encodeURIComponent('attributes.status = "FAILED"'))).text).runs as { info: { runId: string; name: string }; tags: Record<string, string> }[]
    const failed = runs.find((r) => r.info.name.startsWith('reads-weights'))!
    expect(failed).toBeDefined()
    expect(failed.tags['mtflow.error']).toContain('weights.json')
    const id = failed.info.runId
    for (const path of [`/runs/${id}`, `/api/runs/${id}`, '/runs.csv?cols=tags.mtflow.error', '/api/runs']) {
      const page = await get(path)
      expect(page.status, path).toBe(200)
      expect(page.text, path).not.toContain(home)
    }
    // The error is still there to read, with the workspace written $MTFLOW_HOME.
    expect((await get(`/runs/${id}`)).text).toContain('$MTFLOW_HOME/weights.json')
  })

  it("is not in a failed scheduled job's error on /monitoring, nor on the job's run", async () => {
    const page = await get('/monitoring')
    expect(page.status).toBe(200)
    expect(page.text).toContain('template.html')
    expect(page.text).not.toContain(home)
    const runs = JSON.parse((await get('/api/runs?filter=' + encodeURIComponent('tags.mtflow.job = "nightly-report"'))).text).runs as { tags: Record<string, string> }[]
    expect(runs).toHaveLength(1)
    expect(runs[0]!.tags['mtflow.error']).toContain('$MTFLOW_HOME/reports/template.html')
  })
})
