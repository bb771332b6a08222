// `mtflow kernel install|status`, and — where Jupyter's nbconvert is installed — the same quickstart
// executed by Jupyter itself through the installed kernelspec, with the same outputs as our runner.

import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Notebook } from '../../kernel/nbformat.js'
import { outputText, QUICKSTART, ROOT, runCli, sampleRowsBetween } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-kernelspec-'))

function exec(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 120_000, cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    )
  })
}

const nbconvert = await exec('jupyter', ['nbconvert', '--version'], {})
const nbconvertMissing = nbconvert.code !== 0 ? 'jupyter nbconvert is not installed (apt-get install jupyter-nbconvert)' : undefined
if (nbconvertMissing !== undefined) console.log(`skipping the nbconvert compatibility test: ${nbconvertMissing}`)

describe('mtflow kernel', () => {
  it('installs the mtflow-ts kernelspec under a prefix, pointing at this project and this node', async () => {
    const prefix = join(dir, 'prefix')
    const result = await runCli(['kernel', 'install', '--prefix', prefix, '--json'])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout) as { path: string }
    expect(report.path).toBe(join(prefix, 'share', 'jupyter', 'kernels', 'mtflow-ts'))
    const spec = JSON.parse(readFileSync(join(report.path, 'kernel.json'), 'utf8')) as { argv: string[]; display_name: string; language: string; env: Record<string, string> }
    expect(spec.display_name).toBe('TypeScript (mtflow)')
    // Jupyter starts the kernel with glibc's allocator keeping big blocks (kernel/env.ts): 32 MiB, 1 GiB.
    expect(spec.env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824' })
    expect(spec.language).toBe('typescript')
    expect(spec.argv).toEqual([process.execPath, join(ROOT, 'kernel', 'tslab-launcher.cjs'), '--config-path', '{connection_file}'])

    const status = await runCli(['kernel', 'status', '--json'], { env: { JUPYTER_PATH: join(prefix, 'share', 'jupyter') } })
    expect(status.code).toBe(0)
    const found = JSON.parse(status.stdout) as { kernelspec: { found: boolean; path: string; usable: boolean }; searched: string[] }
    expect(found.kernelspec).toMatchObject({ found: true, path: report.path, usable: true })
    expect(found.searched[0]).toBe(report.path)
  })

  it('installs per user into $JUPYTER_DATA_DIR and reports a missing kernelspec plainly', async () => {
    const data = join(dir, 'user-data')
    const result = await runCli(['kernel', 'install', '--user'], { env: { JUPYTER_DATA_DIR: data } })
    expect(result.code, result.stderr).toBe(0)
    expect(existsSync(join(data, 'kernels', 'mtflow-ts', 'kernel.json'))).toBe(true)
    expect(result.stdout).toContain(`installed kernelspec mtflow-ts in ${join(data, 'kernels', 'mtflow-ts')}`)

    const none = await runCli(['kernel', 'status'], { env: { JUPYTER_DATA_DIR: join(dir, 'empty'), JUPYTER_PATH: '', PATH: '/nonexistent' } })
    expect(none.code).toBe(0)
    expect(none.stdout).toContain('jupyter:    not found on PATH')
    expect(none.stdout).toContain('kernelspec: mtflow-ts not installed (run: npx mtflow kernel install)')

    const both = await runCli(['kernel', 'install', '--user', '--prefix', dir])
    expect(both.code).toBe(2)
    expect(both.stderr).toBe('mtflow: kernel install takes --user or --prefix DIR, not both\n')
  })

  it.skipIf(nbconvertMissing !== undefined)('jupyter nbconvert executes the quickstart through the kernelspec with the same outputs', async () => {
    const prefix = join(dir, 'nbconvert-prefix')
    expect((await runCli(['kernel', 'install', '--prefix', prefix])).code).toBe(0)
    const env = { JUPYTER_PATH: join(prefix, 'share', 'jupyter') }
    const run = () =>
      exec(
        'jupyter',
        ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=mtflow-ts', '--ExecutePreprocessor.timeout=120', '--output-dir', dir, '--output', 'nbconvert-quickstart', QUICKSTART],
        env,
      )
    let result = await run()
    // Jupyter chooses the kernel's ports and frees them before the kernel binds them: another process of the
    // test run can take one meanwhile. The launcher then exits saying so (kernel/tslab-launcher.cjs), and
    // nbclient gives up on a kernel that died starting; a second run gets other ports.
    if (result.code !== 0 && /address already in use/i.test(result.stderr)) result = await run()
    expect(result.code, result.stderr).toBe(0)
    const nb = JSON.parse(readFileSync(join(dir, 'nbconvert-quickstart.ipynb'), 'utf8')) as Notebook
    const byId = (id: string) => nb.cells.find((c) => c.id === id)!
    const expected = sampleRowsBetween('2000-01-01', '2020-12-31')
    expect(outputText(byId('load').outputs![0] as never)).toBe(`bars: ${expected.count} daily bars, ${expected.first} to ${expected.last}\n`)
    expect(outputText(byId('table').outputs![0] as never, 'text/html')).toContain(`data-rows="${expected.count}"`)
    expect(outputText(byId('chart').outputs![0] as never, 'text/html')).toContain('<svg')
  }, 300_000) // a clean checkout has no lib declarations cache yet: its first kernels compile lib/ (a minute on a loaded CI machine)
})
