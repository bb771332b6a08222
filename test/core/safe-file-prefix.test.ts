// readFileInside's prefix read (an artifact preview of a large file): the first N bytes by the same
// rules as a whole read — no symbolic link anywhere, nothing outside its folder, only regular files —
// and never with a sha256, which part of a file cannot be checked against.

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileIntegrityError, NotFoundError, readFileInside } from '../../lib/core/index.js'

describe('readFileInside with prefixBytes', () => {
  it('reads the first N bytes (all of a shorter file), refusing links, folders and a sha256', () => {
    const root = mkdtempSync(join(tmpdir(), 'mtflow-prefix-'))
    const dir = join(root, 'runs', 'a')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'big.csv'), 'abcdefghij'.repeat(100))
    writeFileSync(join(root, 'secret.txt'), 'secret')
    symlinkSync(join(root, 'secret.txt'), join(dir, 'link.csv'))
    symlinkSync(root, join(root, 'runs', 'b'))
    mkdirSync(join(dir, 'folder.csv'))
    const within = join(root, 'runs')
    expect(readFileInside(dir, 'big.csv', { within, prefixBytes: 25 }).toString()).toBe('abcdefghijabcdefghijabcde')
    expect(readFileInside(dir, 'big.csv', { within, prefixBytes: 5000 }).length).toBe(1000)
    expect(() => readFileInside(dir, 'link.csv', { within, prefixBytes: 10 })).toThrow(FileIntegrityError)
    expect(() => readFileInside(join(root, 'runs', 'b'), 'secret.txt', { within, prefixBytes: 10 })).toThrow(FileIntegrityError)
    expect(() => readFileInside(dir, 'folder.csv', { within, prefixBytes: 10 })).toThrow(FileIntegrityError)
    expect(() => readFileInside(dir, '../../secret.txt', { within, prefixBytes: 10 })).toThrow()
    expect(() => readFileInside(dir, 'missing.csv', { within, prefixBytes: 10 })).toThrow(NotFoundError)
    expect(() => readFileInside(dir, 'big.csv', { within, prefixBytes: 10, sha256: 'a'.repeat(64) })).toThrow(/no sha256 can check/)
  })
})
