// Issue 24, point 1: --holdout of `pipeline pairs` (a fraction or a time) and of `automl` (a fraction)
// through the real CLI. Each odd value is read with its documented meaning or refused in one line
// naming --holdout and what it expects, exit 2. Numbers by the CLI's one grammar (numberFlag), times
// by the time flags' parser (with --date-format). The lake holds 110 daily bars of a synthetic pair
// from 2020-01-01: too few for the pipeline to run (it wants 100 bars before the holdout and 20 after),
// so an accepted --holdout ends in the refusal that names where the holdout starts — worked out by hand:
// a fraction f starts at bar floor(110 × (1 − f)); 2020 is a leap year, so 2020-03-01 is bar 60.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli, runCliBatch } from '../helpers.js'

const h = mkdtempSync(join(tmpdir(), 'mtflow-holdout-'))
const env = { MTFLOW_HOME: h }
const cli = (args: string[]) => runCli(args, { env })
/** Many refusals in one CLI process (runCliBatch): each result as runCli would give it. */
const batch = (calls: string[][]) => runCliBatch(calls, { env })
const pairs = (...extra: string[]) => ['pipeline', 'pairs', '--symbols', 'SYN-Y,SYN-X', ...extra]
const startsAt = (day: string, before: number) => [2, [`mtflow: the holdout from ${day}T00:00:00.000Z leaves ${before} bars to learn from and ${110 - before} to test on; expected at least 100 and 20`]]
const outcome = (r: { code: number | null; stderr: string }) => [r.code, r.stderr.trim().split('\n')]
const notATime = (value: string) => [2, [`mtflow: --holdout (a fraction in (0, 1) or a time) ${JSON.stringify(value)} is not an ISO date or time (expected e.g. 2020-01-31 or 2020-01-31T12:00:00Z), nor an epoch number; no offset means UTC`]]
const notAFraction = (value: string) => [2, [`mtflow: --holdout must be a fraction in (0, 1) or a time (received ${JSON.stringify(value)})`]]

beforeAll(async () => {
  const made = await cli(['data', 'synthetic', '--kind', 'pair', '--bars', '110', '--timeframe', '1d', '--start', '2020-01-01'])
  expect(made.code, made.stderr).toBe(0)
}, 60_000)

describe('--holdout', () => {
  it('pipeline pairs: fractions by the number grammar, anything else a time', async () => {
    const cases: [string, unknown[]][] = [
      ['1e-1', startsAt('2020-04-09', 99)], // floor(110 × 0.9) = 99: 31 + 29 + 31 = 91, + 8
      [' 0.3 ', startsAt('2020-03-18', 77)], // floor(110 × 0.7) = 77
      ['0x10', notATime('0x10')],
      ['0x0', notATime('0x0')],
      ['1.5', notAFraction('1.5')],
      ['-0.1', notAFraction('-0.1')],
      ['0', notAFraction('0')],
      ['NaN', notATime('NaN')],
      ['', notATime('')],
      ['2020-01-01', startsAt('2020-01-01', 0)],
      ['20200301', startsAt('2020-03-01', 60)],
      ['1583020800', startsAt('2020-03-01', 60)], // 18,322 days × 86,400 s
      ['01/03/2020', [2, ['mtflow: --holdout (a fraction in (0, 1) or a time) "01/03/2020" is ambiguous (day/month or month/day?); give --date-format DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)']]],
    ]
    const results = await batch([...cases.map(([value]) => pairs('--holdout', value)), pairs('--holdout', '01/03/2020', '--date-format', 'DD/MM/YYYY'), pairs('--holdout', '01/03/2020', '--date-format', 'MM/DD/YYYY')])
    cases.forEach(([value, expected], i) => expect(outcome(results[i]!), JSON.stringify(value)).toEqual(expected))
    expect(outcome(results[cases.length]!)).toEqual(startsAt('2020-03-01', 60))
    expect(outcome(results[cases.length + 1]!)).toEqual(startsAt('2020-01-03', 2))
  }, 120_000)

  it('automl: a fraction in [0, 1) by the number grammar, nothing else', async () => {
    const refused = (value: string) => [2, [`mtflow: --holdout must be a fraction in [0, 1) (received ${JSON.stringify(value)})`]]
    // Accepted values pass every check and reach the data: the symbol NOPE is not in the lake.
    const accepted = [2, ['mtflow: no bars for NOPE 1d in the lake (see: mtflow data list)']]
    const cases: [string, unknown[]][] = [
      ['1e-1', accepted],
      [' 0.3 ', accepted],
      ['0', accepted],
      ['0x10', refused('0x10')],
      ['0x0', refused('0x0')], // Number('0x0') is 0: no holdout at all, by accident
      ['0b0', refused('0b0')],
      ['1.5', refused('1.5')],
      ['-0.1', refused('-0.1')],
      ['NaN', refused('NaN')],
      ['', refused('')],
      ['2020-01-01', refused('2020-01-01')],
      ['01/03/2020', refused('01/03/2020')],
    ]
    const results = await batch(cases.map(([value]) => ['automl', '--strategies', 'sma-cross', '--symbol', 'NOPE', '--holdout', value]))
    cases.forEach(([value, expected], i) => expect(outcome(results[i]!), JSON.stringify(value)).toEqual(expected))
  }, 120_000)

  it("is the grammar of the other verbs' number flags too: 0x10, 0b1 and Infinity are refused, 1e5 and ' 2 ' read", async () => {
    const deploy = ['deploy', 'sma-cross', '--symbols', 'A', '--timeframe', '1d', '--paper', '--exchange', 'binance']
    const cases: [string[], string][] = [
      [['select', '--dry-run', '--min-sharpe', '0x1'], '--min-sharpe must be a number (received "0x1")'],
      [[...deploy, '--cash', '0x10'], '--cash must be an amount > 0 (received "0x10")'],
      [[...deploy, '--cash', 'Infinity'], '--cash must be an amount > 0 (received "Infinity")'],
      [['dataset', 'build', '--features', 'X', '--label', 'zThreshold', '--entry', '0b1'], '--entry must be a number > 0 (received "0b1")'],
      [['monitor', 'drift', '--reference', 'a.csv', '--current', 'b.csv', '--threshold', '0x1'], '--threshold must be a number > 0 (received "0x1")'],
      [['automl', '--strategies', 'sma-cross', '--symbol', 'NOPE', '--commission', '0x0'], '--commission must be a rate on notional in [0, 1), e.g. 0.0005 for 0.05 % (received "0x0")'],
      [['pipeline', 'pairs', '--symbols', 'SYN-Y,SYN-X', '--top-k', '0x3'], '--top-k must be an integer ≥ 1 (received "0x3")'],
      // A thousands group never starts with 0: a decimal comma is refused, not read as 1 (100 % commission).
      [['backtest', '--strategy', 'sma-cross', '--symbol', 'NOPE', '--commission', '0,001'], '--commission must be a rate on notional in [0, 1), e.g. 0.0005 for 0.05 %, written with a decimal point and no thousands separators (received "0,001")'],
      // 1,250 may mean 1.25 or 1250: a flag refuses any comma (it read as 1250 through the file grammar).
      [[...deploy, '--cash', '1,250'], '--cash must be an amount > 0, written with a decimal point and no thousands separators (received "1,250")'],
      [['sweep', '--strategy', 'sma-cross', '--symbol', 'NOPE', '--grid', 'fast=5,10', '--cash', '0x10'], '--cash must be an amount > 0 (received "0x10")'],
    ]
    // Read: the checks pass and the automl run reaches the data (NOPE is not in the lake).
    const results = await batch([...cases.map(([args]) => args), ['automl', '--strategies', 'sma-cross', '--symbol', 'NOPE', '--cash', '1e5', '--budget', ' 2 ']])
    cases.forEach(([args, message], i) => expect(outcome(results[i]!), args.join(' ')).toEqual([2, [`mtflow: ${message}`]]))
    expect(outcome(results[cases.length]!)).toEqual([2, ['mtflow: no bars for NOPE 1d in the lake (see: mtflow data list)']])
  }, 120_000)
})
