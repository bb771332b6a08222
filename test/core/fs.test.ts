import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findProjectRoot, makeDirs, readTextFile, resolveHome, sha256, writeFileAtomic } from '../../lib/core/index.js'
import { ROOT } from '../helpers.js'

describe('core files and workspace', () => {
  it('writes atomically, creating folders and leaving no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-fs-'))
    const target = join(dir, 'a', 'b', 'file.json')
    writeFileAtomic(target, '{"v":1}')
    writeFileAtomic(target, '{"v":2}')
    expect(readFileSync(target, 'utf8')).toBe('{"v":2}')
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['file.json'])
  })

  it('hashes with sha256 (FIPS 180-2 test vector "abc")', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('finds the workspace: explicit, $MTFLOW_HOME, else data/ of the project', () => {
    const saved = process.env.MTFLOW_HOME
    try {
      delete process.env.MTFLOW_HOME
      expect(resolveHome('/tmp/x')).toBe('/tmp/x')
      expect(findProjectRoot(join(ROOT, 'notebooks'))).toBe(ROOT.replace(/\/$/, ''))
      process.env.MTFLOW_HOME = '/tmp/elsewhere'
      expect(resolveHome()).toBe('/tmp/elsewhere')
      const outside = mkdtempSync(join(tmpdir(), 'mtflow-noproj-'))
      writeFileSync(join(outside, 'package.json'), '{"name":"other"}')
      expect(findProjectRoot(outside)).toBeUndefined()
    } finally {
      if (saved === undefined) delete process.env.MTFLOW_HOME
      else process.env.MTFLOW_HOME = saved
    }
  })
})

describe('makeDirs', () => {
  it('makes nested folders; a folder already there is fine; a dangling link where one goes is named', () => {
    const root = mkdtempSync(join(tmpdir(), 'mtflow-makedirs-'))
    makeDirs(join(root, 'a', 'b', 'c'))
    expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true)
    makeDirs(join(root, 'a', 'b'))
    symlinkSync(join(root, 'nowhere'), join(root, 'link'))
    expect(() => makeDirs(join(root, 'link', 'x'))).toThrow(`cannot make the folder ${join(root, 'link')}: a file or a broken link is there`)
    // Below /proc a folder cannot be made: an error at once (Node 20's recursive mkdir loops for ever there).
    expect(() => makeDirs('/proc/mtflow-nope/x')).toThrow(/ENOENT/)
  })

  it('readTextFile caps what it reads, not what a stat said: a file larger than its size (or grown since) is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtflow-fs-read-'))
    writeFileSync(join(dir, 'small.csv'), '\uFEFFa,b\n1,2\n')
    expect(readTextFile(join(dir, 'small.csv'), 'caps file', 16)).toBe('a,b\n1,2\n')
    writeFileSync(join(dir, 'big.csv'), 'x'.repeat(17))
    expect(() => readTextFile(join(dir, 'big.csv'), 'caps file', 16)).toThrow(`caps file ${join(dir, 'big.csv')} is 17 bytes; expected at most 16`)
    // /proc's files say size 0 and hold more: the stat's size passed the cap, and the whole file was read (an
    // attack review: a file swapped for a bigger one between the stat and the read got past the cap the same way).
    expect(statSync('/proc/self/status').size).toBe(0)
    expect(() => readTextFile('/proc/self/status', 'weights file', 16)).toThrow('weights file /proc/self/status grew past 16 bytes while it was read; expected at most 16')
    expect(() => readTextFile(dir, 'caps file', 16)).toThrow(`caps file ${dir} is not a regular file`)
    // Room for what is there, not the whole cap: a 512 MiB cap was set aside for a 7-byte file (a review).
    writeFileSync(join(dir, 'tiny.json'), '{"a":1}')
    const before = process.memoryUsage().external
    expect(readTextFile(join(dir, 'tiny.json'), 'reference file', 512 * 2 ** 20)).toBe('{"a":1}')
    expect(process.memoryUsage().external - before).toBeLessThan(2 ** 20)
  })
})
