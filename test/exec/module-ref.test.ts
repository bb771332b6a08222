// Module files in jobs (lib/exec/module-ref.ts): a strategy's or objective's local imports are part of
// its hash and travel with it; a thread that loaded an earlier version of a file runs the new one (an
// edited file never gives the old result under the new job id); sources sent are loaded where the files
// are missing; a hostile reference is refused.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalExecutor, moduleRef } from '../../lib/exec/index.js'
import { createStudy, floatRange, randomSampler } from '../../lib/tune/index.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-module-ref-'))
const executor = new LocalExecutor(1)
afterAll(async () => {
  await executor.close()
  rmSync(dir, { recursive: true, force: true })
})

function write(rel: string, text: string): string {
  const p = join(dir, rel)
  mkdirSync(join(p, '..'), { recursive: true })
  writeFileSync(p, text)
  return p
}

async function value(file: string): Promise<unknown> {
  const s = createStudy({ space: { x: floatRange(0, 1) }, sampler: randomSampler({ seed: 1 }) })
  await s.optimize({ file }, { nTrials: 1, executor })
  return s.trials[0]!.values?.[0] ?? s.trials[0]!.error
}

describe('module references', () => {
  it('hash the files a module imports by relative paths, and each edit is what runs next', async () => {
    const entry = write('a/objective.ts', "import { K } from './lib/helper.js'\nexport function objective(): number { return K }\n")
    write('a/lib/helper.ts', 'export const K = 1\n')
    const first = moduleRef(entry)
    expect(Object.keys(first.files!).sort()).toEqual(['lib/helper.ts', 'objective.ts'])
    expect(await value(entry)).toBe(1)
    // The helper changes: another hash, and the thread that ran the old one runs the new one.
    write('a/lib/helper.ts', 'export const K = 2\n')
    expect(moduleRef(entry).sha256).not.toBe(first.sha256)
    expect(await value(entry)).toBe(2)
    write('a/objective.ts', "import { K } from './lib/helper.js'\nexport function objective(): number { return 10 * K }\n")
    expect(await value(entry)).toBe(20)
  })

  it('loads the sources sent when the files are not where the submitter had them', async () => {
    const entry = write('b/objective.ts', "import { K } from './helper.js'\nexport function objective(): number { return K + 0.5 }\n")
    write('b/helper.ts', 'export const K = 7\n')
    const ref = moduleRef(entry)
    rmSync(join(dir, 'b'), { recursive: true })
    const out = await executor.run<{ number: number; params: Record<string, number>; distributions: Record<string, unknown> }, { outcome: { result?: unknown } }>({
      kind: 'tune.trial',
      context: { objective: ref, exportName: 'objective', directions: 1 },
      items: [{ number: 0, params: { x: 0.5 }, distributions: { x: { kind: 'float', low: 0, high: 1, log: false } } }],
    })
    expect(out[0]).toMatchObject({ ok: true, value: { outcome: { result: 7.5 } } })
  })

  it('refuses references a hostile job could carry', async () => {
    const entry = write('c/objective.ts', 'export function objective(): number { return 3 }\n')
    const ref = moduleRef(entry)
    const run = (objective: unknown) =>
      executor.run({ kind: 'tune.trial', context: { objective, exportName: 'objective', directions: 1 }, items: [{ number: 0, params: {}, distributions: {} }] })
    const escape = { ...ref, files: { ...ref.files, '../../escape.ts': 'x' } }
    expect((await run(escape))[0]).toMatchObject({ ok: false, error: expect.stringMatching(/file path "..\/..\/escape.ts" is not a plain relative path/) })
    const tampered = { ...ref, files: { 'objective.ts': 'export function objective() { return 4 }\n' } }
    expect((await run(tampered))[0]).toMatchObject({ ok: false, error: expect.stringMatching(/the sources sent do not match their hash/) })
    expect((await run({ file: entry, sha256: '../x', source: '' }))[0]).toMatchObject({ ok: false, error: expect.stringMatching(/not a module reference/) })
  })
})
