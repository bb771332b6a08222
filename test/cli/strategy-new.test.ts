// `mtflow strategy new NAME` writes a strategy and its tests from the template, in a folder outside the
// clone; `mtflow strategy test` runs those tests under mtflow's loader (exit code = their outcome). The
// template's tests pass as written, and fail (exit 1) on a strategy that looks ahead.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, runCliBatch } from '../helpers.js'

let home: string
let dir: string
const cli = (...args: string[]) => runCli(['--home', home, ...args], { cwd: dir })
const testJson = async (file: string) => {
  const r = await cli('strategy', 'test', file, '--json')
  return { code: r.code, out: JSON.parse(r.stdout) as { ok: boolean; tests: number; pass: number; fail: number; failed: string[] }, stderr: r.stderr }
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-strategy-new-home-'))
  dir = mkdtempSync(join(tmpdir(), 'mtflow-strategy-new-'))
})
afterAll(() => {
  rmSync(home, { recursive: true, force: true })
  rmSync(dir, { recursive: true, force: true })
})

/** Replace one exact passage of a generated file (the test fails if the template no longer has it). */
function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8')
  expect(text).toContain(from)
  writeFileSync(file, text.replace(from, to))
}

describe('mtflow strategy new / strategy test', () => {
  it('writes a strategy and its tests, which pass under mtflow strategy test; refuses to overwrite', async () => {
    const made = await cli('strategy', 'new', 'trend-one', '--dir', 'strategies', '--json')
    expect(made.code, made.stderr).toBe(0)
    const files = JSON.parse(made.stdout) as { strategy: string; test: string }
    expect(files.strategy).toBe(join(dir, 'strategies', 'trend-one.ts'))
    expect(files.test).toBe(join(dir, 'strategies', 'trend-one.test.ts'))
    const source = readFileSync(files.strategy, 'utf8')
    // The contract's parts, as lib/backtest/README.md ("Writing a strategy") documents them.
    for (const part of ["from 'mtflow'", "name: 'trend-one'", 'universe:', '({ symbol, timeframe: request.timeframe })', 'warmup:', 'validate:', 'signals(', 'onStart(', 'onBar(', 'stopLoss:', 'takeProfit:', 'ctx.buy(', 'ctx.close(']) expect(source).toContain(part)

    const passed = await testJson(files.test)
    expect(passed.code, passed.stderr).toBe(0)
    expect(passed.out).toMatchObject({ ok: true, tests: 3, pass: 3, fail: 0, failed: [] })
    // Without --json the test output streams through.
    const plain = await cli('strategy', 'test', files.test)
    expect(plain.code).toBe(0)
    expect(plain.stdout).toContain('never looks ahead')

    // The strategy backtests by file with the bundled sample (it trades, with its bracket on by default).
    expect((await cli('data', 'samples', '--json')).code).toBe(0)
    const bt = await cli('backtest', '--strategy', files.strategy, '--symbol', 'SPX', '--no-track', '--json')
    expect(bt.code, bt.stderr).toBe(0)
    expect(JSON.parse(bt.stdout).metrics.trades.trades).toBeGreaterThan(0)

    // Never overwrites: the second `new` exits 2 and leaves the edited file as it is.
    writeFileSync(files.test, '// mine\n')
    const again = await cli('strategy', 'new', 'trend-one', '--dir', 'strategies')
    expect(again.code).toBe(2)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toContain('already exists')
    expect(readFileSync(files.test, 'utf8')).toBe('// mine\n')
  }, 180_000)

  it('refuses a bad name with one line and exit 2, writing nothing', async () => {
    // One process for the refusals (they are main's, not the process's).
    const names = ['Bad Name', '../escape', '9lives', 'sma-cross']
    const results = await runCliBatch([...names.map((name) => ['--home', home, 'strategy', 'new', name, '--dir', 'bad']), ['--home', home, 'strategy', 'test', 'missing.test.ts']], { cwd: dir })
    for (const [i, name] of names.entries()) {
      const r = results[i]!
      expect(r.code, name).toBe(2)
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1)
    }
    expect(existsSync(join(dir, 'bad'))).toBe(false)
    expect(results[names.length]!.code).toBe(2)
  }, 60_000)

  it('a folder that cannot be made is one line and exit 2, at once (Node 20\'s recursive mkdir loops for ever below /proc)', async () => {
    const [samples, ...results] = await runCliBatch([
      ['--home', home, 'data', 'samples', '--json'],
      ['--home', home, 'strategy', 'new', 'procx', '--dir', '/proc/nope/deeper'],
      ['--home', home, 'backtest', '--strategy', 'sma-cross', '--symbol', 'SPX', '--no-track', '--json', '--export', '/proc/nope/x'],
    ], { cwd: dir })
    expect(samples!.code).toBe(0)
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect(results[0]!.stderr).toMatch(/ENOENT|no such file/)
  }, 30_000)

  it('a dangling link where the test file goes is taken: nothing written, the link left alone (an attack review: NAME.ts was left behind)', async () => {
    mkdirSync(join(dir, 'links'))
    symlinkSync(join(dir, 'nowhere.ts'), join(dir, 'links', 'v4.test.ts'))
    const r = await cli('strategy', 'new', 'v4', '--dir', 'links')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`mtflow: ${join(dir, 'links', 'v4.test.ts')} already exists; nothing written (strategy new never overwrites)\n`)
    expect(readdirSync(join(dir, 'links'))).toEqual(['v4.test.ts'])
    expect(existsSync(join(dir, 'nowhere.ts'))).toBe(false)
  }, 60_000)

  it("fails (exit 1) the test of a strategy whose signals look one bar ahead", async () => {
    expect((await cli('strategy', 'new', 'ahead-vector', '--json')).code).toBe(0)
    edit(join(dir, 'ahead-vector.ts'), "const fast = indicator('sma', { period: p.fast }).value!", "const fast = indicator('sma', { period: p.fast }).value!.map((_v, t, a) => a[t + 1] ?? NaN)")
    const r = await testJson(join(dir, 'ahead-vector.test.ts'))
    expect(r.code).toBe(1)
    expect(r.out.ok).toBe(false)
    expect(r.out.failed).toContain('never looks ahead: decisions on every prefix of the bars equal those on the whole')
  }, 120_000)

  it('fails (exit 1) the test of a strategy whose onBar reads the next close', async () => {
    expect((await cli('strategy', 'new', 'ahead-event', '--json')).code).toBe(0)
    // history() returns views: their buffer holds the bars the engine has not delivered yet.
    edit(
      join(dir, 'ahead-event.ts'),
      '    const crossedUp = fast.at(0) > slow.at(0) && fast.at(1) <= slow.at(1)\n',
      '    const next = new Float64Array(ctx.history(bar.symbol, bar.timeframe, 1).close.buffer)[bar.index + 1]!\n    const crossedUp = next > bar.close * 1.01\n',
    )
    const r = await testJson(join(dir, 'ahead-event.test.ts'))
    expect(r.code).toBe(1)
    expect(r.out.failed).toContain('never looks ahead: decisions on every prefix of the bars equal those on the whole')
  }, 120_000)

  it('a file without tests, or one that does not load, fails with one line naming why (a new-user review: exit 0, and 7 KB of minified source)', async () => {
    expect((await cli('strategy', 'new', 'no-tests', '--json')).code).toBe(0)
    const none = await testJson(join(dir, 'no-tests.ts'))
    expect(none.code).toBe(1)
    expect(none.out).toMatchObject({ ok: false, tests: 0, error: `no tests ran in ${join(dir, 'no-tests.ts')}: a strategy's tests are node:test test(…) calls (mtflow strategy new writes a file of them)` })
    edit(join(dir, 'no-tests.test.ts'), "import assert from 'node:assert/strict'", "import assert <<< 'node:assert/strict'")
    const broken = await testJson(join(dir, 'no-tests.test.ts'))
    expect(broken.code).toBe(1)
    expect((broken.out as { error?: string }).error).toMatch(new RegExp(`^${join(dir, 'no-tests.test.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} did not load: .*no-tests\\.test\\.ts:\\d+:\\d+: ERROR: `))
    const plain = await cli('strategy', 'test', join(dir, 'no-tests.test.ts'))
    expect(plain.code).toBe(1)
    expect(plain.stderr.trim().split('\n')).toHaveLength(1)
    expect(plain.stderr).toMatch(/^mtflow: .* did not load: .*ERROR: /)
    // A backtest of a strategy file with a syntax error says where it is.
    edit(join(dir, 'no-tests.ts'), 'const crossedUp', 'const crossedUp <<<')
    const bt = await cli('backtest', '--strategy', join(dir, 'no-tests.ts'), '--symbol', 'SPX', '--no-track')
    expect(bt.code).toBe(2)
    expect(bt.stderr.trim()).toMatch(/^mtflow: strategy file .*no-tests\.ts failed to load: .*no-tests\.ts:\d+:\d+: ERROR: /)
  }, 120_000)
})
