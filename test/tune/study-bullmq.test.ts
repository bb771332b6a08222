// A study's trials on the bullmq executor with real `mtflow worker` processes and a real redis-server: an
// objective reads its own data (a file here, the lake in practice), which no job id names, so a study run
// again after that data changed must compute its trials again — as local threads do — not take the
// values the last run left in Redis.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BullmqExecutor } from '../../lib/exec/bullmq-executor.js'
import { LocalExecutor } from '../../lib/exec/local.js'
import { projectVersion } from '../../lib/exec/version.js'
import { createStudy, floatRange } from '../../lib/tune/index.js'
import { killAll, startRedis, startWorker, type TestRedis } from '../exec/redis.js'

let redis: TestRedis
let dir: string
const open: { close(): Promise<unknown> }[] = []

beforeAll(async () => {
  projectVersion()
  redis = await startRedis()
  dir = mkdtempSync(join(tmpdir(), 'mtflow-study-bullmq-'))
  await startWorker(['--redis', redis.url, '--concurrency', '2', '--stalled-ms', '2000'], { home: dir })
}, 120_000)

afterAll(async () => {
  for (const o of open) await o.close().catch(() => undefined)
  killAll()
  rmSync(dir, { recursive: true, force: true })
})

describe('study.optimize on the bullmq executor', () => {
  it('runs a study again after its objective\'s data changed: new values, the local executor\'s, not the last run\'s', async () => {
    const data = join(dir, 'data.json')
    const objective = join(dir, 'objective.ts')
    writeFileSync(objective, `import { readFileSync } from 'node:fs'
export function objective(trial: { params: Record<string, number> }): number {
  return JSON.parse(readFileSync(${JSON.stringify(data)}, 'utf8')).scale * trial.params.x!
}
`)
    const bullmq = await BullmqExecutor.connect({ redis: redis.url, pollMs: 50 })
    const local = new LocalExecutor(2)
    open.push(bullmq, local)
    const values = async (executor: BullmqExecutor | LocalExecutor) => {
      const study = createStudy({ direction: 'maximize', space: { x: floatRange(0, 1) }, seed: 7 })
      await study.optimize({ file: objective }, { nTrials: 4, workers: 2, executor })
      return study.trials.map((t) => t.values?.[0])
    }
    writeFileSync(data, JSON.stringify({ scale: 1 }))
    const first = await values(bullmq)
    expect(first).toEqual(await values(local))
    // New data (new bars imported), the same study run again.
    writeFileSync(data, JSON.stringify({ scale: 1000 }))
    const again = await values(bullmq)
    expect(again).toEqual(await values(local))
    expect(again).toEqual(first.map((v) => v! * 1000))
  })
})
