// `mtflow registry register-model` registers model packages only: a file that is not one is refused in one
// line (exit 2, nothing registered) unless --any-file says another tool's file is meant.

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-register-model-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

// A hand-written regression tree on two features: the smallest valid mtflow package.
const PACKAGE = {
  format: 'mtflow-model',
  formatVersion: 1,
  family: 'tree',
  task: 'regression',
  signature: { inputs: [{ name: 'a', type: 'double', nullable: false }, { name: 'b', type: 'double', nullable: false }], output: { name: 'label', type: 'double' } },
  model: {
    type: 'tree-regressor',
    columns: ['a', 'b'],
    options: { maxDepth: 1, minSamplesLeaf: 1, minSamplesSplit: 2, seed: 0, maxBins: 256, maxFeatures: null },
    feature: [0, -1, -1],
    threshold: [0.5, 0, 0],
    left: [1, -1, -1],
    right: [2, -1, -1],
    value: [0, 10, 20],
    samples: [2, 1, 1],
    importance: [1, 0],
  },
  dataSnapshot: 'hand-written',
  trainingRows: 2,
  metrics: {},
  createdAt: 0,
}

describe('mtflow registry register-model', () => {
  const run = new Tracker(home).startRun({ experiment: 'models', name: 'files' })
  run.logArtifact({ name: 'weights.bin', data: Buffer.from([0, 1, 2, 3, 255]) })
  run.logArtifact({ name: 'notes.json', data: '{"a":1}' })
  run.logArtifact({ name: 'pkg/model.json', data: JSON.stringify(PACKAGE) })
  run.end()
  const cli = (...args: string[]) => runCli(['--home', home, 'registry', 'register-model', ...args, '--run', run.id])

  it('refuses a file that is not a model package: one line naming it, exit 2, nothing registered', async () => {
    for (const artifact of ['weights.bin', 'notes.json']) {
      const r = await cli('m', '--artifact', artifact)
      expect(r.code, artifact).toBe(2)
      expect(r.stderr).toBe(`mtflow: artifact "${artifact}" of run ${run.id} is not an mtflow model package (a JSON file whose format is "mtflow-model"); nothing registered — give --any-file to register another tool's file as it is\n`)
    }
    expect(new Registry(home).list('models')).toEqual([])
    expect(existsSync(join(home, 'registry', 'models', 'm'))).toBe(false)
  })

  it('registers a package, and another file with --any-file', async () => {
    const ok = await cli('tree', '--artifact', 'pkg/model.json', '--json')
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ version: 1, created: true })
    const any = await cli('blob', '--artifact', 'weights.bin', '--any-file', '--json')
    expect(any.code, any.stderr).toBe(0)
    expect(new Registry(home).list('models').map((e) => e.name)).toEqual(['blob', 'tree'])
  })
})
