// `mtflow notebook run` as a real process: exit codes, one-line errors, the default output path,
// Ctrl-C and a killed runner (no orphan kernel either way).

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Notebook } from '../../kernel/nbformat.js'
import { FIXTURES, kernelsOf, QUICKSTART, runCli, runCliBatch, waitFor } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-cli-'))
const nbDir = join(FIXTURES, 'notebooks')

/**
 * slow.ipynb whose busy cell first creates `mark`: a test waits for the file, not for a fixed time, before it
 * interrupts or kills the runner (a kernel starts in about a second here, in several on a loaded machine).
 */
function slowMarked(name: string): { notebook: string; mark: string } {
  const nb = JSON.parse(readFileSync(join(nbDir, 'slow.ipynb'), 'utf8')) as Notebook
  const mark = join(dir, `${name}.busy`)
  const busy = nb.cells.find((c) => c.id === 'busy')!
  busy.source = `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(mark)}, '')\n${Array.isArray(busy.source) ? busy.source.join('') : busy.source}`
  const notebook = join(dir, `${name}.ipynb`)
  writeFileSync(notebook, JSON.stringify(nb))
  return { notebook, mark }
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^mtflow: /)
  expect(stderr).not.toMatch(/\n\s+at /)
  return lines[0]!
}

describe('mtflow notebook run', () => {
  it('refuses bad input with one line, exit 2, and nothing written to --out', async () => {
    const out = join(dir, 'bad-out.ipynb')
    writeFileSync(join(dir, 'not-json.ipynb'), '{ this is not json')
    writeFileSync(join(dir, 'v3.ipynb'), JSON.stringify({ nbformat: 3, nbformat_minor: 0, worksheets: [] }))
    const python = JSON.parse(readFileSync(QUICKSTART, 'utf8')) as Notebook
    python.metadata.kernelspec = { name: 'python3', display_name: 'Python 3' }
    writeFileSync(join(dir, 'python.ipynb'), JSON.stringify(python))
    const cases: [string[], RegExp][] = [
      [['notebook', 'run', join(dir, 'missing.ipynb')], /cannot read notebook .*missing\.ipynb: no such file/],
      [['notebook', 'run', join(dir, 'not-json.ipynb')], /not-json\.ipynb is not a notebook: invalid JSON/],
      [['notebook', 'run', join(dir, 'v3.ipynb')], /v3\.ipynb is nbformat 3; expected nbformat 4/],
      [['notebook', 'run', join(dir, 'python.ipynb')], /uses kernel "python3"; expected a TypeScript notebook/],
      [['notebook', 'run', QUICKSTART, '-p', 'start'], /parameter "start" is not key=value/],
      [['notebook', 'run', QUICKSTART, '--cell-timeout', 'soon'], /--cell-timeout must be a number of seconds > 0 \(received "soon"\)/],
      [['notebook', 'run'], /missing required argument 'notebook'/],
      [['notebook', 'run', QUICKSTART, '--frobnicate'], /unknown option '--frobnicate'/],
    ]
    writeFileSync(join(dir, 'a-file'), '')
    cases.push(
      [['notebook', 'run', QUICKSTART, '--out', join(dir, 'a-file', 'x.ipynb')], /cannot be created: .*a-file is not a directory/],
      [['notebook', 'run', QUICKSTART, '--out', ''], /--out needs a file path/],
      [['notebook', 'run', QUICKSTART, '--out', dir], /is a directory; expected a notebook file path/],
    )
    // One process for the refusals (they are main's, not the process's); no kernel starts for any of them.
    const results = await runCliBatch(cases.map(([args]) => (args.includes('--out') ? args : [...args, '--out', out])))
    for (const [i, [args, message]] of cases.entries()) {
      const result = results[i]!
      expect(result.code, args.join(' ')).toBe(2)
      expect(oneLine(result.stderr)).toMatch(message)
      expect(result.stdout).toBe('')
      expect(existsSync(out)).toBe(false)
    }
    const verbose = await runCli(['--verbose', 'notebook', 'run', join(dir, 'v3.ipynb')])
    expect(verbose.code).toBe(2)
    expect(verbose.stderr).toMatch(/\n\s+at /)
  })

  it('writes to MTFLOW_HOME/notebook-runs/<name>/<timestamp>.ipynb and prints where; --json for machines', async () => {
    const home = join(dir, 'home')
    const human = await runCli(['--home', home, 'notebook', 'run', join(nbDir, 'trivial-10.ipynb')])
    expect(human.code, human.stderr).toBe(0)
    const printed = /executed notebook: (.+)\n/.exec(human.stdout)![1]!
    expect(printed).toMatch(new RegExp(`^${home}/notebook-runs/trivial-10/\\d{8}T\\d{9}Z\\.ipynb$`))
    const nb = JSON.parse(readFileSync(printed, 'utf8')) as Notebook
    expect(nb.cells.map((c) => c.execution_count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(nb.cells[9]!.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: ['cell 9 18\n'] }])

    const json = await runCli(['notebook', 'run', join(nbDir, 'failing.ipynb'), '--json', '--out', join(dir, 'failing.ipynb')], { env: { MTFLOW_HOME: home } })
    expect(json.code).toBe(1)
    const report = JSON.parse(json.stdout) as { status: string; out: string; failedCell: unknown; cells: unknown[] }
    expect(report.status).toBe('error')
    expect(report.out).toBe(join(dir, 'failing.ipynb'))
    expect(report.failedCell).toEqual({ index: 2, id: 'fails', ename: 'RangeError', evalue: 'deliberate failure in cell 2' })
    expect(report.cells).toHaveLength(3)
  })

  it('on Ctrl-C interrupts the cell, saves what ran, exits 130 and leaves no kernel', async () => {
    const out = join(dir, 'interrupted.ipynb')
    const { notebook, mark } = slowMarked('interrupted-src')
    let cliPid = 0
    const done = runCli(['notebook', 'run', notebook, '--out', out], { onSpawn: (pid) => (cliPid = pid) })
    expect(await waitFor(() => cliPid > 0 && kernelsOf(cliPid).length === 1, 30_000)).toBe(true)
    const kernel = kernelsOf(cliPid)[0]!
    // The kernel answered, cell 1 ran, cell 2 has started (and spins).
    expect(await waitFor(() => existsSync(mark), 60_000, 50)).toBe(true)
    process.kill(cliPid, 'SIGINT')
    const result = await done
    expect(result.code).toBe(130)
    expect(result.stderr).toMatch(/cell 2 \(id busy\) was interrupted: KeyboardInterrupt/)
    const nb = JSON.parse(readFileSync(out, 'utf8')) as Notebook
    expect(nb.cells[1]!.outputs!.at(-1)).toMatchObject({ output_type: 'error', ename: 'KeyboardInterrupt' })
    expect(nb.cells[2]!.execution_count).toBeNull()
    expect(await waitFor(() => !existsSync(`/proc/${kernel}/cmdline`) || kernelsOf(cliPid).length === 0, 5000)).toBe(true)
  })

  it('on Ctrl-C while the kernel starts, stops at once with exit 130', async () => {
    let cliPid = 0
    const out = join(dir, 'interrupted-at-start.ipynb')
    const done = runCli(['notebook', 'run', join(nbDir, 'trivial-10.ipynb'), '--out', out], { onSpawn: (pid) => (cliPid = pid) })
    expect(await waitFor(() => cliPid > 0 && kernelsOf(cliPid).length === 1, 30_000, 10)).toBe(true)
    process.kill(cliPid, 'SIGINT')
    const result = await done
    expect(result.code).toBe(130)
    expect(result.stderr).toContain('mtflow: interrupted while the kernel was starting')
    const nb = JSON.parse(readFileSync(out, 'utf8')) as Notebook
    expect(nb.cells.every((c) => c.execution_count === null)).toBe(true)
    expect((nb.metadata.mtflow as { run: { status: string } }).run.status).toBe('interrupted')
  })

  it('a killed runner does not leave its kernel behind, even one busy in a cell', async () => {
    const { notebook, mark } = slowMarked('killed-src')
    let cliPid = 0
    const done = runCli(['notebook', 'run', notebook, '--out', join(dir, 'killed.ipynb')], { onSpawn: (pid) => (cliPid = pid) })
    expect(await waitFor(() => cliPid > 0 && kernelsOf(cliPid).length === 1, 30_000)).toBe(true)
    const kernel = kernelsOf(cliPid)[0]!
    expect(await waitFor(() => existsSync(mark), 60_000, 50)).toBe(true) // cell 2 is spinning: the kernel's own thread is busy
    process.kill(cliPid, 'SIGKILL')
    await done
    const alive = () => {
      try {
        return readFileSync(`/proc/${kernel}/stat`, 'utf8').split(' ')[2] !== 'Z'
      } catch {
        return false
      }
    }
    expect(await waitFor(() => !alive(), 10_000)).toBe(true)
  })
})
