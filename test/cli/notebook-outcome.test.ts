// Review of "Notebook runs audit": a run the notebook left open must not end FINISHED when the notebook run
// did not complete. The kernel can end before the runner writes MTFLOW_NOTEBOOK_OUTCOME (the runner writes
// it only after the last cell, before shutdown): a library that calls process.exit on a fatal error.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Tracker } from '../../lib/track/index.js'
import { FIXTURES, runCli } from '../helpers.js'

describe('notebook run --track: a kernel that dies mid-run', () => {
  it('a run open when the kernel process ended on its own ends FAILED, not FINISHED', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mtflow-nb-dies-'))
    const r = await runCli(['--home', home, 'notebook', 'run', join(FIXTURES, 'notebooks', 'kernel-dies.ipynb'), '--track', '--json'])
    expect(r.code, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out.status).not.toBe('ok')
    const tracker = new Tracker(home)
    expect(tracker.getRun(out.runId).info.status).toBe('FAILED')
    const [child] = tracker.childRuns(out.runId)
    expect(child!.info.name).toBe('kernel died')
    expect(tracker.metricHistory(child!.info.runId, 'step').map((p) => p.value)).toEqual([1])
    expect(child!.info.status).toBe('FAILED')
  }, 300_000)
})
