// Append-only JSON-lines files: the tracker's metric history, params, tags and run indexes.
// Each append is one write(2) of "\n<record>\n" on an O_APPEND descriptor, so concurrent appenders never
// interleave, and a record cut short by a crash can neither swallow the next one (the leading newline)
// nor be read as half of itself (a reader takes whole lines, and an unterminated tail only if it parses).

import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CorruptFileError, DataError, NotFoundError } from '../core/index.js'

// Torn records vs corruption, exactly: every complete append ends in "\n", so a file whose last byte is not
// "\n" ends in a torn record, or in a whole one that lost only its "\n" (kept: it parses as an object, which
// no proper prefix of a record does). The next appender sees that (it reads the last byte before writing) and
// puts the marker line {"#torn":1} first, in the same write. A reader therefore counts an unparseable line as
// torn when it is the unterminated tail or is followed (past blank lines) by the marker; any other
// unparseable line is corruption, a DataError naming the file and line, never skipped. A spurious marker (a
// concurrent append was half visible when the last byte was read, or the tail was whole) follows a parseable
// line and means nothing. The one case left: a crash tearing a record while another process is between its
// last-byte check and its write leaves the torn line unmarked, read as corruption (named by the error and by
// mtflow doctor) — never as a silent drop. readRecords and countTorn apply this rule alike.

/** The line an appender writes before its records when the file ends in a torn record. */
export const TORN_MARK = '{"#torn":1}'

export interface AppendOptions {
  /** fsync before returning (a journal whose next step must not happen unless this one is on disk). */
  durable?: boolean
  /**
   * Append only inside an existing folder that holds this file (a run folder's run.json): the folder is never
   * created, and a file created by this append is checked for it. Either missing is a NotFoundError (a run gc
   * removed; recreating its folder would take writes nobody can read). The check costs a stat only when the
   * file is new (empty): a missing folder shows as the open's ENOENT (O_CREAT makes no folder).
   */
  within?: string
}

export function appendRecords(path: string, records: readonly unknown[], options: AppendOptions = {}): void {
  if (records.length === 0) return
  let text = ''
  for (const r of records) text += recordLine(r)
  appendText(path, text, options.durable === true, options.within)
}

/** One record as written: a newline, the JSON, a newline. */
export function recordLine(record: unknown): string {
  return `\n${JSON.stringify(record, encodeNumbers)}\n`
}

const lastByte = Buffer.alloc(1)

function appendText(path: string, text: string, durable: boolean, within?: string): void {
  let fd: number
  try {
    // 'a+' (O_APPEND | O_RDWR): writes still go to the end; the read is of the last byte only.
    fd = openSync(path, 'a+', 0o644)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
    if (within !== undefined) throw new NotFoundError(`${dirname(path)} is gone`, { cause: error })
    mkdirSync(dirname(path), { recursive: true })
    fd = openSync(path, 'a+', 0o644)
  }
  try {
    const size = fstatSync(fd).size
    // A new file in a folder without its marker (a folder recreated by an older writer after gc): nothing is written.
    if (size === 0 && within !== undefined && !existsSync(join(dirname(path), within))) throw new NotFoundError(`${dirname(path)} has no ${within}`)
    if (size > 0 && readSync(fd, lastByte, 0, 1, size - 1) === 1 && lastByte[0] !== 10) text = `\n${TORN_MARK}\n${text}`
    const bytes = Buffer.from(text, 'utf8')
    let offset = 0
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
    if (durable) fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export interface ReadResult<T> {
  records: T[]
  /** Byte offset just past the last record read: where an incremental reader continues. */
  end: number
  /** The file's inode: a compaction (atomic rewrite) changes it, an append does not. */
  ino: number
  /**
   * Records torn by a crash in what was read: unparseable lines followed by the torn marker, plus an
   * unparseable unterminated tail (which may also be an append being written this instant).
   */
  torn: number
  /** The file's first `head` bytes (fewer when it is shorter), when asked for. */
  head?: Buffer
}

export interface ReadOptions {
  /** Skip decoding the encoded values (the caller decodes the fields that can hold them, with decodeValue). */
  raw?: boolean
  /** Return the file's first this many bytes as `head`, read through the same descriptor as the records. */
  head?: number
  /**
   * The head an earlier read returned: a file that no longer starts with it is another file under the same
   * inode number (a rewrite renamed in, its inode freed and reused by a later rewrite), whose byte `from`
   * means nothing. Nothing is read then: the result has no records and `end` 0, so the caller starts over.
   */
  expectHead?: Uint8Array
}

/**
 * The complete records from byte `from` on (a missing file reads as empty). `raw` skips decoding the
 * encoded values (the caller decodes the fields that can hold them, with decodeValue). A line that is
 * neither JSON nor a torn record is a DataError naming the file.
 */
export function readRecords<T>(path: string, from = 0, options: ReadOptions = {}): ReadResult<T> {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { records: [], end: 0, ino: -1, torn: 0 }
    throw error
  }
  try {
    const info = fstatSync(fd)
    const headBytes = Math.max(options.head ?? 0, options.expectHead?.length ?? 0)
    const head = headBytes > 0 ? readHead(fd, Math.min(headBytes, info.size)) : undefined
    const withHead = (r: ReadResult<T>): ReadResult<T> => (options.head === undefined ? r : { ...r, head: head!.subarray(0, Math.min(options.head, head!.length)) })
    if (options.expectHead !== undefined && !head!.subarray(0, options.expectHead.length).equals(options.expectHead)) return withHead({ records: [], end: 0, ino: info.ino, torn: 0 })
    if (info.size <= from) return withHead({ records: [], end: Math.min(from, info.size), ino: info.ino, torn: 0 })
    const buffer = readFd(fd, from)
    const raw = options.raw === true
    const last = buffer.lastIndexOf(10)
    const tail = tailOf(buffer.toString('utf8', last + 1), raw)
    const parsed = last < 0 ? { records: [] as T[], torn: 0 } : parseLines<T>(buffer.toString('utf8', 0, last), raw, path, from, tail.kind === 'mark')
    if (tail.kind === 'record') parsed.records.push(tail.record as T)
    const end = from + (tail.kind === 'record' ? buffer.length : last + 1)
    return withHead({ records: parsed.records, end, ino: info.ino, torn: parsed.torn + (tail.kind === 'record' ? 0 : tail.torn) })
  } finally {
    closeSync(fd)
  }
}

function readHead(fd: number, length: number): Buffer {
  const head = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const n = readSync(fd, head, got, length - got, got)
    if (n === 0) break
    got += n
  }
  return head.subarray(0, got)
}

// The unterminated tail of a file (after its last "\n"), which both views classify alike:
//  - a whole record that lost only its "\n" (a crash between the JSON and its newline, or an append being
//    written): it parses as an object, and a prefix of an object's JSON never does, so it is kept — the next
//    append's marker then follows a parseable line and means nothing;
//  - the torn marker or a prefix of it (a marker being written): the unparseable line before it is torn;
//    a proper prefix is itself counted torn, like any other unparseable tail.
type Tail = { kind: 'none' | 'mark' | 'torn'; torn: number } | { kind: 'record'; torn: 0; record: unknown }

function tailOf(text: string, raw: boolean): Tail {
  if (text === '') return { kind: 'none', torn: 0 }
  if (TORN_MARK.startsWith(text)) return { kind: 'mark', torn: text === TORN_MARK ? 0 : 1 }
  if (text.charCodeAt(0) === 123 /* { */ && text.charCodeAt(text.length - 1) === 125 /* } */) {
    try {
      const record = JSON.parse(text, !raw && text.includes('"#') ? decodeNumbers : undefined) as unknown
      if (typeof record === 'object' && record !== null) return { kind: 'record', torn: 0, record }
    } catch {
      /* torn */
    }
  }
  return { kind: 'torn', torn: 1 }
}

/**
 * The records of complete lines. The marker lines cut the text into blocks; each block parses as one JSON
 * array (one JSON.parse call for the whole block, the fast path), and only a block that fails is looked at
 * closer: its last line is torn when the block ends at a marker (`markAfter`: the tail is one) and the rest
 * parses; else line by line, to name the corrupt line. So one torn record costs one more parse of a line.
 */
function parseLines<T>(text: string, raw: boolean, path: string, from: number, markAfter: boolean): { records: T[]; torn: number } {
  const lines = text.split('\n')
  let records: T[] | undefined
  let torn = 0
  let start = 0
  for (let i = 0; i <= lines.length; i++) {
    if (i < lines.length && lines[i] !== TORN_MARK) continue
    const block = parseBlock<T>(lines, start, i, i < lines.length || markAfter, raw, path, from)
    torn += block.torn
    if (records === undefined) records = block.records
    else for (const r of block.records) records.push(r)
    start = i + 1
  }
  return { records: records ?? [], torn }
}

function parseBlock<T>(lines: readonly string[], start: number, end: number, marked: boolean, raw: boolean, path: string, from: number): { records: T[]; torn: number } {
  const body: string[] = []
  let lastAt = -1
  for (let i = start; i < end; i++) {
    if (lines[i] === '') continue
    body.push(lines[i]!)
    lastAt = i
  }
  if (body.length === 0) return { records: [], torn: 0 }
  const joined = body.join(',')
  // A reviver costs a call per value (3× the parse); only text holding an encoded value ("#…) needs one.
  // The marker lines are outside the blocks, so they never turn it on.
  const reviver = !raw && joined.includes('"#') ? decodeNumbers : undefined
  const lastLine = body[body.length - 1]!
  try {
    // A block cut by a marker whose last line does not parse: that line is torn, the rest is one array.
    if (marked && !parses(lastLine)) return { records: JSON.parse(`[${joined.slice(0, Math.max(0, joined.length - lastLine.length - 1))}]`, reviver) as T[], torn: 1 }
    return { records: JSON.parse(`[${joined}]`, reviver) as T[], torn: 0 }
  } catch {
    for (let i = start; i < end; i++) {
      const line = lines[i]!
      if (line === '') continue
      try {
        JSON.parse(line)
      } catch (error) {
        if (!(marked && i === lastAt)) throw corruptLine(path, from, lines, i, error)
      }
    }
    throw new Error(`unreachable: a block of ${path} failed as a whole but not line by line`)
  }
}

function corruptLine(path: string, from: number, lines: readonly string[], index: number, cause: unknown): DataError {
  const where = from === 0 ? `line ${index + 1}` : `line ${index + 1} after byte ${from}`
  const line = lines[index]!
  const shown = line.length > 60 ? `${line.slice(0, 57)}…` : line
  return new CorruptFileError(`${path} ${where} is not valid JSON (${JSON.stringify(shown)}); the file is corrupt — see mtflow doctor`, path, { cause })
}

/**
 * The records torn by a crash in a whole file, without parsing the rest: the unparseable lines just before
 * a marker line (or before a tail that is the marker or a prefix of it), plus an unparseable unterminated
 * tail — the same count readRecords gives for the file.
 */
export function countTorn(path: string): number {
  return tornRanges(readWhole(path)).length
}

/** [start, end) byte ranges of a file's torn records (without their newlines), by readRecords' rule. */
function tornRanges(buffer: Buffer): [number, number][] {
  const ranges: [number, number][] = []
  const last = buffer.lastIndexOf(10)
  const tail = tailOf(buffer.toString('utf8', last + 1), true)
  // The line before position `at` (a marker's first byte): skip the blank separators, then back to the
  // previous newline.
  const before = (at: number) => {
    let end = at
    while (end > 0 && buffer[end - 1] === 10) end--
    const start = buffer.lastIndexOf(10, end - 1) + 1
    if (end > start && !parses(buffer.toString('utf8', start, end))) ranges.push([start, end])
  }
  for (const at of markerLines(buffer, last + 1)) before(at)
  if (tail.kind === 'mark') before(last + 1)
  if (tail.torn > 0) ranges.push([last + 1, buffer.length])
  return ranges.sort((a, b) => a[0] - b[0])
}

/** The first byte of every complete marker line in buffer[0, end). */
function markerLines(buffer: Buffer, end: number): number[] {
  const at: number[] = []
  const mark = Buffer.from(`\n${TORN_MARK}\n`)
  if (buffer.subarray(0, mark.length - 1).equals(mark.subarray(1)) && mark.length - 1 <= end) at.push(0)
  for (let i = buffer.indexOf(mark); i >= 0 && i + mark.length <= end; i = buffer.indexOf(mark, i + 1)) at.push(i + 1)
  return at
}

/**
 * Move a file's torn records to `<file>.torn`, in place and without a rename, so that an append from any
 * process at any moment is kept exactly once. Exact because the file only ever grows at its end:
 *  1. An unterminated tail is terminated the way an appender would (by appending the marker line, under the
 *     same O_APPEND rule), so every torn record becomes a complete line followed by a marker, and a whole
 *     record that lost its "\n" becomes a kept line. A write in flight at that moment lands first (the
 *     kernel orders the appends), and the marker after it is a spurious one.
 *  2. The complete lines read then are final bytes: no writer touches anything before the end of the file.
 *     The torn lines are appended (and synced) to the sidecar, then overwritten with "\n" bytes of the same
 *     length (blank lines, which every reader skips), then the markers likewise — torn lines first, so a
 *     crash between the two never leaves a torn line without its marker. Appends meanwhile go past the end
 *     and are untouched; nothing is copied, so nothing can be lost or doubled.
 * A crash between the sidecar and the overwrite leaves the torn bytes in both places (moved again by the next
 * run, so the sidecar may hold them twice): never lost. Returns how many torn records were moved.
 */
export function moveTornAside(path: string): number {
  if (!existsSync(path)) return 0
  appendText(path, '', false)
  const fd = openSync(path, 'r+') // not O_APPEND: positioned writes must land where they are aimed
  try {
    const buffer = readFd(fd, 0)
    const end = buffer.lastIndexOf(10) + 1
    const complete = buffer.subarray(0, end) // a tail past this is an append in flight: not ours to touch
    const ranges = tornRanges(complete)
    const marks = markerLines(complete, end)
    if (ranges.length === 0 && marks.length === 0) return 0
    if (ranges.length > 0) {
      let sidecar = ''
      for (const [start, stop] of ranges) sidecar += `${buffer.toString('utf8', start, stop)}\n`
      const side = openSync(`${path}.torn`, 'a', 0o644)
      try {
        writeSync(side, sidecar)
        fsyncSync(side)
      } finally {
        closeSync(side)
      }
    }
    const blank = (start: number, stop: number) => {
      const newlines = Buffer.alloc(stop - start, 10)
      let offset = 0
      while (offset < newlines.length) offset += writeSync(fd, newlines, offset, newlines.length - offset, start + offset)
    }
    for (const [start, stop] of ranges) blank(start, stop)
    for (const at of marks) blank(at, at + TORN_MARK.length)
    fsyncSync(fd)
    return ranges.length
  } finally {
    closeSync(fd)
  }
}

function readWhole(path: string): Buffer {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return Buffer.alloc(0)
    throw error
  }
  try {
    return readFd(fd, 0)
  } finally {
    closeSync(fd)
  }
}

function readFd(fd: number, from: number): Buffer {
  const size = fstatSync(fd).size
  if (size <= from) return Buffer.alloc(0)
  const buffer = Buffer.allocUnsafe(size - from)
  let got = 0
  while (got < buffer.length) {
    const n = readSync(fd, buffer, got, buffer.length - got, from + got)
    if (n === 0) break
    got += n
  }
  return buffer.subarray(0, got)
}

function parses(line: string): boolean {
  try {
    JSON.parse(line)
    return true
  } catch {
    return false
  }
}

// JSON has no NaN or ±Infinity; metric values may be either. They travel as the strings "#NaN",
// "#Infinity" and "#-Infinity"; a string that itself starts with "#" gets one more "#" in front.
const NON_FINITE: Record<string, number> = { '#NaN': NaN, '#Infinity': Infinity, '#-Infinity': -Infinity }

export function encodeNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : `#${String(value)}`
  if (typeof value === 'string' && value.charCodeAt(0) === 35 /* # */) return `#${value}`
  return value
}

/** One value as written by encodeNumbers, decoded (for records read raw). */
export function decodeValue<T>(value: T): T | number {
  return typeof value === 'string' && value.charCodeAt(0) === 35 ? (decodeNumbers('', value) as T | number) : value
}

export function decodeNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.charCodeAt(0) === 35 /* # */) {
    if (value.charCodeAt(1) === 35) return value.slice(1)
    const n = NON_FINITE[value]
    if (n !== undefined) return n
  }
  return value
}
