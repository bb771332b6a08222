// The run search language (MLflow's, with OR and parentheses):
//   metrics.sharpe > 1 and (params.fast = "10" or tags.mtflow.kind = "sweep")
// Keys: metrics.<name>, params.<name>, tags.<name>, attributes.<name> (status, name, run_id, experiment,
// parent_run_id, start_time, end_time, duration); a name with other characters goes in "…" or `…`.
// Operators: = != < <= > >= like ilike (% and _ wildcards), in (…), not in (…), is null, is not null;
// combined with and, or, not and parentheses. Errors point at the position in the filter.

import { ConfigError, ownValue } from '../core/index.js'
import type { RunSummary } from './types.js'

export type KeyKind = 'metrics' | 'params' | 'tags' | 'attributes'

export interface Key {
  kind: KeyKind
  name: string
}

type Literal = number | string

export type FilterNode =
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'not'; operand: FilterNode }
  | { type: 'compare'; key: Key; op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'like' | 'ilike'; value: Literal }
  | { type: 'in'; key: Key; values: Literal[]; negate: boolean }
  | { type: 'null'; key: Key; negate: boolean }

/** A malformed filter or order-by: the message names the position (0-based) and what was expected. */
export class FilterError extends ConfigError {
  constructor(
    readonly source: string,
    readonly position: number,
    expected: string,
  ) {
    const found = position >= source.length ? 'the end' : JSON.stringify(source.slice(position, position + 12))
    super(`invalid filter at position ${position}: expected ${expected}, found ${found} (in ${JSON.stringify(source)})`)
  }
}

const KIND_ALIASES: Record<string, KeyKind> = {
  metric: 'metrics',
  metrics: 'metrics',
  param: 'params',
  params: 'params',
  parameter: 'params',
  parameters: 'params',
  tag: 'tags',
  tags: 'tags',
  attribute: 'attributes',
  attributes: 'attributes',
  attr: 'attributes',
  run: 'attributes',
}

const ATTRIBUTES: Record<string, string> = {
  status: 'status',
  name: 'name',
  run_name: 'name',
  run_id: 'run_id',
  id: 'run_id',
  experiment: 'experiment',
  experiment_id: 'experiment',
  parent_run_id: 'parent_run_id',
  start_time: 'start_time',
  end_time: 'end_time',
  duration: 'duration',
}
const TIME_ATTRIBUTES = new Set(['start_time', 'end_time', 'duration'])

type Token = { kind: 'word' | 'string' | 'number' | 'op' | 'punct'; text: string; value?: string | number; at: number }

function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    const at = i
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1
      let text = ''
      while (j < source.length && source[j] !== c) {
        if (source[j] === '\\' && j + 1 < source.length) j++
        text += source[j]
        j++
      }
      if (j >= source.length) throw new FilterError(source, at, `a closing ${c}`)
      tokens.push({ kind: c === '`' ? 'word' : 'string', text: source.slice(at, j + 1), value: text, at })
      i = j + 1
      continue
    }
    const op = /^(<=|>=|!=|<>|==|=|<|>)/.exec(source.slice(i))
    if (op !== null) {
      tokens.push({ kind: 'op', text: op[1] === '<>' ? '!=' : op[1] === '==' ? '=' : op[1]!, at })
      i += op[1]!.length
      continue
    }
    if (c === '(' || c === ')' || c === ',' || c === '.') {
      // A "." between a key kind and its name; a number like .5 is read below.
      if (c === '.' && /[0-9]/.test(source[i + 1] ?? '') && !(tokens.length > 0 && tokens[tokens.length - 1]!.kind === 'word')) {
        /* fall through to the number rule */
      } else {
        tokens.push({ kind: 'punct', text: c, at })
        i++
        continue
      }
    }
    const num = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i.exec(source.slice(i))
    if (num !== null && !(tokens.length > 0 && tokens[tokens.length - 1]!.text === '.')) {
      tokens.push({ kind: 'number', text: num[0], value: Number(num[0]), at })
      i += num[0].length
      continue
    }
    const word = /^[\w:/-]+/.exec(source.slice(i))
    if (word === null) throw new FilterError(source, at, 'a key, an operator or a value')
    tokens.push({ kind: 'word', text: word[0], value: word[0], at })
    i += word[0].length
  }
  return tokens
}

class Parser {
  private i = 0
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i]
  }
  private at(): number {
    return this.peek()?.at ?? this.source.length
  }
  private isWord(word: string): boolean {
    const t = this.peek()
    return t !== undefined && t.kind === 'word' && t.text.toLowerCase() === word
  }
  private expect(kind: Token['kind'], text: string | undefined, expected: string): Token {
    const t = this.peek()
    if (t === undefined || t.kind !== kind || (text !== undefined && t.text !== text)) throw new FilterError(this.source, this.at(), expected)
    this.i++
    return t
  }

  parseFilter(): FilterNode {
    const node = this.parseOr()
    if (this.peek() !== undefined) throw new FilterError(this.source, this.at(), 'and, or, or the end of the filter')
    return node
  }

  private parseOr(): FilterNode {
    let left = this.parseAnd()
    while (this.isWord('or')) {
      this.i++
      left = { type: 'or', left, right: this.parseAnd() }
    }
    return left
  }

  private parseAnd(): FilterNode {
    let left = this.parseNot()
    while (this.isWord('and')) {
      this.i++
      left = { type: 'and', left, right: this.parseNot() }
    }
    return left
  }

  private parseNot(): FilterNode {
    if (this.isWord('not')) {
      this.i++
      return { type: 'not', operand: this.parseNot() }
    }
    if (this.peek()?.text === '(' && this.peek()?.kind === 'punct') {
      this.i++
      const inner = this.parseOr()
      this.expect('punct', ')', 'a closing )')
      return inner
    }
    return this.parseComparison()
  }

  parseKey(): Key {
    const t = this.peek()
    if (t === undefined || t.kind !== 'word') throw new FilterError(this.source, this.at(), 'a key such as metrics.sharpe, params.fast, tags.mtflow.kind or attributes.status')
    const kind = ownValue(KIND_ALIASES, t.text.toLowerCase())
    if (kind === undefined || t.text.startsWith('`')) throw new FilterError(this.source, t.at, 'a key starting with metrics., params., tags. or attributes.')
    this.i++
    this.expect('punct', '.', `a "." and a name after ${t.text}`)
    // The name: a quoted name, or words joined by dots (tags.mtflow.strategy.sha256).
    const first = this.peek()
    if (first === undefined || (first.kind !== 'word' && first.kind !== 'string' && first.kind !== 'number')) throw new FilterError(this.source, this.at(), `a name after ${t.text}.`)
    this.i++
    let name = String(first.value ?? first.text)
    if (first.kind !== 'string' && !first.text.startsWith('`')) {
      while (this.peek()?.text === '.' && this.peek()?.kind === 'punct' && ['word', 'number'].includes(this.tokens[this.i + 1]?.kind ?? '')) {
        name += `.${this.tokens[this.i + 1]!.text}`
        this.i += 2
      }
    }
    if (kind === 'attributes') {
      const canonical = ownValue(ATTRIBUTES, name.toLowerCase())
      if (canonical === undefined) throw new FilterError(this.source, first.at, `an attribute (${Object.keys(ATTRIBUTES).join(', ')})`)
      name = canonical
    }
    return { kind, name }
  }

  private parseValue(key: Key): Literal {
    const t = this.peek()
    if (t === undefined || (t.kind !== 'string' && t.kind !== 'number')) throw new FilterError(this.source, this.at(), key.kind === 'metrics' ? 'a number' : 'a quoted string or a number')
    this.i++
    if (key.kind === 'metrics' && t.kind !== 'number') throw new FilterError(this.source, t.at, `a number (metrics.${key.name} is numeric)`)
    if (key.kind === 'attributes' && TIME_ATTRIBUTES.has(key.name) && t.kind === 'string') {
      const ms = Date.parse(String(t.value))
      if (Number.isNaN(ms)) throw new FilterError(this.source, t.at, `a time (epoch ms or an ISO date) for attributes.${key.name}`)
      return ms
    }
    return t.value!
  }

  private parseComparison(): FilterNode {
    const key = this.parseKey()
    if (this.isWord('is')) {
      this.i++
      const negate = this.isWord('not')
      if (negate) this.i++
      if (!this.isWord('null')) throw new FilterError(this.source, this.at(), 'null after is / is not')
      this.i++
      return { type: 'null', key, negate }
    }
    const negateIn = this.isWord('not')
    if (negateIn) this.i++
    if (this.isWord('in')) {
      this.i++
      this.expect('punct', '(', 'a ( opening the list after in')
      const values = [this.parseValue(key)]
      while (this.peek()?.text === ',') {
        this.i++
        values.push(this.parseValue(key))
      }
      this.expect('punct', ')', 'a , or a closing ) in the list')
      return { type: 'in', key, values, negate: negateIn }
    }
    if (negateIn) throw new FilterError(this.source, this.at(), 'in after not')
    const t = this.peek()
    let op: Extract<FilterNode, { type: 'compare' }>['op']
    if (t !== undefined && t.kind === 'op') op = t.text as typeof op
    else if (this.isWord('like') || this.isWord('ilike')) op = t!.text.toLowerCase() as 'like' | 'ilike'
    else throw new FilterError(this.source, this.at(), 'an operator (=, !=, <, <=, >, >=, like, ilike, in, is)')
    this.i++
    const value = this.parseValue(key)
    if ((op === 'like' || op === 'ilike') && typeof value !== 'string') throw new FilterError(this.source, this.tokens[this.i - 1]!.at, `a quoted pattern after ${op}`)
    if ((op === 'like' || op === 'ilike') && (value as string).length > MAX_LIKE_PATTERN) throw new FilterError(this.source, this.tokens[this.i - 1]!.at, `a pattern of at most ${MAX_LIKE_PATTERN} characters after ${op} (this one has ${(value as string).length})`)
    return { type: 'compare', key, op, value }
  }

  atEnd(): boolean {
    return this.peek() === undefined
  }
  /** Where the next token starts (the source's length at its end). */
  position(): number {
    return this.at()
  }
  direction(): 'asc' | 'desc' {
    if (this.isWord('desc')) {
      this.i++
      return 'desc'
    }
    if (this.isWord('asc')) this.i++
    return 'asc'
  }
}

export function parseFilter(source: string): FilterNode | undefined {
  if (typeof source !== 'string') throw new ConfigError(`a filter must be a string (received ${typeof source})`)
  if (source.trim() === '') return undefined
  return new Parser(source, tokenize(source)).parseFilter()
}

export interface OrderKey {
  key: Key
  direction: 'asc' | 'desc'
}

/** "metrics.sharpe desc", "attributes.start_time" … (ascending unless desc). */
export function parseOrderBy(source: string): OrderKey {
  const parser = new Parser(source, tokenize(source))
  const key = parser.parseKey()
  const direction = parser.direction()
  if (!parser.atEnd()) throw new FilterError(source, parser.position(), 'asc, desc or the end of the order-by')
  return { key, direction }
}

/** The value a key has on a run: a number for metrics and times, a string otherwise, undefined when absent. */
export function keyValue(run: RunSummary, key: Key, now = Date.now()): number | string | undefined {
  switch (key.kind) {
    case 'metrics':
      return ownValue(run.metrics, key.name)?.value
    case 'params':
      return ownValue(run.params, key.name)
    case 'tags':
      return ownValue(run.tags, key.name)
    case 'attributes': {
      const info = run.info
      switch (key.name) {
        case 'status':
          return info.status
        case 'name':
          return info.name
        case 'run_id':
          return info.runId
        case 'experiment':
          return info.experimentId
        case 'parent_run_id':
          return info.parentRunId
        case 'start_time':
          return info.startTime
        case 'end_time':
          return info.endTime
        case 'duration':
          return (info.endTime ?? now) - info.startTime
      }
    }
  }
  return undefined
}

/** The keys a filter reads, each once, in the order they appear. */
export function filterKeys(node: FilterNode | undefined): Key[] {
  const out: Key[] = []
  const walk = (n: FilterNode | undefined): void => {
    if (n === undefined) return
    switch (n.type) {
      case 'and':
      case 'or':
        walk(n.left)
        walk(n.right)
        return
      case 'not':
        return walk(n.operand)
      default: {
        const key = n.key
        if (!out.some((k) => k.kind === key.kind && k.name === key.name)) out.push(key)
      }
    }
  }
  walk(node)
  return out
}

/**
 * Whether a search with this filter and order-by reads the clock: a RUNNING run's attributes.duration is
 * now − its start. A search that does not gives the same answer until the runs change, so it can be
 * kept (the server's caches); a malformed one counts as reading it (nothing is kept for it).
 */
export function searchReadsClock(filter: string, orderBy: readonly string[]): boolean {
  try {
    const keys = [...filterKeys(parseFilter(filter)), ...orderBy.map((o) => parseOrderBy(o).key)]
    return keys.some((k) => k.kind === 'attributes' && k.name === 'duration')
  } catch {
    return true
  }
}

export function compileFilter(node: FilterNode | undefined): (run: RunSummary) => boolean {
  if (node === undefined) return () => true
  const now = Date.now()
  const test = (n: FilterNode, run: RunSummary): boolean => {
    switch (n.type) {
      case 'and':
        return test(n.left, run) && test(n.right, run)
      case 'or':
        return test(n.left, run) || test(n.right, run)
      case 'not':
        return !test(n.operand, run)
      case 'null': {
        const v = keyValue(run, n.key, now)
        return (v === undefined) !== n.negate
      }
      case 'in': {
        const v = keyValue(run, n.key, now)
        if (v === undefined) return false
        return n.values.some((x) => compare(v, '=', x)) !== n.negate
      }
      case 'compare': {
        const v = keyValue(run, n.key, now)
        return v !== undefined && compare(v, n.op, n.value)
      }
    }
  }
  return (run) => test(node, run)
}

/**
 * One comparison. Numbers compare as numbers (NaN matches nothing but !=); a string that reads as a number
 * against a number literal compares as a number (params.fast > 5), else as text.
 */
function compare(stored: number | string, op: Extract<FilterNode, { type: 'compare' }>['op'], literal: Literal): boolean {
  if (op === 'like' || op === 'ilike') {
    const insensitive = op === 'ilike'
    return likePattern(String(literal), insensitive).test(insensitive ? foldCase(String(stored)) : String(stored))
  }
  let a: number | string = stored
  let b: number | string = literal
  if (typeof literal === 'number' || typeof stored === 'number') {
    const na = typeof stored === 'number' ? stored : numeric(stored)
    const nb = typeof literal === 'number' ? literal : numeric(literal)
    if (na !== undefined && nb !== undefined) {
      a = na
      b = nb
    } else {
      a = String(stored)
      b = String(literal)
    }
  }
  switch (op) {
    case '=':
      return a === b
    case '!=':
      return a !== b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '>':
      return a > b
    case '>=':
      return a >= b
  }
}

function numeric(text: string): number | undefined {
  if (text.trim() === '') return undefined
  const n = Number(text)
  return Number.isNaN(n) && text !== 'NaN' ? undefined : n
}

/**
 * A LIKE pattern (% any run of characters, _ any one UTF-16 unit, as SQL) compiled for matching in time
 * linear in the text. It was a regular expression (% as .*), whose backtracking took seconds for a dozen %
 * against a text that does not match — 44 s for 14, one request stalling the whole server — and whose cache
 * of compiled expressions had no bound (a stream of distinct long patterns ran the process out of memory).
 * Now: the pieces between the %s, the first held at the start and the last at the end, the others each found
 * at its leftmost place after the one before (leftmost is never worse for what follows), by bit-parallel
 * Shift-And (_ matches any unit). At most 64 compiled patterns are kept.
 */
const likeCache = new Map<string, LikePattern>()
const LIKE_CACHE = 64
/** The longest like pattern (UTF-16 units): a piece's bits are its length / 32 words of work per character searched. */
export const MAX_LIKE_PATTERN = 500

/**
 * Case folded one UTF-16 unit at a time, as a regular expression's /i without /u compares (each unit upper-cased
 * when that is one unit and does not turn a non-ASCII letter into ASCII): ΟΔΟΣ ilike '%ς' as before, and a
 * unit never becomes two (İ lower-cased is two units and moved every _ after it).
 */
function foldCase(text: string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    let folded = c
    if (c >= 0x61 && c <= 0x7a) folded = c - 32
    else if (c >= 0x80) {
      const u = String.fromCharCode(c).toUpperCase()
      if (u.length === 1 && u.charCodeAt(0) >= 0x80) folded = u.charCodeAt(0)
    }
    if (folded !== c) {
      out += text.slice(from, i) + String.fromCharCode(folded)
      from = i + 1
    }
  }
  return from === 0 ? text : out + text.slice(from)
}

function likePattern(pattern: string, insensitive: boolean): LikePattern {
  const id = `${insensitive ? 'i' : 's'}${pattern}`
  let compiled = likeCache.get(id)
  if (compiled === undefined) {
    compiled = new LikePattern(insensitive ? foldCase(pattern) : pattern)
    if (likeCache.size >= LIKE_CACHE) likeCache.delete(likeCache.keys().next().value!)
    likeCache.set(id, compiled)
  }
  return compiled
}

/** One piece of a LIKE pattern between two %: its text, and per UTF-16 unit the bits of the places it may stand at (Shift-And). */
class LikePiece {
  readonly words: number
  readonly any: Uint32Array
  readonly masks = new Map<number, Uint32Array>()
  /** No _: found by the engine's string search. */
  readonly plain: boolean

  constructor(readonly text: string) {
    this.plain = !text.includes('_')
    this.words = Math.ceil(text.length / 32)
    this.any = new Uint32Array(this.words)
    for (let j = 0; j < text.length; j++) if (text[j] === '_') this.any[j >>> 5]! |= 1 << (j & 31)
    for (let j = 0; j < text.length; j++) {
      if (text[j] === '_') continue
      const unit = text.charCodeAt(j)
      let mask = this.masks.get(unit)
      if (mask === undefined) this.masks.set(unit, (mask = Uint32Array.from(this.any)))
      mask[j >>> 5]! |= 1 << (j & 31)
    }
  }

  /** Whether the piece matches text at `at` (each unit equal, or _). */
  at(text: string, at: number): boolean {
    for (let j = 0; j < this.text.length; j++) if (this.text[j] !== '_' && this.text.charCodeAt(j) !== text.charCodeAt(at + j)) return false
    return true
  }

  /** The leftmost place ≥ from where the piece matches and ends by `end`, or −1: one pass over the text. */
  find(text: string, from: number, end: number): number {
    const m = this.text.length
    if (end - from < m) return -1
    if (this.plain) {
      const at = text.indexOf(this.text, from)
      return at >= 0 && at + m <= end ? at : -1
    }
    const state = new Uint32Array(this.words)
    const last = this.words - 1
    const top = 1 << ((m - 1) & 31)
    for (let i = from; i < end; i++) {
      const mask = this.masks.get(text.charCodeAt(i)) ?? this.any
      // state = ((state << 1) | 1) & mask, across the words.
      let carry = 1
      for (let w = 0; w < this.words; w++) {
        const v = state[w]!
        state[w] = ((v << 1) | carry) & mask[w]!
        carry = v >>> 31
      }
      if ((state[last]! & top) !== 0) return i - m + 1
    }
    return -1
  }
}

class LikePattern {
  private readonly pieces: LikePiece[]
  private readonly wildcard: boolean

  constructor(pattern: string) {
    this.pieces = pattern.split('%').map((p) => new LikePiece(p))
    this.wildcard = this.pieces.length > 1
  }

  test(text: string): boolean {
    const pieces = this.pieces
    const first = pieces[0]!
    if (!this.wildcard) return text.length === first.text.length && first.at(text, 0)
    const last = pieces[pieces.length - 1]!
    const end = text.length - last.text.length
    if (end < first.text.length || !first.at(text, 0) || !last.at(text, end)) return false
    let at = first.text.length
    for (let k = 1; k < pieces.length - 1; k++) {
      const piece = pieces[k]!
      if (piece.text.length === 0) continue
      const found = piece.find(text, at, end)
      if (found < 0) return false
      at = found + piece.text.length
    }
    return true
  }
}
