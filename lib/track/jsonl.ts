// Append-only JSON-lines files: the tracker's metric history, params, tags and run indexes.
// Each append is one write(2) of "\n<record>\n" on an O_APPEND descriptor, so concurrent appenders never
// interleave, and a record cut short by a crash can neither swallow the next one (the leading newline)
// nor be read as complete (a reader takes only lines that end in a newline, and skips what fails to parse).

import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

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

function appendText(path: string, text: string): void {
  let fd: number
  try {
    fd = openSync(path, 'a', 0o644)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
    mkdirSync(dirname(path), { recursive: true })
    fd = openSync(path, 'a', 0o644)
  }
  try {
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
}

/**
 * The complete records from byte `from` on (a missing file reads as empty). `raw` skips decoding the
 * encoded values (the caller decodes the fields that can hold them, with decodeValue).
 */
export function readRecords<T>(path: string, from = 0, options: { raw?: boolean } = {}): ReadResult<T> {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { records: [], end: 0, ino: -1 }
    throw error
  }
  try {
    const info = fstatSync(fd)
    const size = info.size
    if (size <= from) return { records: [], end: Math.min(from, size), ino: info.ino }
    const buffer = Buffer.allocUnsafe(size - from)
    let got = 0
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, from + got)
      if (n === 0) break
      got += n
    }
    const last = buffer.lastIndexOf(10, got - 1)
    if (last < 0) return { records: [], end: from, ino: info.ino }
    const text = buffer.toString('utf8', 0, last)
    return { records: parseLines<T>(text, options.raw === true), end: from + last + 1, ino: info.ino }
  } finally {
    closeSync(fd)
  }
}

function parseLines<T>(text: string, raw: boolean): T[] {
  const lines = text.split('\n')
  const out: T[] = []
  // Fast path: all lines parse as one array; else line by line, dropping the unparseable (a torn write).
  const whole = lines.filter((l) => l !== '')
  // A reviver costs a call per value (3× the parse); only text holding an encoded value ("#…) needs one.
  const reviver = !raw && text.includes('"#') ? decodeNumbers : undefined
  try {
    return JSON.parse(`[${whole.join(',')}]`, reviver) as T[]
  } catch {
    for (const line of whole) {
      try {
        out.push(JSON.parse(line, reviver) as T)
      } catch {
        /* a record cut short by a crash */
      }
    }
    return out
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
