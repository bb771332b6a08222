// lib/core/loader.cjs, the loader of the CLI and its worker threads: tsx's require hook, and lib's
// exports as data properties once a module and what it required have loaded (esbuild's CommonJS getters
// kept indicators 2–7× slower under the CLI than under ESM; the speed is in `npm run bench`'s indicator
// rows per loader). Here: which modules get plain exports, and that values stay right through cycles.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '../..')
const LOADER = join(ROOT, 'lib/core/loader.cjs')

/** Runs CommonJS `code` in a fresh node and returns what it printed as JSON. */
function run(code: string): unknown {
  const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('lib/core/loader.cjs', () => {
  it('gives every lib module loaded by lib/index.ts data-property exports with the values the getters had', () => {
    const out = run(`
      require(${JSON.stringify(LOADER)})
      const index = require(${JSON.stringify(join(ROOT, 'lib/index.ts'))})
      const primitives = require(${JSON.stringify(join(ROOT, 'lib/indicators/primitives.ts'))})
      const getters = []
      for (const [file, m] of Object.entries(require.cache)) {
        if (!file.startsWith(${JSON.stringify(join(ROOT, 'lib') + '/')}) || !file.endsWith('.ts')) continue
        for (const k of Object.keys(m.exports)) if (Object.getOwnPropertyDescriptor(m.exports, k).get) { getters.push(file.slice(${ROOT.length + 1}) + ':' + k); break }
      }
      const d = Object.getOwnPropertyDescriptor(primitives, 'positive')
      console.log(JSON.stringify({ getters, positiveIsData: 'value' in d, esModule: index.__esModule === true, positive: [primitives.positive(2.5), primitives.positive(-1)], exports: Object.keys(index).length }))
    `) as { getters: string[]; positiveIsData: boolean; esModule: boolean; positive: number[]; exports: number }
    expect(out.getters).toEqual([])
    expect(out.positiveIsData).toBe(true)
    expect(out.esModule).toBe(true)
    expect(out.positive).toEqual([2.5, 0])
    expect(out.exports).toBeGreaterThan(300)
  })

  it("leaves tsx's getters alone without it (what the loader changes)", () => {
    const out = run(`
      require('tsx/cjs/api').register()
      const primitives = require(${JSON.stringify(join(ROOT, 'lib/indicators/primitives.ts'))})
      console.log(JSON.stringify('get' in Object.getOwnPropertyDescriptor(primitives, 'positive')))
    `)
    expect(out).toBe(true)
  })

  it('keeps values right through an import cycle with re-exports, and leaves modules outside the root live', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-loader-'))
    dirs.push(dir)
    const root = join(dir, 'root')
    rmSync(root, { recursive: true, force: true })
    require('node:fs').mkdirSync(root)
    // a → b → a (cycle); b re-exports a's enum (a var, undefined until a's body has run); index re-exports both.
    writeFileSync(join(root, 'index.ts'), "export * from './a.js'\nexport { b, fromC, S } from './b.js'\n")
    writeFileSync(join(root, 'a.ts'), "import { b } from './b.js'\nexport const A = 1\nexport enum Side { Buy, Sell }\nexport function a(): number { return b() + 1 }\n")
    writeFileSync(join(root, 'b.ts'), "import { A } from './a.js'\nexport { Side as S } from './a.js'\nexport { C as fromC } from './c.js'\nexport function b(): number { return A * 10 }\n")
    writeFileSync(join(root, 'c.ts'), 'export const C = 7\n')
    writeFileSync(join(dir, 'counter.ts'), 'export let n = 0\nexport function inc(): void { n++ }\n')
    const out = run(`
      const { installPlainExports } = require(${JSON.stringify(LOADER)})
      installPlainExports(${JSON.stringify(root + '/')})
      const index = require(${JSON.stringify(join(root, 'index.ts'))})
      const plain = (file) => !Object.values(Object.getOwnPropertyDescriptors(require.cache[${JSON.stringify(root + '/')} + file].exports)).some((d) => d.get)
      const counter = require(${JSON.stringify(join(dir, 'counter.ts'))})
      counter.inc(); counter.inc()
      console.log(JSON.stringify({ A: index.A, sell: index.S?.Sell, fromC: index.fromC, a: index.a(), b: index.b(), plain: { index: plain('index.ts'), a: plain('a.ts'), b: plain('b.ts'), c: plain('c.ts') }, n: counter.n }))
    `)
    expect(out).toEqual({
      A: 1,
      // an enum (a var assigned when a's body runs) read through b, which finished before a
      sell: 1,
      fromC: 7,
      a: 11,
      b: 10,
      // b finished while a (which it requires) was still loading: it keeps its getters.
      plain: { index: true, a: true, b: false, c: true },
      // outside the root, `export let` stays a live binding
      n: 2,
    })
  })

  it('keeps the getters of a module whose re-export reaches, through a cycle, a module still loading', () => {
    // c → m → a → b → a (a cycle) and m → n → b: when n finishes, c (whose enum b re-exports through a) is
    // still loading. Checking a once marked b finished while a's own walk then failed on c: n was copied
    // with an undefined S (found by a review).
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-loader-'))
    dirs.push(dir)
    const root = join(dir, 'root')
    require('node:fs').mkdirSync(root)
    const files: Record<string, string> = {
      'a.ts': "import { fromB } from './b.js'\nexport { Side } from './c.js'\nexport const A = fromB\n",
      'b.ts': "export { Side } from './a.js'\nexport const fromB = 'b'\n",
      'c.ts': "import { M } from './m.js'\nexport const fromM = M\nexport enum Side { Buy = 1, Sell = 2 }\n",
      'index.ts': "export { Side } from './c.js'\nexport { S } from './n.js'\n",
      'm.ts': "import { A } from './a.js'\nimport { S } from './n.js'\nexport const M = 1\nexport const seen = [A, S]\n",
      'n.ts': "export { Side as S } from './b.js'\n",
    }
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text)
    const out = run(`
      require(${JSON.stringify(LOADER)}).installPlainExports(${JSON.stringify(root + '/')})
      const index = require(${JSON.stringify(join(root, 'index.ts'))})
      const n = require(${JSON.stringify(join(root, 'n.ts'))})
      console.log(JSON.stringify({ side: index.Side?.Sell, s: index.S?.Sell, nS: n.S?.Sell, frozen: Object.isFrozen(index) }))
    `)
    expect(out).toEqual({ side: 2, s: 2, nS: 2, frozen: true })
  })

  it('holds lib to what it relies on: no exported `let` or `var` binding (a module’s exports are final once it has run)', () => {
    const found: string[] = []
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name)
        if (statSync(p).isDirectory()) walk(p)
        else if (/\.[cm]?ts$/.test(name)) {
          const text = readFileSync(p, 'utf8')
          if (/^\s*export\s+(let|var)\s/m.test(text)) found.push(`${p.slice(ROOT.length + 1)}: export let/var`)
          // `let x …; export { x }`: a top-level let/var named in an export list.
          const mutable = new Set([...text.matchAll(/^(?:let|var)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!))
          for (const list of text.matchAll(/^\s*export\s*\{([^}]*)\}(?!\s*from)/gm)) {
            for (const item of list[1]!.split(',')) {
              const local = item.trim().split(/\s+as\s+/)[0]!.replace(/^type\s+/, '')
              if (mutable.has(local)) found.push(`${p.slice(ROOT.length + 1)}: export { ${local} } of a let/var`)
            }
          }
        }
      }
    }
    walk(join(ROOT, 'lib'))
    expect(found).toEqual([])
  })
})
