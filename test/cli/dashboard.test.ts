// `mtflow dashboard publish`: an unchanged dashboard is not saved twice; changed content is a new version,
// the one the server shows as the latest.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Registry } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

describe('mtflow dashboard publish', () => {
  it('content published again after other content is a new latest version, even within one second', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-dashboard-'))
    // Every publish at the same instant (a fast script: the page's "rendered at" has whole seconds).
    const clock = join(home, 'clock.cjs')
    writeFileSync(clock, `Date.now = () => ${Date.UTC(2024, 0, 2, 3, 4, 5)}\n`)
    const publish = async (...params: string[]) => {
      const r = await runCli(['--home', home, 'dashboard', 'publish', 'run-comparison', ...params.flatMap((p) => ['--param', p]), '--json'], { env: { NODE_OPTIONS: `--require ${clock}` } })
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as { version: number; created: boolean; metadata: { params: Record<string, string> } }
    }
    expect(await publish()).toMatchObject({ version: 1, created: true })
    expect(await publish()).toMatchObject({ version: 1, created: false }) // unchanged
    expect(await publish('top=1')).toMatchObject({ version: 2, created: true })
    // The default view again: not "unchanged, already v1" while v2 (top=1) stays the latest.
    const again = await publish()
    expect(again).toMatchObject({ version: 3, created: true })
    const latest = new Registry(home).resolve('dashboards', 'run-comparison')
    expect(latest.version).toBe(3)
    expect(latest.metadata!.params).toEqual({})
  }, 120_000)
})
