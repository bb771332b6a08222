// The `mtflow` specifier (lib/core/module-alias.ts): `mtflow` and plain paths under `mtflow/lib/` resolve to
// this project's files; anything reaching outside lib/ (`..`, empty or backslashed segments) or another
// package's name is left to Node's resolver, which finds nothing.

import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { aliasTarget, installMtflowAlias } from '../../lib/core/index.js'
import { ROOT } from '../helpers.js'

describe('the mtflow alias', () => {
  it('names lib/index.ts and plain files under lib/, nothing else', () => {
    expect(aliasTarget('mtflow')).toBe(join(ROOT, 'lib', 'index.ts'))
    expect(aliasTarget('mtflow/lib/strategy/index.ts')).toBe(join(ROOT, 'lib', 'strategy', 'index.ts'))
    for (const hostile of ['mtflow/lib/../package.json', 'mtflow/lib/../../etc/passwd', 'mtflow/lib/a/../../x', 'mtflow/lib/', 'mtflow/lib/a//b', 'mtflow/lib/./index.ts', 'mtflow/lib/a\\..\\..\\x', 'mtflowx', 'mtflow/package.json']) {
      expect(aliasTarget(hostile), hostile).toBeUndefined()
    }
  })

  it('resolves mtflow from a file outside the clone once installed, and refuses an escape', () => {
    installMtflowAlias()
    const load = createRequire(join(tmpdir(), 'outside.js'))
    expect(load.resolve('mtflow')).toBe(join(ROOT, 'lib', 'index.ts'))
    expect(() => load.resolve('mtflow/lib/../../../etc/passwd')).toThrow(/Cannot find module/)
  })
})
