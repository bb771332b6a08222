// What notebooks import must compile the way tslab compiles it: TypeScript 5.0 (tslab's own copy),
// Node10 module resolution, ES2022 without the DOM, then CommonJS — so no import.meta and no
// top-level await anywhere a notebook can reach.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers.js'

const require = createRequire(import.meta.url)
const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [join(ROOT, 'node_modules', 'tslab')] })) as typeof import('typescript')

/** Everything under lib/ but the CLI (never imported by notebooks), plus the notebook helpers. */
function notebookReachable(): string[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        if (path !== join(ROOT, 'lib', 'cli')) walk(path)
      } else if (path.endsWith('.ts')) files.push(path)
    }
  }
  walk(join(ROOT, 'lib'))
  return [...files, join(ROOT, 'kernel', 'display.ts'), join(ROOT, 'kernel', 'render.ts')]
}

describe('tslab compatibility', () => {
  it(`lib/ and kernel/display.ts type-check under tslab's TypeScript ${ts.version}`, () => {
    expect(ts.version.startsWith('5.0')).toBe(true)
    const program = ts.createProgram(notebookReachable(), {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
    })
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file === undefined ? '' : `${relative(ROOT, d.file.fileName)}: `
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
    })
    expect(diagnostics).toEqual([])
  })

  it('no module shares its name with a package it imports (tslab would load the module itself)', () => {
    const files = [...notebookReachable(), join(ROOT, 'lib', 'data', 'sources', 'ccxt-source.ts')]
    for (const file of files) {
      const source = readFileSync(file, 'utf8')
      for (const match of source.matchAll(/from '([^.'][^']*)'/g)) {
        const specifier = match[1]!
        if (specifier.startsWith('node:')) continue
        expect(existsSync(join(file, '..', `${specifier}.ts`)), `${relative(ROOT, file)} imports '${specifier}'`).toBe(false)
      }
    }
  })

  it('has no import.meta and no top-level await where notebooks can reach', () => {
    for (const file of notebookReachable()) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true)
      const problems: string[] = []
      const visit = (node: import('typescript').Node, inFunction: boolean) => {
        if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) problems.push('import.meta')
        if (!inFunction && (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier !== undefined))) problems.push('top-level await')
        const fn = ts.isFunctionLike(node)
        ts.forEachChild(node, (child) => visit(child, inFunction || fn))
      }
      visit(source, false)
      expect(problems, relative(ROOT, file)).toEqual([])
    }
  })
})
