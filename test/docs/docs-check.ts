// What the docs may claim, checked against the repository: relative links (and their #anchors) name files and
// headings that exist, backticked repository paths exist, and every `mtflow VERB [SUBVERB] --flag` shown names
// a verb, sub-verb and flag that the CLI's own --help lists. Used by docs-claims.test.ts.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { Command } from 'commander'

/** README.md and the guides beside the code, as paths relative to the root. */
export function docFiles(root: string): string[] {
  const guides = readdirSync(join(root, 'lib'))
    .map((name) => join('lib', name, 'README.md'))
    .filter((path) => existsSync(join(root, path)))
  return ['README.md', 'lib/README.md', 'notebooks/README.md', 'kernel/README.md', 'test/bench/README.md', ...guides.sort()].filter((path) => existsSync(join(root, path)))
}

/** The text with fenced code blocks blanked (line numbers kept), and the fenced blocks themselves. */
export function splitFences(text: string): { prose: string[]; fenced: { line: number; text: string }[] } {
  const prose: string[] = []
  const fenced: { line: number; text: string }[] = []
  let inFence = false
  text.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) {
      inFence = !inFence
      prose.push('')
      return
    }
    if (inFence) {
      fenced.push({ line: i + 1, text: line })
      prose.push('')
    } else prose.push(line)
  })
  return { prose, fenced }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const line of splitFences(text).prose) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (m === null) continue
    const plain = m[1]!.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const base = plain.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Inline code spans of the prose (a span may cross a line break), with the line each starts on. */
export function codeSpans(prose: string[]): { line: number; start: number; end: number; code: string }[] {
  const text = prose.join('\n')
  const starts = [0]
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1)
  const lineOf = (offset: number) => {
    let lo = 0
    while (lo + 1 < starts.length && starts[lo + 1]! <= offset) lo++
    return lo + 1
  }
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => {
    const start = m.index ?? 0
    return { line: lineOf(start), start, end: start + m[0].length, code: m[1]!.replace(/\s*\n\s*/g, ' ') }
  })
}

/** Relative links whose file, or whose #anchor in that file, does not exist. */
export function brokenLinks(root: string, doc: string, text: string): string[] {
  const problems: string[] = []
  const { prose } = splitFences(text)
  // Links inside code spans are text, not links: blank the spans (newlines kept, so line numbers hold).
  let plain = prose.join('\n')
  for (const span of codeSpans(prose)) plain = plain.slice(0, span.start) + plain.slice(span.start, span.end).replace(/[^\n]/g, ' ') + plain.slice(span.end)
  plain.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
      const [path, anchor] = target.split('#', 2) as [string, string | undefined]
      const where = `${doc}:${i + 1}: ${target}`
      if (path === '') {
        if (!anchors(text).has(anchor ?? '')) problems.push(`${where} (no such heading)`)
        continue
      }
      const file = resolve(root, dirname(doc), decodeURI(path))
      if (relative(root, file).startsWith('..')) problems.push(`${where} leaves the repository`)
      else if (!existsSync(file)) problems.push(`${where} (no such file)`)
      else if (anchor !== undefined && anchor !== '') {
        if (!statSync(file).isFile() || !anchors(readFileSync(file, 'utf8')).has(anchor)) problems.push(`${where} (no such heading)`)
      }
    }
  })
  return problems
}

/** Backticked paths of the repository (`lib/…`, `test/…`, …; relative to the root) that do not exist. */
export function missingPaths(root: string, doc: string, text: string): string[] {
  const problems: string[] = []
  for (const span of codeSpans(splitFences(text).prose)) {
    const m = /^((?:lib|kernel|notebooks|dashboards|test|data\/samples)\/\S*)$/.exec(span.code)
    if (m === null) continue
    const path = m[1]!
    if (/[<>*…{}|]|\.\.\.|[A-Z]{3,}/.test(path)) continue // a pattern or a placeholder, not one file
    if (!existsSync(join(root, path.replace(/[#:].*$/, '')))) problems.push(`${doc}:${span.line}: ${path}`)
  }
  return problems
}

export interface ShownCommand {
  where: string
  text: string
  /** `|` separates alternatives (a table's `list \| show`), not a shell pipe. */
  alternatives: boolean
}

/** Every `mtflow …` command the doc shows: in fenced blocks (continuation lines joined, a shell comment or
 *  pipe ends it) and in inline code spans that start with `mtflow` or `npx mtflow`. */
export function shownCommands(doc: string, text: string): ShownCommand[] {
  const out: ShownCommand[] = []
  const { prose, fenced } = splitFences(text)
  for (let k = 0; k < fenced.length; k++) {
    const start = fenced[k]!.line
    let line = fenced[k]!.text
    while (/\\\s*$/.test(line) && k + 1 < fenced.length && fenced[k + 1]!.line === fenced[k]!.line + 1) line = line.replace(/\\\s*$/, ' ') + fenced[++k]!.text.trimStart()
    for (const m of line.matchAll(/(?:^|[\s(`'";])(?:npx\s+)?mtflow\s+([^\n]*)/g)) {
      const rest = m[1]!.split(/\s#\s|\s\|\s|\s{3,}|\)|;/)[0]!
      out.push({ where: `${doc}:${start}`, text: rest, alternatives: false })
    }
  }
  for (const span of codeSpans(prose)) {
    const m = /^(?:npx\s+)?mtflow\s+(.*)$/.exec(span.code)
    if (m !== null) out.push({ where: `${doc}:${span.line}`, text: m[1]!.replace(/\\\|/g, '|'), alternatives: true })
  }
  return out
}

const WORD = /^[a-z][a-z0-9-]*$/

/** What a shown command names that the CLI lacks: a verb, a sub-verb, or a --flag missing from --help. */
export function unknownInCommand(program: Command, shown: ShownCommand, help: (cmd: Command) => string): string[] {
  const problems: string[] = []
  const tokens = shown.text
    .trim()
    .split(/\s+/)
    .map((t) => t.replace(/[),:;.]+$/, ''))
    .filter((t) => t !== '')
  const lineage = (cmd: Command): Command[] => (cmd.parent === null ? [cmd] : [cmd, ...lineage(cmd.parent)])
  const flagOk = (cmd: Command, flag: string) => lineage(cmd).some((c) => new RegExp(`(^|[\\s,\\[|])${flag}(?![\\w-])`, 'm').test(help(c)))
  let k = 0
  // Global options before the verb.
  while (k < tokens.length && tokens[k]!.startsWith('-')) {
    const flag = /--?[a-zA-Z][\w-]*/.exec(tokens[k]!)?.[0]
    if (flag !== undefined && !flagOk(program, flag)) problems.push(`${shown.where}: mtflow ${flag} (not in mtflow --help)`)
    k += tokens[k] === '--home' ? 2 : 1
  }
  const verbName = tokens[k]
  if (verbName === undefined || !WORD.test(verbName)) return problems // `mtflow <verb>`: a placeholder
  const verb = program.commands.find((c) => c.name() === verbName || c.aliases().includes(verbName))
  if (verb === undefined) return [...problems, `${shown.where}: mtflow ${verbName} (no such verb)`]
  let current: Command = verb
  const subverb = (word: string): boolean => {
    for (const name of word.split('|')) {
      const sub = verb.commands.find((c) => c.name() === name || c.aliases().includes(name))
      if (sub === undefined) {
        problems.push(`${shown.where}: mtflow ${verbName} ${name} (no such sub-verb)`)
        return false
      }
      current = sub
    }
    return true
  }
  const takesArguments = verb.registeredArguments.length > 0
  for (k = k + 1; k < tokens.length; k++) {
    const token = tokens[k]!
    const first = k === tokens.indexOf(verbName) + 1
    const afterBar = shown.alternatives && tokens[k - 1] === '|'
    if (verb.commands.length > 0 && (first || afterBar) && token.split('|').every((w) => WORD.test(w))) {
      const known = token.split('|').every((w) => verb.commands.some((c) => c.name() === w))
      if (known || !takesArguments) subverb(token)
      continue
    }
    for (const flag of token.match(/(?<![\w-])--[a-zA-Z][\w-]*/g) ?? []) {
      if (!flagOk(current, flag)) problems.push(`${shown.where}: mtflow ${lineage(current).reverse().slice(1).map((c) => c.name()).join(' ')} ${flag} (not in its --help)`)
    }
  }
  return problems
}
