// Sources sent with a job (a worker on another machine) are written to a folder of this user's own and
// loaded only as sent (second attack review): a file planted or left cut short under the module's hash is
// replaced by the source that matches the hash; the folder is made private; one that is a link, or another
// user's, is refused.

import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadModuleRef, moduleRef, privateFolder } from '../../lib/exec/module-ref.js'

const scratch = mkdtempSync(join(tmpdir(), 'mtflow-module-cache-'))
const uid = process.getuid?.()
const folder = join(tmpdir(), `mtflow-modules-${uid}`)
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A reference to a fresh module, as a job from another machine sends it: its submitter's path does not exist here. */
function remoteRef(answer: string) {
  const dir = join(scratch, `src-${answer}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'strat.ts'), `export const answer = ${JSON.stringify(answer)}\n`)
  const ref = moduleRef(join(dir, 'strat.ts'))
  return { ...ref, file: `/home/alice/${answer}/strat.ts`, root: `/home/alice/${answer}` }
}

describe.skipIf(uid === undefined)('the folder of sources sent with jobs', () => {
  it('a file planted under the module hash, or cut short, is replaced by the source sent; the folder is this user\'s alone (0700)', () => {
    const planted = remoteRef('sent-1')
    const dir = join(folder, planted.sha256)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'strat.ts'), "export const answer = 'PLANTED'\n")
    chmodSync(folder, 0o755) // as the shared folder of before was
    expect(loadModuleRef(planted, 'strategy').answer).toBe('sent-1')
    expect(readFileSync(join(dir, 'strat.ts'), 'utf8')).toBe('export const answer = "sent-1"\n')
    const cut = remoteRef('sent-2')
    mkdirSync(join(folder, cut.sha256), { recursive: true })
    writeFileSync(join(folder, cut.sha256, 'strat.ts'), 'export const ans')
    expect(loadModuleRef(cut, 'strategy').answer).toBe('sent-2')
    expect(lstatSync(folder).mode & 0o777).toBe(0o700)
  })

  it('refuses a folder that is another user\'s, or a link (on folders of the test\'s own: the real one stays as it is)', () => {
    const own = join(scratch, 'own')
    expect(privateFolder(own)).toBe(own)
    expect(lstatSync(own).mode & 0o777).toBe(0o700)
    if (uid === 0) {
      // Only root can hand a folder to someone else: as root here, one is given to user 12345.
      const theirs = join(scratch, 'theirs')
      mkdirSync(theirs)
      chownSync(theirs, 12_345, 12_345)
      expect(() => privateFolder(theirs)).toThrow(`${theirs} belongs to user 12345, not to this one (0): sources sent with a job are not loaded from it`)
    }
    const link = join(scratch, 'link')
    symlinkSync(own, link)
    expect(() => privateFolder(link)).toThrow(`${link} is not a folder (a link?): sources sent with a job are not loaded from it`)
  })
})
