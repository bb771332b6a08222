// The kernel's lib declarations (kernel/lib-declarations.cjs) on the real tslab kernel, in a small project of
// its own (its lib/, this project's kernel/ launcher files, node_modules linked, a cache folder of its own):
// a cold kernel takes tslab's path and builds the declarations in the background; the next kernel checks
// cells against them (a wrong use of lib is still a type error) and runs lib's sources; an edited lib is
// seen by the kernel after it, and a damaged cache is refused. Expected values are worked by hand.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { KernelClient } from '../../kernel/client.js'
import { ROOT, waitFor } from '../helpers.js'

const require = createRequire(import.meta.url)
const decl = require('../../kernel/lib-declarations.cjs') as {
  readCache(dir: string, key: string, root: string): { problem?: string; declarations?: Map<string, string> }
}

const project = mkdtempSync(join(tmpdir(), 'mtflow-libdecl-'))
const cache = join(project, 'cache')
afterAll(() => rmSync(project, { recursive: true, force: true }))

for (const dir of ['lib/indicators', 'kernel', 'notebooks']) mkdirSync(join(project, dir), { recursive: true })
for (const file of ['tslab-launcher.cjs', 'lib-declarations.cjs', 'strip-jsdoc.cjs']) copyFileSync(join(ROOT, 'kernel', file), join(project, 'kernel', file))
for (const file of ['package.json', 'tsconfig.json']) copyFileSync(join(ROOT, file), join(project, file))
symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'))
writeFileSync(join(project, 'lib', 'index.ts'), "export * from './indicators/sma.js'\n")
const smaSource = (probe: string) => `/** Simple moving average: NaN until \`period\` values are in. */
export function sma(values: Float64Array, period: number): Float64Array {
  const out = new Float64Array(values.length).fill(NaN)
  let sum = 0
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!
    if (i >= period) sum -= values[i - period]!
    if (i >= period - 1) out[i] = sum / period
  }
  return out
}
${probe}
`
writeFileSync(join(project, 'lib', 'indicators', 'sma.ts'), smaSource('export const probe: number = 1'))
// A module outside lib/ that a notebook imports too (as kernel/display.ts is): lib must be one instance.
writeFileSync(join(project, 'kernel', 'helper.ts'), "import { sma } from '../lib/index.js'\nexport const isLibSma = (f: unknown): boolean => f === sma\n")

interface Ran {
  status: string
  text: string
}

async function kernel(env: NodeJS.ProcessEnv = {}) {
  const client = await KernelClient.launch({
    argv: [process.execPath, join(project, 'kernel', 'tslab-launcher.cjs'), '--config-path', '{connection_file}'],
    cwd: join(project, 'notebooks'),
    env: { MTFLOW_KERNEL_CACHE_DIR: cache, MTFLOW_KERNEL_HEADLESS: '1', ...env },
  })
  const run = async (code: string): Promise<Ran> => {
    let text = ''
    const r = await client.execute(code, {
      onIopub: (m) => {
        if (m.header.msg_type === 'stream') text += String(m.content.text)
        if (m.header.msg_type === 'error') text += `${String(m.content.ename)}: ${String(m.content.evalue)}\n`
      },
    })
    // tslab aborts what arrives within 200 ms of an error (its queue is reset then).
    if (r.status === 'error') await new Promise((resolve) => setTimeout(resolve, 300))
    return { status: r.status, text }
  }
  const state = JSON.parse((await run('console.log(JSON.stringify((globalThis as any).__mtflowLibDeclarations))')).text) as { active: boolean; reason?: string; key?: string }
  return { client, run, state }
}

const entries = () => (existsSync(join(cache, 'lib-declarations')) ? readdirSync(join(cache, 'lib-declarations')) : [])
const built = () => !entries().some((e) => e.endsWith('.lock')) && entries().some((e) => existsSync(join(cache, 'lib-declarations', e, 'manifest.json')))

describe('lib declarations in the tslab kernel', () => {
  let key = ''

  it('a cold kernel imports lib the slow way and builds the declarations for the next one', async () => {
    const k = await kernel()
    try {
      expect(k.state).toMatchObject({ active: false, reason: 'no cache' })
      key = k.state.key!
      const r = await k.run("import { sma } from '../lib/index.js'\nconsole.log(Array.from(sma(new Float64Array([1, 2, 3, 4]), 2)).join(' '))")
      expect(r).toEqual({ status: 'ok', text: 'NaN 1.5 2.5 3.5\n' })
    } finally {
      await k.client.shutdown()
    }
    // The build runs at a lower priority: on a busy machine it takes a while.
    expect(await waitFor(built, 150_000, 200)).toBe(true)
    const manifest = JSON.parse(readFileSync(join(cache, 'lib-declarations', key, 'manifest.json'), 'utf8')) as { failed?: string; files: { source: string }[] }
    expect(manifest.failed).toBeUndefined()
    expect(manifest.files.map((f) => f.source).sort()).toEqual(['lib/index.ts', 'lib/indicators/sma.ts'])
  }, 180_000)

  it('the next kernel checks cells against the declarations and runs the sources, once', async () => {
    const k = await kernel()
    try {
      expect(k.state).toMatchObject({ active: true, key })
      // (4 + 5 + 6) / 3 = 5 and (5 + 6 + 7) / 3 = 6.
      expect(await k.run("import { sma, probe } from '../lib/index.js'\nconsole.log(Array.from(sma(new Float64Array([4, 5, 6, 7]), 3)).join(' '), probe + 1)")).toEqual({ status: 'ok', text: 'NaN NaN 5 6 2\n' })
      const wrong = await k.run("sma('x', 3)")
      expect(wrong.status).toBe('error')
      expect(wrong.text).toContain("Argument of type 'string' is not assignable to parameter of type 'Float64Array'")
      const typed = await k.run('const s: string = probe')
      expect(typed.status).toBe('error')
      expect(typed.text).toContain("Type 'number' is not assignable to type 'string'")
      expect(await k.run("import { isLibSma } from '../kernel/helper.js'\nconsole.log(isLibSma(sma))")).toEqual({ status: 'ok', text: 'true\n' })
    } finally {
      await k.client.shutdown()
    }
  })

  it('a damaged cache is refused, never read', () => {
    const dir = join(cache, 'lib-declarations', key)
    expect(decl.readCache(dir, key, project).problem).toBeUndefined()
    const file = join(dir, 'lib', 'indicators', 'sma.d.ts')
    const good = readFileSync(file, 'utf8')
    writeFileSync(file, good.replace('period: number', 'period: string'))
    expect(decl.readCache(dir, key, project).problem).toBe('lib/indicators/sma.d.ts is damaged')
    writeFileSync(file, good)
    expect(decl.readCache(dir, 'another-key', project).problem).toBe('cache of other sources')
  })

  it('an edited lib is seen by the next kernel: its export type, not the cached one', async () => {
    writeFileSync(join(project, 'lib', 'indicators', 'sma.ts'), smaSource("export const probe: string = 'edited'"))
    const k = await kernel({ MTFLOW_LIB_DECLARATIONS: 'no-build' })
    try {
      expect(k.state.active).toBe(false)
      expect(k.state.key).not.toBe(key)
      const typed = await k.run("import { probe } from '../lib/index.js'\nconst n: number = probe")
      expect(typed.status).toBe('error')
      expect(typed.text).toContain("Type 'string' is not assignable to type 'number'")
      expect(await k.run("import { probe } from '../lib/index.js'\nconsole.log(probe.toUpperCase())")).toEqual({ status: 'ok', text: 'EDITED\n' })
    } finally {
      await k.client.shutdown()
    }
  })
})
