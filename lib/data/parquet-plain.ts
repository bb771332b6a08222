// A direct reader for the Parquet files the lake writes: uncompressed DOUBLE and TIMESTAMP columns
// without nulls, PLAIN-encoded (dictionary-encoded where DuckDB still picks it: a column with very
// few distinct values, e.g. volume always 0). See COPY_OPTIONS in lake.ts. Such a file is its values
// laid out as little-endian bytes between page headers, so reading one is a copy per page — several
// times faster than moving the same values out of a DuckDB result. Anything else (a compression
// codec, other encodings, nulls, other types) answers `undefined` and DuckDB reads the file instead.
//
// Format: https://github.com/apache/parquet-format (FileMetaData, PageHeader; Thrift compact protocol).

import { read as readAsync, readSync } from 'node:fs'
import { DataError } from '../core/index.js'

type Thrift = Map<number, unknown>

/** Thrift compact protocol, decoded into field-id maps (the subset Parquet metadata uses). */
class Compact {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new Error('truncated metadata')
    return this.bytes[this.pos++]!
  }

  private varint(): number {
    let value = 0
    let scale = 1
    for (;;) {
      const b = this.byte()
      value += (b & 0x7f) * scale
      if (b < 0x80) return value
      scale *= 128
      if (scale > 2 ** 63) throw new Error('bad varint')
    }
  }

  private zigzag(): number {
    const v = this.varint()
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2
  }

  struct(): Thrift {
    const out: Thrift = new Map()
    let id = 0
    for (;;) {
      const header = this.byte()
      if (header === 0) return out
      const delta = header >> 4
      const type = header & 0x0f
      id = delta === 0 ? this.zigzag() : id + delta
      out.set(id, type === 1 ? true : type === 2 ? false : this.value(type))
    }
  }

  private value(type: number): unknown {
    switch (type) {
      case 1:
      case 2:
        return this.byte() === 1 // a bool inside a list
      case 3:
        return (this.byte() << 24) >> 24
      case 4:
      case 5:
      case 6:
        return this.zigzag()
      case 7: {
        if (this.pos + 8 > this.bytes.length) throw new Error('truncated metadata')
        const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8)
        this.pos += 8
        return view.getFloat64(0, true)
      }
      case 8: {
        const length = this.varint()
        if (this.pos + length > this.bytes.length) throw new Error('truncated metadata')
        const value = this.bytes.subarray(this.pos, this.pos + length)
        this.pos += length
        return value
      }
      case 9:
      case 10: {
        const header = this.byte()
        const size = header >> 4 === 15 ? this.varint() : header >> 4
        const items: unknown[] = []
        for (let i = 0; i < size; i++) items.push(this.value(header & 0x0f))
        return items
      }
      case 11: {
        const size = this.varint()
        const kinds = size > 0 ? this.byte() : 0
        const entries: [unknown, unknown][] = []
        for (let i = 0; i < size; i++) entries.push([this.value(kinds >> 4), this.value(kinds & 0x0f)])
        return entries
      }
      case 12:
        return this.struct()
      default:
        throw new Error(`unknown thrift type ${type}`)
    }
  }
}

const text = (value: unknown) => (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8') : '')
const num = (value: unknown) => (typeof value === 'number' ? value : -1)

// Parquet enum values used here.
const INT64 = 2
const DOUBLE = 5
const OPTIONAL = 1
const REQUIRED = 0
const UNCOMPRESSED = 0
const PLAIN = 0
const PLAIN_DICTIONARY = 2
const RLE_DICTIONARY = 8
const DATA_PAGE = 0
const DICTIONARY_PAGE = 2
const DATA_PAGE_V2 = 3
const TIMESTAMP_MILLIS = 9
const TIMESTAMP_MICROS = 10

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

interface ColumnSpec {
  kind: 'double' | 'micros' | 'millis'
  optional: boolean
}

export interface PlainParquet {
  rows: number
  /**
   * Decode the columns into targets[name][offset … offset + rows). False when a page turns out not to
   * be in the plain layout (the targets are then partly written: read the file another way).
   */
  readInto(source: ByteSource, targets: Record<string, Float64Array>, offset: number): boolean
}

/** The bytes of a file: in memory, or read at offsets of an open file. */
export interface ByteSource {
  size: number
  /** Up to n bytes at `at` (fewer at the end). Valid until the next call: it may share a buffer. */
  read(at: number, n: number): Uint8Array
  /**
   * Exactly n bytes at `at` into `into`; false when the file ends first. With `later`, a deferred source
   * (deferredFileSource) may only check the range here and read at its flush, calling `later.done` once
   * the bytes are in (other sources call it at once); without it the bytes are there on return.
   */
  copy(at: number, n: number, into: Uint8Array, later?: { done?: () => void }): boolean
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (at, n) => bytes.subarray(at, Math.min(bytes.length, at + n)),
    copy(at, n, into, later) {
      if (at + n > bytes.length) return false
      into.set(bytes.subarray(at, at + n))
      later?.done?.()
      return true
    },
  }
}

/**
 * An open file as a ByteSource. Page values are read straight into their destination (no
 * intermediate buffer: for 1M bars that saves copying 48 MB); headers go through a small buffer.
 */
export function fileSource(fd: number, size: number): ByteSource {
  let buffer = Buffer.allocUnsafe(4096)
  const readFully = (at: number, n: number, into: Uint8Array): number => {
    let done = 0
    while (done < n) {
      const got = readSync(fd, into, done, n - done, at + done)
      if (got === 0) break
      done += got
    }
    return done
  }
  return {
    size,
    read(at, n) {
      const want = Math.max(0, Math.min(n, size - at))
      if (buffer.length < want) buffer = Buffer.allocUnsafe(want)
      return buffer.subarray(0, readFully(at, want, buffer))
    },
    copy(at, n, into, later) {
      if (readFully(at, n, into) !== n) return false
      later?.done?.()
      return true
    },
  }
}

/**
 * fileSource whose large copies (page values) are read by libuv's thread pool, all at once, when `flush`
 * is called: headers and dictionaries are read at once as in fileSource, so the pages are walked in this
 * thread and their values read elsewhere meanwhile (a backtest loads its code while its bars arrive).
 * `flush` resolves false when the file ended before a copy was whole, and rejects with the error of the
 * first failed read in queue order — in both cases only once every read it started has ended, so the fd
 * can be closed then.
 */
export function deferredFileSource(fd: number, size: number): ByteSource & { flush(): Promise<boolean> } {
  const sync = fileSource(fd, size)
  const jobs: { at: number; n: number; into: Uint8Array; done: (() => void) | undefined }[] = []
  const readAll = (job: (typeof jobs)[number]): Promise<boolean> =>
    new Promise((resolve, reject) => {
      let got = 0
      const next = (): void =>
        readAsync(fd, job.into, got, job.n - got, job.at + got, (error, bytes) => {
          if (error !== null) return reject(error)
          got += bytes
          if (bytes === 0 || got === job.n) return resolve(got === job.n)
          next()
        })
      next()
    })
  return {
    size,
    read: (at, n) => sync.read(at, n),
    copy(at, n, into, later) {
      if (later === undefined || n < DEFER_BYTES) return sync.copy(at, n, into, later)
      if (at < 0 || at + n > size) return false
      jobs.push({ at, n, into, done: later.done })
      return true
    },
    async flush() {
      const queued = jobs.splice(0)
      const ended = await Promise.allSettled(queued.map(readAll))
      for (const r of ended) if (r.status === 'rejected') throw r.reason
      if (!ended.every((r) => r.status === 'fulfilled' && r.value)) return false
      for (const job of queued) job.done?.()
      return true
    },
  }
}

/** Copies smaller than this are read at once by deferredFileSource (a page header's round trip costs more than its bytes). */
const DEFER_BYTES = 64 * 1024

/** The length of the footer (metadata + 8 bytes) a Parquet file ends with, from at least its last 8 bytes. */
export function parquetFooterLength(file: string, tail: Uint8Array, fileSize: number): number {
  const n = tail.length
  const magic = n >= 4 && tail[n - 4] === 0x50 && tail[n - 3] === 0x41 && tail[n - 2] === 0x52 && tail[n - 1] === 0x31 // PAR1
  if (fileSize < 12 || n < 8 || !magic) throw new DataError(`${file} is not a Parquet file (no PAR1 marker)`)
  const length = new DataView(tail.buffer, tail.byteOffset, n).getUint32(n - 8, true) + 8
  if (length + 4 > fileSize) throw new DataError(`${file} is truncated (footer of ${length} bytes in a ${fileSize}-byte file)`)
  return length
}

/**
 * Open a Parquet file for reading the named columns as Float64Arrays (timestamps as epoch
 * milliseconds), from its footer: `footer` holds the file's last bytes, at least
 * parquetFooterLength() of them. `undefined` when its schema or column chunks are not in the plain
 * layout this reader handles. Throws DataError when the file is not Parquet or is truncated.
 */
export function openPlainParquet(file: string, footer: Uint8Array, fileSize: number, names: readonly string[]): PlainParquet | undefined {
  const length = parquetFooterLength(file, footer, fileSize)
  if (!LITTLE_ENDIAN) return undefined // values are copied as the platform's typed arrays see them
  if (footer.length < length) throw new Error(`openPlainParquet needs the last ${length} bytes of ${file}`)
  let meta: Thrift
  try {
    meta = new Compact(footer.subarray(0, footer.length - 8), footer.length - length).struct()
  } catch (error) {
    throw new DataError(`${file}: unreadable Parquet footer (${(error as Error).message})`)
  }

  // Flat schema: the root, then one leaf per column.
  const schema = (meta.get(2) as Thrift[] | undefined) ?? []
  if (schema.length < 2 || num(schema[0]!.get(5)) !== schema.length - 1) return undefined
  const specs = new Map<string, ColumnSpec>()
  for (const element of schema.slice(1)) {
    if (element.has(5)) return undefined // nested
    const repetition = num(element.get(3))
    if (repetition !== OPTIONAL && repetition !== REQUIRED) return undefined
    const type = num(element.get(1))
    const converted = element.has(6) ? num(element.get(6)) : -1
    let kind: ColumnSpec['kind'] | undefined
    if (type === DOUBLE && converted === -1) kind = 'double'
    else if (type === INT64 && converted === TIMESTAMP_MICROS) kind = 'micros'
    else if (type === INT64 && converted === TIMESTAMP_MILLIS) kind = 'millis'
    if (kind !== undefined) specs.set(text(element.get(4)), { kind, optional: repetition === OPTIONAL })
  }
  if (!names.every((name) => specs.has(name))) return undefined

  // Every wanted column chunk of every row group: where its pages start.
  const groups = (meta.get(4) as Thrift[] | undefined) ?? []
  const chunks: { name: string; start: number; rows: number; row: number }[] = []
  let row = 0
  for (const group of groups) {
    const rows = num(group.get(3))
    if (rows < 0) return undefined
    for (const chunk of (group.get(1) as Thrift[] | undefined) ?? []) {
      const column = chunk.get(3) as Thrift | undefined
      if (column === undefined || chunk.has(1)) return undefined // metadata elsewhere / another file
      const path = (column.get(3) as unknown[] | undefined) ?? []
      const name = path.length === 1 ? text(path[0]) : ''
      if (!names.includes(name)) continue
      if (num(column.get(4)) !== UNCOMPRESSED || num(column.get(5)) !== rows) return undefined
      const start = column.has(11) ? Math.min(num(column.get(11)), num(column.get(9))) : num(column.get(9))
      chunks.push({ name, start, rows, row })
    }
    row += rows
  }
  if (row !== num(meta.get(3)) || chunks.length !== names.length * groups.length) return undefined
  return {
    rows: row,
    readInto(source, targets, offset) {
      const head = source.read(0, 4)
      if (source.size !== fileSize || !(head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31)) {
        throw new DataError(`${file} is not a Parquet file (no PAR1 marker at its start)`)
      }
      return chunks.every((c) => readChunk(source, c.start, c.rows, specs.get(c.name)!, targets[c.name]!, offset + c.row))
    },
  }
}

/** The named columns of a whole Parquet file in the plain layout, or `undefined` (see openPlainParquet). */
export function readPlainParquet(file: string, bytes: Uint8Array, names: readonly string[]): Record<string, Float64Array> | undefined {
  const plain = openPlainParquet(file, bytes, bytes.length, names)
  if (plain === undefined) return undefined
  const out: Record<string, Float64Array> = {}
  for (const name of names) out[name] = new Float64Array(plain.rows)
  return plain.readInto(memorySource(bytes), out, 0) ? out : undefined
}

/** The pages of one column chunk into target[offset…]; false when a page is not plain or holds nulls. */
function readChunk(source: ByteSource, start: number, rows: number, spec: ColumnSpec, target: Float64Array, offset: number): boolean {
  let pos = start
  let done = 0
  let dictionary: Float64Array | undefined
  while (done < rows) {
    if (pos <= 0 || pos >= source.size) return false
    const header = pageHeader(source, pos)
    if (header === undefined) return false
    const size = num(header.fields.get(3))
    const body = pos + header.length
    const end = body + size
    if (size < 0 || end > source.size) return false
    const type = num(header.fields.get(1))
    let count: number
    let values: number
    let encoding: number
    if (type === DICTIONARY_PAGE) {
      const page = header.fields.get(7) as Thrift | undefined
      const entries = page === undefined ? -1 : num(page.get(1))
      if (dictionary !== undefined || entries < 0 || body + entries * 8 > end || ![PLAIN, PLAIN_DICTIONARY].includes(num(page!.get(2)))) return false
      dictionary = new Float64Array(entries)
      if (!source.copy(body, entries * 8, new Uint8Array(dictionary.buffer))) return false
      if (spec.kind !== 'double') timestampsToMs(dictionary, 0, entries, spec.kind)
      pos = end
      continue
    } else if (type === DATA_PAGE) {
      const page = header.fields.get(5) as Thrift | undefined
      if (page === undefined) return false
      count = num(page.get(1))
      encoding = num(page.get(2))
      values = body
      if (spec.optional) {
        // Definition levels: a 4-byte length, then the RLE / bit-packed hybrid at bit width 1.
        const prefix = source.read(body, 4)
        if (prefix.length < 4) return false
        const length = prefix[0]! + prefix[1]! * 2 ** 8 + prefix[2]! * 2 ** 16 + prefix[3]! * 2 ** 24
        if (body + 4 + length > end) return false
        const levels = source.read(body + 4, length)
        if (levels.length < length || !allDefined(levels, 0, length, count)) return false
        values = body + 4 + length
      }
    } else if (type === DATA_PAGE_V2) {
      const page = header.fields.get(8) as Thrift | undefined
      if (page === undefined || num(page.get(2)) !== 0) return false
      count = num(page.get(1))
      encoding = num(page.get(4))
      values = body + num(page.get(5)) + num(page.get(6))
    } else {
      return false
    }
    if (count < 0 || done + count > rows || values > end) return false
    const at = offset + done
    if (encoding === PLAIN) {
      // Straight into the target; timestamps are then converted in place.
      const convert = spec.kind === 'double' ? undefined : () => timestampsToMs(target, at, count, spec.kind as 'micros' | 'millis')
      if (values + count * 8 > end || !source.copy(values, count * 8, new Uint8Array(target.buffer, target.byteOffset + at * 8, count * 8), { done: convert })) return false
    } else if (encoding === PLAIN_DICTIONARY || encoding === RLE_DICTIONARY) {
      if (dictionary === undefined || values >= end) return false
      const bytes = source.read(values, end - values)
      const indices = new Uint32Array(count)
      if (bytes.length < end - values || !decodeHybrid(bytes, 1, bytes.length, bytes[0]!, count, indices)) return false
      for (let i = 0; i < count; i++) {
        const v = dictionary[indices[i]!]
        if (v === undefined) return false
        target[at + i] = v
      }
    } else {
      return false
    }
    done += count
    pos = end
  }
  return true
}

/** A page header at `pos`: its fields and its length in bytes (undefined when unreadable). */
function pageHeader(source: ByteSource, pos: number): { fields: Thrift; length: number } | undefined {
  // Headers are small (statistics included); read more only when one does not fit.
  for (const n of [256, 16_384, 1_048_576]) {
    const bytes = source.read(pos, n)
    const reader = new Compact(bytes, 0)
    try {
      const fields = reader.struct()
      return { fields, length: reader.pos }
    } catch {
      if (bytes.length < n) return undefined // the file ends: not a header
    }
  }
  return undefined
}

/**
 * In place: the int64 timestamps stored in target[at … at + count) (as raw bytes) become epoch
 * milliseconds. int64 → Number is exact while |value| < 2^53 (micros: until the year 2255).
 */
function timestampsToMs(target: Float64Array, at: number, count: number, kind: 'micros' | 'millis'): void {
  const words = new Int32Array(target.buffer, target.byteOffset + at * 8, count * 2)
  const divisor = kind === 'micros' ? 1000 : 1
  for (let i = 0; i < count; i++) {
    const value = words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0)
    target[at + i] = Math.trunc(value / divisor) // as DuckDB's epoch_ms; overwrites only words already read
  }
}

/** The RLE / bit-packed hybrid: `count` values of `width` bits from bytes[from, to) into out. */
function decodeHybrid(bytes: Uint8Array, from: number, to: number, width: number, count: number, out: Uint32Array): boolean {
  if (width > 32) return false
  let pos = from
  let seen = 0
  const byteWidth = Math.ceil(width / 8)
  while (seen < count) {
    if (pos >= to) return false
    let header = 0
    let scale = 1
    for (;;) {
      if (pos >= to) return false
      const b = bytes[pos++]!
      header += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 128
    }
    if (header % 2 === 0) {
      // An RLE run: header/2 repeats of one value stored in byteWidth bytes.
      if (pos + byteWidth > to) return false
      let value = 0
      for (let k = 0; k < byteWidth; k++) value += bytes[pos + k]! * 2 ** (8 * k)
      pos += byteWidth
      const n = Math.min(header / 2, count - seen)
      out.fill(value, seen, seen + n)
      seen += n
    } else {
      // Bit-packed groups of 8 values, least significant bit first.
      const groups = (header - 1) / 2
      if (pos + groups * width > to) return false
      const n = Math.min(groups * 8, count - seen)
      let bit = pos * 8
      for (let i = 0; i < n; i++) {
        let value = 0
        for (let k = 0; k < width; k++, bit++) if (bytes[bit >> 3]! & (1 << (bit & 7))) value += 2 ** k
        out[seen + i] = value
      }
      pos += groups * width
      seen += n
    }
  }
  return true
}

/** Whether the first `count` definition levels (bit width 1) between from and to are all 1. */
function allDefined(bytes: Uint8Array, from: number, to: number, count: number): boolean {
  // The usual case: one RLE run of 1s covering the page (a varint run length, then the byte 1).
  let header = 0
  let scale = 1
  let pos = from
  while (pos < to) {
    const b = bytes[pos++]!
    header += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 128
  }
  if (header % 2 === 0 && header / 2 >= count && bytes[pos] === 1 && pos < to) return true
  const levels = new Uint32Array(count)
  if (!decodeHybrid(bytes, from, to, 1, count, levels)) return false
  for (let i = 0; i < count; i++) if (levels[i] !== 1) return false
  return true
}
