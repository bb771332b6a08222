// `mtflow notebook params` lists a notebook's parameters; `notebook run -f params.json|yaml` reads them from
// a file (-p wins), and a parameter the notebook does not declare is warned about, as papermill does.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Notebook } from '../../kernel/nbformat.js'
import { parseFlatYaml } from '../../lib/cli/notebook-params.js'
import { runCli, runCliBatch, type CliResult } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mtflow-nb-params-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const code = (id: string, source: string, tags: string[] = []) => ({ cell_type: 'code', execution_count: null, id, metadata: tags.length === 0 ? {} : { tags }, outputs: [], source })
const notebook = (cells: unknown[]) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { display_name: 'TypeScript (mtflow)', language: 'typescript', name: 'mtflow-ts' } }, cells })

const NB = join(dir, 'params.ipynb')
writeFileSync(
  NB,
  notebook([
    code('md', '// a first cell that is not the parameters cell\nconst unrelated = 1'),
    code('p', "// Parameters\nlet start: string = '2000-01-01'\nlet n = 1\nlet ratio = -0.5\nlet flags = [true, false]\nlet opts = { a: 1 }\nlet flag = true\nlet none = null\nlet later: Date\nlet when = new Date(0)", ['parameters']),
    code('show', 'console.log(JSON.stringify([start, n, ratio]))') // (tslab misreads shorthand { start }),
  ]),
)
const BARE = join(dir, 'bare.ipynb')
writeFileSync(BARE, notebook([code('a', 'console.log(1)')]))

describe('mtflow notebook params', () => {
  it("lists the parameters cell's names, types (annotated, else the literal's kind) and defaults", async () => {
    const [r, text, bare, bareText, missing] = (await runCliBatch([
      ['notebook', 'params', NB, '--json'],
      ['notebook', 'params', NB],
      ['notebook', 'params', BARE, '--json'],
      ['notebook', 'params', BARE],
      ['notebook', 'params', join(dir, 'missing.ipynb')],
    ])) as [CliResult, CliResult, CliResult, CliResult, CliResult]
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      notebook: NB,
      hasParametersCell: true,
      parameters: [
        { name: 'start', type: 'string', default: "'2000-01-01'" },
        { name: 'n', type: 'number', default: '1' },
        { name: 'ratio', type: 'number', default: '-0.5' },
        { name: 'flags', type: 'array', default: '[true, false]' },
        { name: 'opts', type: 'object', default: '{ a: 1 }' },
        { name: 'flag', type: 'boolean', default: 'true' },
        { name: 'none', type: 'null', default: 'null' },
        { name: 'later', type: 'Date' },
        { name: 'when', type: 'unknown', default: 'new Date(0)' },
      ],
    })
    expect(text.stdout.split('\n').slice(0, 3)).toEqual(['name   type     default', "start  string   '2000-01-01'", 'n      number   1'])
    expect(JSON.parse(bare.stdout)).toEqual({ notebook: BARE, hasParametersCell: false, parameters: [] })
    expect(bareText.stdout).toBe(`${BARE} has no cell tagged parameters: nothing can be injected\n`)
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('mtflow notebook run: values of the declared type (a new-user check: -p fast=abc failed the injected cell naming no parameter)', () => {
  it('refuses a value of another kind for an annotated number or boolean before a kernel starts, and takes -p text for a string', async () => {
    const typed = join(dir, 'typed.ipynb')
    writeFileSync(typed, notebook([code('p', "let k: number = 3\nlet on: boolean = false\nlet s: string = 'x'", ['parameters']), code('show', 'console.log(JSON.stringify([k, on, s]))')]))
    const [badNumber, badBoolean] = await runCliBatch([
      ['notebook', 'run', typed, '-p', 'k=abc', '--out', join(dir, 'typed-1.ipynb')],
      ['notebook', 'run', typed, '-p', 'on=1', '--out', join(dir, 'typed-2.ipynb')],
    ])
    expect([badNumber!.code, badNumber!.stderr]).toEqual([2, `mtflow: parameter k: ${typed} declares it as number; received "abc" (expected a number such as 10 or 0.5)\n`])
    expect([badBoolean!.code, badBoolean!.stderr]).toEqual([2, `mtflow: parameter on: ${typed} declares it as boolean; received 1 (expected true or false)\n`])
    expect(existsSync(join(dir, 'typed-1.ipynb'))).toBe(false)
    // s=007 reads as a number: a string parameter takes the text as typed.
    const out = join(dir, 'typed-ok.ipynb')
    const ok = await runCli(['notebook', 'run', typed, '-p', 's=007', '-p', 'k=4.5', '-p', 'on=true', '--out', out, '--no-progress'])
    expect(ok.code, ok.stderr).toBe(0)
    const shown = (JSON.parse(readFileSync(out, 'utf8')) as Notebook).cells.find((c) => c.id === 'show')!.outputs![0] as { text: string[] }
    expect(shown.text.join('')).toBe('[4.5,true,"007"]\n')
  })
})

describe('mtflow notebook run -f', () => {
  it('injects a YAML file’s values, -p over them, and warns about a parameter the notebook does not declare', async () => {
    const yaml = join(dir, 'p.yaml')
    writeFileSync(yaml, "# the run's parameters\nstart: 2010-01-01\nn: 5   # overridden by -p\nratio: '0.25'\nbogus: x\n")
    const out = join(dir, 'out.ipynb')
    const r = await runCli(['notebook', 'run', NB, '-f', yaml, '-p', 'n=7', '--out', out, '--no-progress'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe(
      'mtflow: warning: passed unknown parameter: bogus (the notebook declares start, n, ratio, flags, opts, flag, none, later, when)\n' +
        `mtflow: warning: parameter ratio is given "0.25", where ${NB}'s default is a number; injected as given\n`,
    )
    const nb = JSON.parse(readFileSync(out, 'utf8')) as Notebook
    const shown = nb.cells.find((c) => c.id === 'show')!.outputs![0] as { text: string[] }
    // ratio: a quoted YAML value is a string, injected as one.
    expect(shown.text.join('')).toBe('["2010-01-01",7,"0.25"]\n')
  })

  it('a JSON file works the same; a bad file is one line naming it, exit 2, nothing written', async () => {
    const json = join(dir, 'p.json')
    writeFileSync(json, JSON.stringify({ start: '2011-02-03', n: 2 }))
    const out = join(dir, 'json-out.ipynb')
    const ok = await runCli(['notebook', 'run', NB, '-f', json, '--out', out, '--no-progress'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr).toBe('')
    expect(((JSON.parse(readFileSync(out, 'utf8')) as Notebook).cells.find((c) => c.id === 'show')!.outputs![0] as { text: string[] }).text.join('')).toBe('["2011-02-03",2,-0.5]\n')
    const bad: [string, string, RegExp][] = [
      ['nested.yaml', 'start: 2010\nopts:\n  a: 1\n', /^mtflow: parameters file .*nested\.yaml line 3: indented lines .* are not read; only flat key: value lines$/],
      ['list.yml', 'xs: [1, 2]\n', /^mtflow: parameters file .*list\.yml line 1: lists, maps, anchors, tags and block scalars are not read .*use a \.json file$/],
      ['twice.yaml', 'a: 1\na: 2\n', /^mtflow: parameters file .*twice\.yaml line 2: a is given twice$/],
      ['array.json', '[1, 2]', /^mtflow: parameters file .*array\.json must hold a JSON object of name: value \(received an array\)$/],
      ['broken.json', '{"a": ', /^mtflow: parameters file .*broken\.json is not JSON: /],
      ['badname.json', '{"not a name": 1}', /^mtflow: parameters file .*badname\.json: parameter name "not a name" is not a usable TypeScript identifier$/],
      ['params.txt', 'a=1', /^mtflow: parameters file .*params\.txt must end in \.json, \.yaml or \.yml$/],
      // An empty value is null: refused for a string parameter (a new-user review: it ran and failed later), taken for one declared null.
      ['empty.yaml', 'start:\nnone:\n', /^mtflow: parameter start has no value \(null: an empty value in a parameters file\?\); .*params\.ipynb declares it as string$/],
    ]
    for (const [name, text] of bad) writeFileSync(join(dir, name), text)
    // One process for the refusals (they are main's, not the process's); the notebook never starts.
    const results = await runCliBatch(bad.map(([name]) => ['notebook', 'run', NB, '-f', join(dir, name), '--out', join(dir, `${name}.out.ipynb`)]))
    for (const [i, [name, , message]] of bad.entries()) {
      const target = join(dir, `${name}.out.ipynb`)
      const r = results[i]!
      expect(r.code, name).toBe(2)
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1)
      expect(r.stderr.trim(), name).toMatch(message)
      expect(existsSync(target)).toBe(false)
    }
    const absent = await runCli(['notebook', 'run', NB, '-f', join(dir, 'absent.json')])
    expect(absent.code).toBe(2)
    expect(absent.stderr).toMatch(/^mtflow: parameters file .*absent\.json does not exist\n$/)
  })

  it('reads YAML scalars as YAML does: plain, quoted, numbers, booleans, null', () => {
    expect(parseFlatYaml("a: plain text\nb: \"q\\\"d\"\nc: 'it''s'\nd: -1.5e3\ne: True\nf: ~\ng:\n'h i': 2\n", 'x.yaml')).toEqual({ a: 'plain text', b: 'q"d', c: "it's", d: -1500, e: true, f: null, g: null, 'h i': 2 })
  })
})
