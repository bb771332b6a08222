// The docs claim only what exists (issue 24): README.md and the guides beside the code link to files and
// headings that exist, name repository paths that exist, and show only mtflow verbs, sub-verbs and flags that
// the CLI's own --help lists; the README stays a short front page with the two Quick start commands.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildProgram } from '../../lib/cli/main.js'
import { strategyTemplate } from '../../lib/strategy/template.js'
import { ROOT } from '../helpers.js'
import { brokenLinks, docFiles, missingPaths, shownCommands, splitFences, unknownInCommand } from './docs-check.js'

let program: Command
const helpCache = new Map<Command, string>()
const help = (cmd: Command): string => {
  let text = helpCache.get(cmd)
  if (text === undefined) helpCache.set(cmd, (text = cmd.helpInformation()))
  return text
}
const sink = { write: () => true }
const docs = docFiles(ROOT)
const read = (doc: string) => readFileSync(join(ROOT, doc), 'utf8')
const commandProblems = (doc: string, text: string) => shownCommands(doc, text).flatMap((shown) => unknownInCommand(program, shown, help))

beforeAll(() => {
  // The program the mtflow executable runs; its help text is what `mtflow VERB --help` prints.
  program = buildProgram({ stdout: sink, stderr: sink, home: ROOT, verbose: false, exitCode: 0 })
})

describe('the docs claim only what exists', () => {
  it('finds the README and the guides beside the code', () => {
    for (const doc of ['README.md', 'notebooks/README.md', 'kernel/README.md', 'test/bench/README.md', 'lib/cli/README.md', 'lib/backtest/README.md']) expect(docs).toContain(doc)
  })

  it('every relative link names a file (and heading) that exists', () => {
    expect(docs.flatMap((doc) => brokenLinks(ROOT, doc, read(doc)))).toEqual([])
  })

  it('every backticked repository path exists', () => {
    expect(docs.flatMap((doc) => missingPaths(ROOT, doc, read(doc)))).toEqual([])
  })

  it('every mtflow command shown uses a verb, sub-verb and flags that its --help lists', () => {
    const shown = docs.flatMap((doc) => shownCommands(doc, read(doc)))
    expect(shown.length).toBeGreaterThan(100) // the CLI reference alone shows more
    expect(docs.flatMap((doc) => commandProblems(doc, read(doc)))).toEqual([])
  })

  it("the backtest guide's complete strategy example is what `mtflow strategy new my-trend` writes", () => {
    const guide = read('lib/backtest/README.md')
    const after = guide.slice(guide.indexOf('The complete example, as `strategy new` writes it:'))
    const example = /```ts\n([\s\S]*?)\n```/.exec(after)?.[1]
    expect(example).toBeDefined()
    expect(`${example}\n`).toBe(strategyTemplate('my-trend'))
  })

  it('the README is a short front page with the two Quick start commands', () => {
    const text = read('README.md')
    expect(text.split('\n').length).toBeLessThanOrEqual(250)
    const quick = text.split(/^## /m).find((section) => section.startsWith('Quick start'))
    expect(quick).toBeDefined()
    // Its code block is exactly the two commands.
    const code = splitFences(quick!).fenced.map((l) => l.text.trim()).filter((l) => l !== '')
    expect(code).toEqual(['npm install && npm start', 'npm test'])
  })
})

describe('the checks catch what does not exist', () => {
  // A doc written for the purpose: each line holds one made-up reference, each of which must be reported.
  const made = [
    '# A guide',
    '## Real heading',
    'See [the architecture](lib/README.md), [here](#real-heading) and [the CLI](lib/cli/README.md#cli).',
    'Broken: [gone](lib/nowhere/README.md), [no anchor](lib/cli/README.md#no-such-heading), [up](../../etc/passwd).',
    'Paths: `lib/core/time.ts` exists, `lib/core/tyme.ts` does not.',
    '```sh',
    'mtflow backtest --strategy sma-cross --symbol SPX --param fast=10',
    'mtflow backtset --strategy sma-cross',
    'mtflow deploy list',
    'mtflow strategy frobnicate NAME',
    'mtflow runs lsit',
    'mtflow sweep --strategy sma-cross --symbol SPX --grid fast=5:50:5 --wrokers 2   # comment --not-a-flag',
    'mtflow deploy sma-cross@1 --symbols SPX --timeframe 1d --paper \\',
    '  --exchange binance --papr',
    '```',
    'In a table: `mtflow data list \\| validate \\| sampels` and `mtflow --home DIR runs list --experiments --max 3`.',
  ].join('\n')

  it('reports the made-up link, anchor, escape, path, verb, sub-verbs and flags, and nothing real', () => {
    expect(brokenLinks(ROOT, 'made.md', made)).toEqual([
      'made.md:4: lib/nowhere/README.md (no such file)',
      'made.md:4: lib/cli/README.md#no-such-heading (no such heading)',
      'made.md:4: ../../etc/passwd leaves the repository',
    ])
    expect(missingPaths(ROOT, 'made.md', made)).toEqual(['made.md:5: lib/core/tyme.ts'])
    expect(commandProblems('made.md', made)).toEqual([
      'made.md:8: mtflow backtset (no such verb)',
      'made.md:10: mtflow strategy frobnicate (no such sub-verb)',
      'made.md:11: mtflow runs lsit (no such sub-verb)',
      'made.md:12: mtflow sweep --wrokers (not in its --help)',
      'made.md:13: mtflow deploy --papr (not in its --help)',
      'made.md:16: mtflow data sampels (no such sub-verb)',
    ])
  })
})
