// The dataset step's lookahead guard (lib/pipeline/dataset.ts): with pair features that peek one bar ahead
// (lib/features' pairFeatures replaced in this file's module graph by one whose z at t is the true z at
// t + 1), `datasetStep` recomputes every feature column on prefixes of the bars, names the leaking columns,
// and writes nothing.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { DataError } from '../../lib/core/index.js'
import { datasetStep, featuresStep, screenStep } from '../../lib/pipeline/index.js'
import { searchRuns, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

vi.mock('../../lib/features/index.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/features/index.js')>()
  return {
    ...real,
    pairFeatures: (y: ArrayLike<number>, x: ArrayLike<number>, options?: Parameters<typeof real.pairFeatures>[2]) => {
      const f = real.pairFeatures(y, x, options)
      const z = f.z.slice()
      for (let t = 0; t + 1 < z.length; t++) z[t] = f.z[t + 1]!
      return { ...f, z }
    },
  }
})

let home: string
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-pipeline-leak-'))
  const r = await runCli(['--home', home, 'data', 'samples', '--json'])
  expect(r.code, r.stderr).toBe(0)
}, 60_000)

describe('dataset build with a feature that looks ahead', () => {
  it('fails naming the column, and records no dataset run', async () => {
    const screen = await screenStep(home, { symbols: ['DAX', 'SMI'], timeframe: '1d', maxPValue: 1, minCorr: 0 })
    const features = await featuresStep(home, { pairs: screen.runId, window: 30, windows: [10] })
    const error = await datasetStep(home, { features: features.runId, label: 'revertDirection' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataError)
    expect((error as Error).message).toMatch(new RegExp(`^feature table (DAX~SMI|SMI~DAX) of run ${features.runId}: z look(s)? ahead \\(a value at bar t changes once later bars exist\\); nothing was written$`))
    expect(searchRuns(new Tracker(home), { filter: 'tags.mtflow.kind = "dataset"' }).runs).toEqual([])
  })
})
