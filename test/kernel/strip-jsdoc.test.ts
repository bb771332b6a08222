import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers.js'

const { stripJsDoc } = createRequire(import.meta.url)('../../kernel/strip-jsdoc.cjs') as { stripJsDoc: (s: string) => string }

describe('stripJsDoc (headless kernel start)', () => {
  it('removes JSDoc blocks only, keeping tokens apart and line numbers in place', () => {
    const text = [
      '/** doc */',
      'declare const a: "/** not a comment */";',
      '/* plain */ declare const b: `src/**/*.ts`;',
      'declare const c: `${"/**"}x`; // keep /** this',
      'declare const/** glued */d: 1;',
      '/**',
      ' * multi',
      ' */',
      'export {};',
    ].join('\n')
    const stripped = stripJsDoc(text)
    expect(stripped.split('\n')).toEqual([
      ' ',
      'declare const a: "/** not a comment */";',
      '/* plain */ declare const b: `src/**/*.ts`;',
      'declare const c: `${"/**"}x`; // keep /** this',
      'declare const d: 1;',
      '',
      '',
      '',
      'export {};',
    ])
  })

  it('leaves the syntax tree of real declaration files unchanged', () => {
    const printer = ts.createPrinter({ removeComments: true })
    const files = ['node_modules/@types/node/fs.d.ts', 'node_modules/@types/node/globals.d.ts', 'node_modules/typescript/lib/lib.es5.d.ts']
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8')
      const stripped = stripJsDoc(text)
      expect(stripped.length).toBeLessThan(text.length * 0.8)
      const print = (s: string) => printer.printFile(ts.createSourceFile(file, s, ts.ScriptTarget.Latest, false))
      expect(print(stripped)).toBe(print(text))
    }
  })
})
