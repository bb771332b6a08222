// Append-only JSON-lines files: the tracker's metric history, params, tags and run indexes.
// Each append is one write(2) of "\n<record>\n" on an O_APPEND descriptor, so concurrent appenders never
// interleave, and a record cut short by a crash can neither swallow the next one (the leading newline)
// nor be read as complete (a reader takes only lines that end in a newline).

import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { DataError, writeFileAtomic } from '../core/index.js'

// Torn records vs corruption, exactly: every complete append ends in "\n", so a file whose last byte is not
// "\n" ends in a torn record. The next appender sees that (it reads the last byte before writing) and puts
// the marker line {"#torn":1} first, in the same write. A reader therefore counts an unparseable line as torn
// when it is the unterminated tail or is followed by the marker; any other unparseable line is corruption,
// a DataError naming the file and line, never skipped. A spurious marker (a concurrent append was half
// visible when the last byte was read) follows a parseable line and means nothing. The one case left: a
// crash tearing a record while another process is between its last-byte check and its write leaves the torn
// line unmarked, read as corruption (named by the error and by mtflow doctor) — never as a silent drop.

/** The line an appender writes before its records when the file ends in a torn record. */
export const TORN_MARK = '{"#torn":1}'

export function appendRecords(path: string, records: readonly unknown[]): void {
  if (records.length === 0) return
  let text = ''
  for (const r of records) text += recordLine(r)
  appendText(path, text)
}

/** One record as written: a newline, the JSON, a newline. */
export function recordLine(record: unknown): string {
  return `\n${JSON.stringify(record, encodeNumbers)}\n`
}

const lastByte = Buffer.alloc(1)

function appendText(path: string, text: string): void {
  let fd: number
  try {
    // 'a+' (O_APPEND | O_RDWR): writes still go to the end; the read is of the last byte only.
    fd = openSync(path, 'a+', 0o644)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
    mkdirSync(dirname(path), { recursive: true })
    fd = openSync(path, 'a+', 0o644)
  }
  try {
    const size = fstatSync(fd).size
    if (size > 0 && readSync(fd, lastByte, 0, 1, size - 1) === 1 && lastByte[0] !== 10) text = `\n${TORN_MARK}\n${text}`
    const bytes = Buffer.from(text, 'utf8')
    let offset = 0
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
  } finally {
    closeSync(fd)
  }
}

export interface ReadResult<T> {
  records: T[]
  /** Byte offset just past the last complete line: where an incremental reader continues. */
  end: number
  /** The file's inode: a compaction (atomic rewrite) changes it, an append does not. */
  ino: number
  /**
   * Records torn by a crash in what was read: unparseable lines followed by the torn marker, plus an
   * unterminated tail (which may also be an append being written this instant).
   */
  torn: number
}

/**
 * The complete records from byte `from` on (a missing file reads as empty). `raw` skips decoding the
 * encoded values (the caller decodes the fields that can hold them, with decodeValue). A line that is
 * neither JSON nor a torn record is a DataError naming the file.
 */
export function readRecords<T>(path: string, from = 0, options: { raw?: boolean } = {}): ReadResult<T> {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { records: [], end: 0, ino: -1, torn: 0 }
    throw error
  }
  try {
    const info = fstatSync(fd)
    const size = info.size
    if (size <= from) return { records: [], end: Math.min(from, size), ino: info.ino, torn: 0 }
    const buffer = Buffer.allocUnsafe(size - from)
    let got = 0
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, from + got)
      if (n === 0) break
      got += n
    }
    const last = buffer.lastIndexOf(10, got - 1)
    const tail = got - (last + 1) > 0 ? 1 : 0
    if (last < 0) return { records: [], end: from, ino: info.ino, torn: tail }
    const text = buffer.toString('utf8', 0, last)
    const parsed = parseLines<T>(text, options.raw === true, path, from)
    return { records: parsed.records, end: from + last + 1, ino: info.ino, torn: parsed.torn + tail }
  } finally {
    closeSync(fd)
  }
}

function parseLines<T>(text: string, raw: boolean, path: string, from: number): { records: T[]; torn: number } {
  const lines = text.split('\n')
  // Fast path: all lines parse as one array; else line by line, to tell torn records from corruption.
  const whole = lines.filter((l) => l !== '' && l !== TORN_MARK)
  // A reviver costs a call per value (3× the parse); only text holding an encoded value ("#…) needs one.
  const reviver = !raw && text.includes('"#') ? decodeNumbers : undefined
  try {
    return { records: JSON.parse(`[${whole.join(',')}]`, reviver) as T[], torn: 0 }
  } catch {
    const out: T[] = []
    let torn = 0
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line === '' || line === TORN_MARK) continue
      try {
        out.push(JSON.parse(line, reviver) as T)
      } catch (error) {
        let next = i + 1
        while (next < lines.length && lines[next] === '') next++
        if (lines[next] === TORN_MARK) torn++
        else throw corruptLine(path, from, lines, i, error)
      }
    }
    return { records: out, torn }
  }
}

function corruptLine(path: string, from: number, lines: readonly string[], index: number, cause: unknown): DataError {
  const where = from === 0 ? `line ${index + 1}` : `line ${index + 1} after byte ${from}`
  const line = lines[index]!
  const shown = line.length > 60 ? `${line.slice(0, 57)}…` : line
  return new DataError(`${path} ${where} is not valid JSON (${JSON.stringify(shown)}); the file is corrupt — see mtflow doctor`, { cause })
}

/**
 * The records torn by a crash in a whole file, without parsing the rest: the lines just before a torn
 * marker that do not parse, plus an unterminated tail. For `runs show` and the doctor.
 */
export function countTorn(path: string): number {
  return scanTorn(path).torn
}

/** Where a file's torn records are: [start, end) byte ranges of each (without their newlines). */
export function scanTorn(path: string): { torn: number; ranges: [number, number][]; size: number } {
  const buffer = readWhole(path)
  const ranges = tornRanges(buffer)
  return { torn: ranges.length, ranges, size: buffer.length }
}

function tornRanges(buffer: Buffer): [number, number][] {
  const ranges: [number, number][] = []
  const mark = Buffer.from(`\n${TORN_MARK}\n`)
  for (let at = buffer.indexOf(mark); at >= 0; at = buffer.indexOf(mark, at + 1)) {
    // The line before the marker: skip the blank separators, then back to the previous newline.
    let end = at
    while (end > 0 && buffer[end - 1] === 10) end--
    const start = buffer.lastIndexOf(10, end - 1) + 1
    if (end > start && !parses(buffer.toString('utf8', start, end))) ranges.push([start, end])
  }
  const last = buffer.lastIndexOf(10)
  if (last < buffer.length - 1) ranges.push([last + 1, buffer.length])
  return ranges
}

/**
 * Rewrite a file without its torn records and markers (atomically: temp file and rename), the torn bytes
 * appended to `<file>.torn` first so nothing is lost. The caller holds the lock that the file's appenders
 * take, or knows that none is appending; bytes appended to the old file while it was rewritten are carried
 * over. Returns how many torn records were moved.
 */
export function moveTornAside(path: string): number {
  const fd = openSync(path, 'r')
  try {
    const buffer = readFd(fd, 0)
    const ranges = tornRanges(buffer)
    if (ranges.length === 0) return 0
    let sidecar = ''
    for (const [start, end] of ranges) sidecar += `${buffer.toString('utf8', start, end)}\n`
    appendFileSync(`${path}.torn`, sidecar)
    const torn = new Set(ranges.map(([start]) => start))
    let kept = ''
    let start = 0
    for (let nl = buffer.indexOf(10); start < buffer.length; nl = buffer.indexOf(10, start)) {
      const end = nl < 0 ? buffer.length : nl
      if (end > start && !torn.has(start)) {
        const line = buffer.toString('utf8', start, end)
        if (line !== TORN_MARK) kept += `\n${line}\n`
      }
      start = end + 1
    }
    writeFileAtomic(path, kept)
    // An append that reached the old file meanwhile (its writer had it open) goes to the new one.
    const late = readFd(fd, buffer.length)
    if (late.length > 0) appendText(path, late.toString('utf8'))
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
