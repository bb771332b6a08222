// A secret given as a command-line argument is in every local user's process list while the command runs
// (`ps`, /proc/PID/cmdline): an attack review read a worker's Redis password and tracking token there, and
// with the password could make every worker run code. The CLI says so, once per secret, and names the
// environment variable it goes in instead; given that way, nothing is said.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../exec/redis.js'
import { runCli } from '../helpers.js'

const home = mkdtempSync(join(tmpdir(), 'mtflow-secret-args-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('secrets on the command line', () => {
  it('--redis with a password and --token are warned about; the same from the environment are not', async () => {
    const port = await freePort() // nothing listens: the worker fails after the warnings
    const url = `redis://:S3CRET@127.0.0.1:${port}`
    const given = await runCli(['--home', home, 'worker', '--redis', url, '--token', 'T0KEN', '--data-url', 'http://127.0.0.1:1'])
    expect(given.code).toBe(2)
    const lines = given.stderr.trim().split('\n')
    expect(lines.slice(0, 2)).toEqual([
      'mtflow: warning: the password in --redis is visible to every local user in the process list; set MTFLOW_REDIS_URL instead',
      'mtflow: warning: --token is visible to every local user in the process list; set MTFLOW_TRACKING_TOKEN instead',
    ])
    expect(lines.slice(2)).toEqual([expect.stringMatching(/^mtflow: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ within 5 s/)])
    expect(given.stderr).not.toContain('S3CRET')
    const fromEnv = await runCli(['--home', home, 'worker', '--data-url', 'http://127.0.0.1:1'], { env: { MTFLOW_REDIS_URL: url, MTFLOW_TRACKING_TOKEN: 'T0KEN' } })
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^mtflow: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ within 5 s/)])
    // A submitter's --redis without a password says nothing.
    const plain = await runCli(['--home', home, 'worker', '--redis', `redis://127.0.0.1:${port}`])
    expect(plain.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^mtflow: cannot reach Redis/)])
  })
})
