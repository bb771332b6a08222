// Columns to and from the bytes of a Parquet file, in plain TypeScript with no DuckDB: for a tracked run's
// tables (equity, trades, orders, fills, factors), written straight from the engine's Float64Arrays.
// The layout is one DuckDB, Spark and pyarrow read: one row group, uncompressed pages, a column REQUIRED
// when it has no missing value and OPTIONAL (RLE definition levels) when it has some.
//   number columns (Float64Array)       DOUBLE, PLAIN (the array's own bytes); NaN is NULL
//   time columns (`time`, *Time, *At)   INT64 TIMESTAMP(MILLIS, UTC) when every value is a whole number of ms
//                                       (else DOUBLE), DELTA_BINARY_PACKED (a bar grid takes ~1 byte per
//                                       100 rows); NaN is NULL
//   text                                BYTE_ARRAY UTF8, dictionary-encoded; undefined / null is NULL
//   flags (booleans)                    BOOLEAN, PLAIN
// The reader reads that layout (and other files only as far as they keep to it: a compression codec,
// nested columns, other encodings are a DataError naming the file). Reading gives NULL back as NaN, '' or
// false, so a table written and read back equals the original.
//
// Format: https://github.com/apache/parquet-format (FileMetaData, PageHeader; Thrift compact protocol).

import { DataError } from './errors.js'

/** A column of a run table: numbers (NaN = missing, times as epoch ms), text, or flags. */
export type ParquetColumn = Float64Array | readonly string[] | readonly boolean[]

/** Time columns, by name (the rule the CSV export uses for ISO 8601 cells). */
export function isTimeColumn(name: string): boolean {
  return name === 'time' || /(Time|At)$/.test(name)
}

// Parquet enums (parquet.thrift).
const BOOLEAN = 0
const INT64 = 2
const DOUBLE = 5
const BYTE_ARRAY = 6
const REQUIRED = 0
const OPTIONAL = 1
const UTF8 = 0
const TIMESTAMP_MILLIS = 9
const TIMESTAMP_MICROS = 10
const PLAIN = 0
const RLE = 3
const UNCOMPRESSED = 0
const DATA_PAGE = 0
const DICTIONARY_PAGE = 2
const RLE_DICTIONARY = 8
const PLAIN_DICTIONARY = 2
const DELTA_BINARY_PACKED = 5
/** Rows per data page: pages of at most 8 MB for a number column. */
const PAGE_ROWS = 1 << 20

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const TWO_32 = 2 ** 32

// ---- Thrift compact protocol: writing ------------------------------------------------------------

const T_TRUE = 1
const T_FALSE = 2
const T_I32 = 5
const T_I64 = 6
const T_BINARY = 8
const T_LIST = 9
const T_STRUCT = 12

/** A Thrift value to write: a struct is a list of [field id, type, value] in increasing id order. */
type Field = [id: number, type: number, value: unknown]

class ThriftWriter {
  readonly bytes: number[] = []

  varint(v: number): void {
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    this.bytes.push(v)
  }

  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  binary(b: Uint8Array): void {
    this.varint(b.length)
    for (const x of b) this.bytes.push(x)
  }

  struct(fields: readonly Field[]): void {
    let last = 0
    for (const [id, type, value] of fields) {
      const wire = type === T_TRUE ? (value === true ? T_TRUE : T_FALSE) : type
      if (id > last && id - last <= 15) this.bytes.push(((id - last) << 4) | wire)
      else {
        this.bytes.push(wire)
        this.zigzag(id)
      }
      last = id
      if (type !== T_TRUE) this.value(type, value)
    }
    this.bytes.push(0)
  }

  private value(type: number, value: unknown): void {
    if (type === T_I32 || type === T_I64) this.zigzag(value as number)
    else if (type === T_BINARY) this.binary(typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array))
    else if (type === T_STRUCT) this.struct(value as Field[])
    else if (type === T_LIST) {
      const [elementType, items] = value as [number, unknown[]]
      if (items.length < 15) this.bytes.push((items.length << 4) | elementType)
      else {
        this.bytes.push(0xf0 | elementType)
        this.varint(items.length)
      }
      for (const item of items) this.value(elementType, item)
    } else throw new Error(`thrift type ${type} not written`)
  }
}

// ---- writing -----------------------------------------------------------------------------------

interface EncodedColumn {
  name: string
  type: number
  optional: boolean
  converted?: number
  logical?: Field[]
  encodings: Set<number>
  /** The chunk's bytes in file order (page headers, levels, values), copied once into the file. */
  pieces: Uint8Array[]
  /** Bytes of the dictionary page at the chunk's start (0: none). */
  dictionarySize: number
  size: number
}

/**
 * A table as the bytes of a Parquet file (layout above). Every column has the same length; at least one
 * column. A number column without missing values goes into the file as its own bytes (one copy, no
 * per-row work); time columns are delta-encoded (a regular grid takes a few bytes per 128 rows); text
 * is dictionary-encoded (run tables repeat a few symbols, sides and statuses).
 */
export function columnsParquet(columns: Readonly<Record<string, ArrayLike<unknown>>>): Uint8Array {
  const pieces = columnsParquetPieces(columns)
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const piece of pieces) {
    out.set(piece, at)
    at += piece.length
  }
  return out
}

/**
 * columnsParquet's file as its pieces, in order (page headers, levels, the values — a Float64Array column's
 * own bytes, not copied — and the footer): for writing and hashing without joining them in memory.
 */
export function columnsParquetPieces(columns: Readonly<Record<string, ArrayLike<unknown>>>): Uint8Array[] {
  const names = Object.keys(columns)
  if (names.length === 0) throw new DataError('a Parquet table needs at least one column')
  const rows = columns[names[0]!]!.length
  for (const name of names) if (columns[name]!.length !== rows) throw new DataError(`column ${name} has ${columns[name]!.length} values, expected ${rows}`)
  const encoded = names.map((name) => encodeColumn(name, columns[name]!, rows))

  let offset = 4
  const chunks: Field[][] = []
  for (const c of encoded) {
    const start = offset
    offset += c.size
    chunks.push([
      [2, T_I64, start],
      [
        3,
        T_STRUCT,
        [
          [1, T_I32, c.type],
          [2, T_LIST, [T_I32, [...c.encodings]]],
          [3, T_LIST, [T_BINARY, [c.name]]],
          [4, T_I32, UNCOMPRESSED],
          [5, T_I64, rows],
          [6, T_I64, c.size],
          [7, T_I64, c.size],
          [9, T_I64, start + c.dictionarySize],
          ...(c.dictionarySize === 0 ? [] : ([[11, T_I64, start]] as Field[])),
        ],
      ],
    ])
  }
  const schema: Field[][] = [
    [
      [4, T_BINARY, 'schema'],
      [5, T_I32, names.length],
    ],
    ...encoded.map((c): Field[] => [
      [1, T_I32, c.type],
      [3, T_I32, c.optional ? OPTIONAL : REQUIRED],
      [4, T_BINARY, c.name],
      ...(c.converted === undefined ? [] : ([[6, T_I32, c.converted]] as Field[])),
      ...(c.logical === undefined ? [] : ([[10, T_STRUCT, c.logical]] as Field[])),
    ]),
  ]
  const meta = new ThriftWriter()
  meta.struct([
    [1, T_I32, 1],
    [2, T_LIST, [T_STRUCT, schema]],
    [3, T_I64, rows],
    [
      4,
      T_LIST,
      [
        T_STRUCT,
        [
          [
            [1, T_LIST, [T_STRUCT, chunks]],
            [2, T_I64, offset - 4],
            [3, T_I64, rows],
          ],
        ],
      ],
    ],
    [6, T_BINARY, 'mtflow'],
  ])
  const footer = new Uint8Array(meta.bytes.length + 8)
  footer.set(meta.bytes, 0)
  new DataView(footer.buffer).setUint32(meta.bytes.length, meta.bytes.length, true)
  footer.set(MAGIC, meta.bytes.length + 4)
  return [MAGIC, ...encoded.flatMap((c) => c.pieces), footer]
}

const MAGIC = Uint8Array.from([0x50, 0x41, 0x52, 0x31]) // PAR1
const TIMESTAMP_LOGICAL: Field[] = [[8, T_STRUCT, [[1, T_TRUE, true], [2, T_STRUCT, [[1, T_STRUCT, []]]]]]] // TIMESTAMP(isAdjustedToUTC, MILLIS)

function encodeColumn(name: string, values: ArrayLike<unknown>, rows: number): EncodedColumn {
  if (values instanceof Float64Array) return encodeDoubles(name, values, rows)
  return encodeValues(name, values, rows)
}

const newColumn = (name: string, type: number, optional: boolean, extra: Partial<EncodedColumn> = {}): EncodedColumn => ({ name, type, optional, encodings: new Set([PLAIN, RLE]), pieces: [], dictionarySize: 0, size: 0, ...extra })

/** Bit 1: a value is missing (NaN); bit 2: every present value is a whole number within ±2^50. */
function scanDoubles(values: Float64Array, rows: number): number {
  let missing = 0
  let whole = 2
  for (let i = 0; i < rows; i++) {
    const v = values[i]!
    if (v !== v) missing = 1
    else if (whole !== 0 && !(Math.floor(v) === v && v <= 1125899906842624 && v >= -1125899906842624)) whole = 0
  }
  return missing | whole
}

/** Whether a value is NaN (scanDoubles' first bit alone: the other columns' one question). */
function anyMissing(values: Float64Array, rows: number): boolean {
  for (let i = 0; i < rows; i++) if (values[i] !== values[i]) return true
  return false
}

// Float64Array columns in functions of their own, apart from the other kinds: each loop stays optimized
// for one element type (one encodeColumn for every kind deoptimized on each change of kind, and its
// million-row loops then ran in the interpreter until replaced on stack).
function encodeDoubles(name: string, values: Float64Array, rows: number): EncodedColumn {
  // Only a time column asks whether its values are whole ms within ±2^50 (years ±35,000): exact as INT64, their deltas exact in a double.
  const time = isTimeColumn(name)
  const scan = time ? scanDoubles(values, rows) : anyMissing(values, rows) ? 1 : 0
  const missing = (scan & 1) !== 0
  if (time && (scan & 2) !== 0) {
    const c = newColumn(name, INT64, missing, { converted: TIMESTAMP_MILLIS, logical: TIMESTAMP_LOGICAL })
    forPages(rows, (from, to) => {
      const present = missing ? presentDoubles(values, from, to) : undefined
      const delta = deltaEncode(values, from, to, present)
      if (delta !== undefined) c.encodings.add(DELTA_BINARY_PACKED)
      addPage(c, DATA_PAGE, to - from, delta === undefined ? PLAIN : DELTA_BINARY_PACKED, present === undefined ? undefined : levelsOf(present, from, to), delta ?? writeMillis(values, from, to, present))
    })
    return c
  }
  const c = newColumn(name, DOUBLE, missing)
  forPages(rows, (from, to) => {
    const present = missing ? presentDoubles(values, from, to) : undefined
    let body: Uint8Array
    if (present === undefined && LITTLE_ENDIAN) body = new Uint8Array(values.buffer, values.byteOffset + from * 8, (to - from) * 8)
    else {
      const count = present === undefined ? to - from : present.length
      body = new Uint8Array(count * 8)
      const view = new DataView(body.buffer)
      for (let k = 0; k < count; k++) view.setFloat64(k * 8, values[present === undefined ? from + k : present[k]!]!, true)
    }
    addPage(c, DATA_PAGE, to - from, PLAIN, present === undefined ? undefined : levelsOf(present, from, to), body)
  })
  return c
}

function encodeValues(name: string, values: ArrayLike<unknown>, rows: number): EncodedColumn {
  const column = (type: number, optional: boolean, extra: Partial<EncodedColumn> = {}): EncodedColumn => newColumn(name, type, optional, extra)
  // The kind: numbers, booleans or text (anything else, as text). A text column is known at its first
  // text value; whether values are missing comes from the pass that codes them.
  let booleans = rows > 0
  let numbers = rows > 0
  let missing = false
  for (let i = 0; i < rows; i++) {
    const v = values[i]
    if (v === undefined || v === null) missing = true
    else if (typeof v === 'number') booleans = false
    else if (typeof v === 'boolean') numbers = false
    else {
      booleans = false
      numbers = false
      break
    }
  }
  if (numbers) return encodeDoubles(name, Float64Array.from(values as ArrayLike<number>, (v) => (v === undefined || v === null ? NaN : v)), rows)
  if (booleans) {
    const c = column(BOOLEAN, missing)
    forPages(rows, (from, to) => {
      const present = missing ? presentIndexes(values, from, to) : undefined
      const count = present === undefined ? to - from : present.length
      const body = new Uint8Array(Math.ceil(count / 8))
      for (let k = 0; k < count; k++) if (values[present === undefined ? from + k : present[k]!] === true) body[k >> 3]! |= 1 << (k & 7)
      addPage(c, DATA_PAGE, to - from, PLAIN, present === undefined ? undefined : levelsOf(present, from, to), body)
    })
    return c
  }
  // Text: a dictionary of the distinct values (PLAIN, in order of first appearance), then each page's
  // indexes into it as runs or bit-packed.
  const { codes, words, absent } = textCodes(values, rows)
  const c = column(BYTE_ARRAY, absent, { converted: UTF8, logical: [[1, T_STRUCT, []]] })
  c.encodings.add(RLE_DICTIONARY)
  const encoder = new TextEncoder()
  const bytes = words.map((s) => encoder.encode(s))
  const dictionary = new Uint8Array(bytes.reduce((n, w) => n + 4 + w.length, 0))
  const view = new DataView(dictionary.buffer)
  let at = 0
  for (const w of bytes) {
    view.setUint32(at, w.length, true)
    dictionary.set(w, at + 4)
    at += 4 + w.length
  }
  addPage(c, DICTIONARY_PAGE, bytes.length, PLAIN, undefined, dictionary)
  c.dictionarySize = c.size
  const width = Math.max(1, Math.ceil(Math.log2(Math.max(2, bytes.length))))
  forPages(rows, (from, to) => {
    const present = absent ? presentIndexes(values, from, to) : undefined
    const page = present === undefined ? codes.subarray(from, to) : Int32Array.from(present, (i) => codes[i]!)
    addPage(c, DATA_PAGE, to - from, RLE_DICTIONARY, present === undefined ? undefined : levelsOf(present, from, to), dictionaryIndexes(page, width, runsOf(page)))
  })
  return c
}

/**
 * A text column's code per row (−1 where missing) into its distinct values in order of first appearance.
 * The last few distinct values are compared before the map is asked (run tables alternate a handful:
 * buy and sell, entry and exit), so a row is mostly one identity comparison.
 */
function textCodes(values: ArrayLike<unknown>, rows: number): { codes: Int32Array; words: string[]; absent: boolean } {
  const codes = new Int32Array(rows)
  const index = new Map<string, number>()
  const words: string[] = []
  const recent: unknown[] = []
  const recentCode: number[] = []
  let absent = false
  for (let i = 0; i < rows; i++) {
    const v = values[i]
    if (v === undefined || v === null) {
      codes[i] = -1
      absent = true
      continue
    }
    let code = -1
    for (let j = 0; j < recent.length; j++) {
      if (recent[j] === v) {
        code = recentCode[j]!
        break
      }
    }
    if (code < 0) {
      const s = String(v)
      code = index.get(s) ?? -1
      if (code < 0) {
        code = words.length
        index.set(s, code)
        words.push(s)
      }
      // Remember it (at most 8; the oldest goes).
      if (recent.length === 8) {
        recent.shift()
        recentCode.shift()
      }
      recent.push(v)
      recentCode.push(code)
    }
    codes[i] = code
  }
  return { codes, words, absent }
}

/** Runs of equal values in a page of codes. */
function runsOf(page: Int32Array): number {
  let runs = page.length === 0 ? 0 : 1
  for (let k = 1; k < page.length; k++) if (page[k] !== page[k - 1]) runs++
  return runs
}

/**
 * A page's dictionary indexes: their bit width, then the RLE / bit-packed hybrid — runs of one value when
 * there are few (a symbol column: one run), else every index bit-packed in groups of 8 (a side column that
 * alternates buy, sell: a run per row cost a varint and a byte each).
 */
function dictionaryIndexes(page: Int32Array, width: number, runs: number): Uint8Array {
  const count = page.length
  if (runs * 8 <= count || count === 0) {
    const w = new ThriftWriter()
    w.bytes.push(width)
    for (let k = 0; k < count; ) {
      const code = page[k]!
      let end = k + 1
      while (end < count && page[end] === code) end++
      w.varint((end - k) * 2)
      for (let b = 0; b < width; b += 8) w.bytes.push(Math.floor(code / 2 ** b) % 256)
      k = end
    }
    return Uint8Array.from(w.bytes)
  }
  const groups = Math.ceil(count / 8)
  let header = (groups << 1) | 1
  const headerBytes: number[] = []
  while (header >= 0x80) {
    headerBytes.push((header & 0x7f) | 0x80)
    header >>>= 7
  }
  headerBytes.push(header)
  const out = new Uint8Array(1 + headerBytes.length + groups * width)
  out[0] = width
  out.set(headerBytes, 1)
  let at = 1 + headerBytes.length
  // LSB first; width ≤ 31 (a dictionary of under 2^31 values); the last group padded with zeros. Up to 24
  // bits wide, the bits gather in `acc` and leave it a byte at a time (at most 7 stay behind, so acc stays
  // below 2^31, a 32-bit integer); wider ones are written bit range by bit range.
  if (width <= 24) {
    let acc = 0
    let bits = 0
    for (let k = 0; k < count; k++) {
      acc |= page[k]! << bits
      bits += width
      while (bits >= 8) {
        out[at++] = acc & 0xff
        acc >>>= 8
        bits -= 8
      }
    }
    if (bits > 0) out[at] = acc & 0xff
    return out
  }
  let bit = 0
  for (let k = 0; k < count; k++) {
    let x = page[k]!
    let left = width
    while (left > 0) {
      const shift = bit & 7
      const take = Math.min(8 - shift, left)
      out[at + (bit >> 3)]! |= (x & ((1 << take) - 1)) << shift
      x >>>= take
      left -= take
      bit += take
    }
  }
  return out
}

/** Indexes in [from, to) of the values that are not NaN (presentIndexes for a Float64Array, monomorphic). */
function presentDoubles(values: Float64Array, from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i < to; i++) if (values[i] === values[i]) out.push(i)
  return out
}

/** Indexes in [from, to) of the values that are not missing (NaN, undefined, null). */
function presentIndexes(values: ArrayLike<unknown>, from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i < to; i++) {
    const v = values[i]
    if (!(v === undefined || v === null || (typeof v === 'number' && v !== v))) out.push(i)
  }
  return out
}

/** Definition levels of rows [from, to) (1 = present) as the RLE hybrid at bit width 1: runs of equal levels. */
function levelsOf(present: readonly number[], from: number, to: number): Uint8Array {
  const w = new ThriftWriter()
  const run = (length: number, level: number) => {
    if (length === 0) return
    w.varint(length * 2)
    w.bytes.push(level)
  }
  let next = from
  let k = 0
  while (k < present.length) {
    run(present[k]! - next, 0)
    let end = k
    while (end + 1 < present.length && present[end + 1] === present[end]! + 1) end++
    run(end - k + 1, 1)
    next = present[end]! + 1
    k = end + 1
  }
  run(to - next, 0)
  return Uint8Array.from(w.bytes)
}

/** Epoch ms (whole numbers) as little-endian INT64 without BigInt: the low and high 32-bit words. */
function writeMillis(values: Float64Array, from: number, to: number, present: readonly number[] | undefined): Uint8Array {
  const count = present === undefined ? to - from : present.length
  const body = new Uint8Array(count * 8)
  const view = new DataView(body.buffer)
  for (let k = 0; k < count; k++) {
    const v = values[present === undefined ? from + k : present[k]!]!
    const high = Math.floor(v / TWO_32)
    view.setUint32(k * 8, v - high * TWO_32, true)
    view.setInt32(k * 8 + 4, high, true)
  }
  return body
}

const BLOCK = 128
const MINIBLOCKS = 4
const MINI = BLOCK / MINIBLOCKS

/**
 * DELTA_BINARY_PACKED of whole numbers (≤ 2^50 in size): blocks of 128 deltas, each block's deltas less
 * its smallest, bit-packed in 4 miniblocks of 32. `undefined` when a miniblock would need more than 32
 * bits (then the page is PLAIN): bars' times step by their timeframe, so their miniblocks need 0 bits.
 */
function deltaEncode(values: Float64Array, from: number, to: number, present: readonly number[] | undefined): Uint8Array | undefined {
  const v = present === undefined ? values.subarray(from, to) : Float64Array.from(present, (i) => values[i]!)
  const count = v.length
  const blocks = count <= 1 ? 0 : Math.ceil((count - 1) / BLOCK)
  // First pass: each block's smallest delta and its miniblocks' bit widths, so the output is sized exactly
  // (a worst-case buffer was 4 MB for a million regular times that take 55 kB).
  const mins = new Float64Array(blocks)
  const widths = new Uint8Array(blocks * MINIBLOCKS)
  let bodies = 0
  for (let b = 0; b < blocks; b++) {
    const k = 1 + b * BLOCK
    const n = Math.min(BLOCK, count - k)
    let min = Infinity
    let max = -Infinity
    for (let j = 0; j < n; j++) {
      const d = v[k + j]! - v[k + j - 1]!
      if (d < min) min = d
      if (d > max) max = d
    }
    mins[b] = min
    // A regular step (a bar grid): every miniblock at 0 bits, no bodies.
    if (max === min) continue
    for (let m = 0; m * MINI < n; m++) {
      let spread = 0
      const end = Math.min(n, (m + 1) * MINI)
      for (let j = m * MINI; j < end; j++) {
        const d = v[k + j]! - v[k + j - 1]! - min
        if (d > spread) spread = d
      }
      const width = spread === 0 ? 0 : Math.floor(Math.log2(spread)) + 1
      if (width > 32) return undefined
      widths[b * MINIBLOCKS + m] = width
      bodies += width * 4 // 32 values × width bits
    }
  }
  // The header (≤ 4 varints of ≤ 8 bytes), then per block its minimum (≤ 8 bytes) and 4 widths, then the bodies.
  const out = new Uint8Array(40 + blocks * (8 + MINIBLOCKS) + bodies)
  let at = 0
  const varint = (x: number) => {
    while (x >= 0x80) {
      out[at++] = (x % 0x80) | 0x80
      x = Math.floor(x / 0x80)
    }
    out[at++] = x
  }
  const zigzag = (x: number) => varint(x >= 0 ? x * 2 : -x * 2 - 1)
  varint(BLOCK)
  varint(MINIBLOCKS)
  varint(count)
  zigzag(count === 0 ? 0 : v[0]!)
  for (let b = 0; b < blocks; b++) {
    const k = 1 + b * BLOCK
    const n = Math.min(BLOCK, count - k)
    const min = mins[b]!
    zigzag(min)
    for (let m = 0; m < MINIBLOCKS; m++) out[at++] = widths[b * MINIBLOCKS + m]!
    for (let m = 0; m < MINIBLOCKS && m * MINI < n; m++) {
      const width = widths[b * MINIBLOCKS + m]!
      if (width === 0) continue
      // Bits LSB first; a miniblock always holds 32 values (the last padded with zeros) in exactly 4·width
      // bytes. Each value (< 2^width ≤ 2^32, exact as a double) goes into `acc` as its low 16 bits, then the
      // rest; bytes leave acc as they fill (at most 7 bits stay behind, so acc stays below 2^23).
      let acc = 0
      let bits = 0
      const low = width < 16 ? width : 16
      for (let j = m * MINI; j < (m + 1) * MINI; j++) {
        const x = j < n ? v[k + j]! - v[k + j - 1]! - min : 0
        const lo = x % 65536
        acc |= lo << bits
        bits += low
        while (bits >= 8) {
          out[at++] = acc & 0xff
          acc >>>= 8
          bits -= 8
        }
        if (width > 16) {
          acc |= ((x - lo) / 65536) << bits
          bits += width - 16
          while (bits >= 8) {
            out[at++] = acc & 0xff
            acc >>>= 8
            bits -= 8
          }
        }
      }
    }
  }
  return out.subarray(0, at)
}

/** Rows [from, to) of each page: at most PAGE_ROWS; a table of 0 rows has one empty page. */
function forPages(rows: number, page: (from: number, to: number) => void): void {
  for (let from = 0; from < rows || from === 0; from += PAGE_ROWS) {
    page(from, Math.min(rows, from + PAGE_ROWS))
    if (rows === 0) break
  }
}

/** A page (header, then definition levels when the column is OPTIONAL, then values) at the chunk's end. */
function addPage(column: EncodedColumn, type: number, count: number, encoding: number, levels: Uint8Array | undefined, body: Uint8Array): void {
  const prefix = levels === undefined ? undefined : new Uint8Array(4)
  if (prefix !== undefined) new DataView(prefix.buffer).setUint32(0, levels!.length, true)
  const size = (levels === undefined ? 0 : 4 + levels.length) + body.length
  const header = new ThriftWriter()
  header.struct([
    [1, T_I32, type],
    [2, T_I32, size],
    [3, T_I32, size],
    type === DICTIONARY_PAGE
      ? [
          7,
          T_STRUCT,
          [
            [1, T_I32, count],
            [2, T_I32, PLAIN],
          ],
        ]
      : [
          5,
          T_STRUCT,
          [
            [1, T_I32, count],
            [2, T_I32, encoding],
            [3, T_I32, RLE],
            [4, T_I32, RLE],
          ],
        ],
  ])
  const head = Uint8Array.from(header.bytes)
  column.pieces.push(head, ...(prefix === undefined ? [] : [prefix, levels!]), body)
  column.size += head.length + size
}

// ---- Thrift compact protocol: reading ------------------------------------------------------------

type Thrift = Map<number, unknown>

class ThriftReader {
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw new Error('truncated')
    return this.bytes[this.pos++]!
  }

  varint(): number {
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

  zigzag(): number {
    const v = this.varint()
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2
  }

  struct(depth = 0): Thrift {
    if (depth > 16) throw new Error('nested too deep')
    const out: Thrift = new Map()
    let id = 0
    for (;;) {
      const header = this.byte()
      if (header === 0) return out
      const delta = header >> 4
      const type = header & 0x0f
      id = delta === 0 ? this.zigzag() : id + delta
      out.set(id, type === T_TRUE ? true : type === T_FALSE ? false : this.value(type, depth))
    }
  }

  private value(type: number, depth: number): unknown {
    switch (type) {
      case 1:
      case 2:
      case 3:
        return this.byte()
      case 4:
      case 5:
      case 6:
        return this.zigzag()
      case 7:
        if (this.pos + 8 > this.end) throw new Error('truncated')
        this.pos += 8
        return NaN
      case 8: {
        const length = this.varint()
        if (this.pos + length > this.end) throw new Error('truncated')
        const value = this.bytes.subarray(this.pos, this.pos + length)
        this.pos += length
        return value
      }
      case 9:
      case 10: {
        const header = this.byte()
        const size = (header >> 4) === 15 ? this.varint() : header >> 4
        if (size > this.end - this.pos) throw new Error('bad list size')
        const out: unknown[] = []
        for (let i = 0; i < size; i++) out.push(this.value(header & 0x0f, depth + 1))
        return out
      }
      case 12:
        return this.struct(depth + 1)
      default:
        throw new Error(`unexpected thrift type ${type}`)
    }
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN)
const struct = (v: unknown): Thrift | undefined => (v instanceof Map ? (v as Thrift) : undefined)
const structs = (v: unknown): Thrift[] => (Array.isArray(v) ? v.map((x) => struct(x) ?? new Map()) : [])
const text = (v: unknown): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : '')

// ---- reading -----------------------------------------------------------------------------------

/**
 * The columns of a Parquet file in the layout above: DOUBLE as Float64Array (NULL = NaN), TIMESTAMP (ms
 * or µs) as epoch ms in a Float64Array, UTF8 text as strings (NULL = ''), BOOLEAN as flags (NULL = false).
 * `label` names the file in errors ("equity.parquet of run …").
 */
export function parquetColumns(bytes: Uint8Array, label: string): Record<string, ParquetColumn> {
  try {
    return readColumns(bytes, label)
  } catch (error) {
    // Metadata of unexpected shapes (a hostile or damaged file) is a DataError too, whatever broke.
    if (error instanceof DataError) throw error
    throw new DataError(`${label}: unreadable Parquet (${error instanceof Error ? error.message : String(error)})`, { cause: error })
  }
}

function readColumns(bytes: Uint8Array, label: string): Record<string, ParquetColumn> {
  const fail = (why: string) => new DataError(`${label}: ${why}`)
  const n = bytes.length
  if (n < 12 || !startsWithMagic(bytes, 0) || !startsWithMagic(bytes, n - 4)) throw fail('not a Parquet file (no PAR1 markers)')
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset, n).getUint32(n - 8, true)
  if (footerLength + 12 > n) throw fail(`truncated (a footer of ${footerLength} bytes in a ${n}-byte file)`)
  let meta: Thrift
  try {
    meta = new ThriftReader(bytes, n - 8 - footerLength, n - 8).struct()
  } catch (error) {
    throw fail(`unreadable Parquet footer (${(error as Error).message})`)
  }
  const schema = structs(meta.get(2))
  if (schema.length < 2 || num(schema[0]!.get(5)) !== schema.length - 1) throw fail('expected a flat table (a schema of columns without nesting)')
  const rows = num(meta.get(3))
  if (!(Number.isInteger(rows) && rows >= 0)) throw fail(`bad row count ${rows}`)
  const specs = schema.slice(1).map((element) => {
    const name = text(element.get(4))
    if (element.has(5)) throw fail(`column ${name} is nested; expected plain columns`)
    const repetition = num(element.get(3))
    if (repetition !== REQUIRED && repetition !== OPTIONAL) throw fail(`column ${name} is repeated; expected one value per row`)
    const type = num(element.get(1))
    const converted = element.has(6) ? num(element.get(6)) : -1
    const unit = struct(struct(struct(element.get(10))?.get(8))?.get(2))
    const timestamp = type === INT64 && (converted === TIMESTAMP_MILLIS || converted === TIMESTAMP_MICROS)
    const micros = unit === undefined ? converted === TIMESTAMP_MICROS : unit.has(2)
    const kind = type === DOUBLE && converted === -1 ? 'double' : timestamp && !unit?.has(3) ? (micros ? 'micros' : 'millis') : type === BYTE_ARRAY ? 'text' : type === BOOLEAN ? 'bool' : undefined
    if (kind === undefined) throw fail(`column ${name} has a type this reader does not handle (physical ${type}, converted ${converted}); expected DOUBLE, TIMESTAMP, UTF8 or BOOLEAN`)
    return { name, kind, optional: repetition === OPTIONAL }
  })
  const seen = new Set<string>()
  for (const s of specs) {
    if (seen.has(s.name)) throw fail(`column ${s.name} appears twice`)
    seen.add(s.name)
  }
  // Nothing is allocated before the footer's claims are checked against the bytes there are: the cells
  // (rows × columns), then every row group and column chunk (its pages inside the file's data).
  const cells = `${rows} rows × ${specs.length} column${specs.length === 1 ? '' : 's'}`
  if (rows * specs.length > maxCells(n)) throw fail(`${cells} is more than a ${n}-byte file can hold`)
  if (rows * specs.length > MAX_CELLS) throw fail(`${cells} is more than the ${MAX_CELLS.toLocaleString('en-US')} cells a table is read with`)
  const listed = specs.find((s) => s.kind === 'text' || s.kind === 'bool')
  if (listed !== undefined && rows > MAX_LIST_ROWS) throw fail(`${rows} rows of a ${listed.kind} column (${listed.name}) are more than the ${MAX_LIST_ROWS.toLocaleString('en-US')} such a column is read with`)
  const dataEnd = n - 8 - footerLength
  const groups = structs(meta.get(4)).map((group) => {
    const groupRows = num(group.get(3))
    const chunks = structs(group.get(1))
    if (!(Number.isInteger(groupRows) && groupRows >= 0) || chunks.length !== specs.length) throw fail('a row group does not match the schema')
    return {
      rows: groupRows,
      chunks: chunks.map((chunk, c) => {
        const column = struct(chunk.get(3))
        const spec = specs[c]!
        if (column === undefined || chunk.has(1)) throw fail(`column ${spec.name}: its metadata is elsewhere; expected a self-contained file`)
        if (num(column.get(4)) !== UNCOMPRESSED) throw fail(`column ${spec.name} is compressed; expected uncompressed pages`)
        if (num(column.get(5)) !== groupRows) throw fail(`column ${spec.name} has ${num(column.get(5))} values in a row group of ${groupRows}`)
        const start = column.has(11) ? Math.min(num(column.get(11)), num(column.get(9))) : num(column.get(9))
        const size = num(column.get(7))
        if (!(Number.isInteger(start) && Number.isInteger(size) && start >= 4 && size >= 0 && start + size <= dataEnd)) throw fail(`column ${spec.name}: a chunk of ${size} bytes at ${start} outside the file's ${dataEnd - 4} bytes of pages`)
        return { start, end: start + size }
      }),
    }
  })
  const total = groups.reduce((sum, g) => sum + g.rows, 0)
  if (total !== rows) throw fail(`row groups hold ${total} rows, the footer says ${rows}`)
  const out: Record<string, ParquetColumn> = {}
  const targets = specs.map((s): unknown[] | Float64Array => (s.kind === 'double' || s.kind === 'millis' || s.kind === 'micros' ? new Float64Array(rows).fill(NaN) : new Array(rows).fill(s.kind === 'text' ? '' : false)))
  specs.forEach((s, c) => (out[s.name] = targets[c] as ParquetColumn))
  let row = 0
  for (const group of groups) {
    group.chunks.forEach((chunk, c) => {
      const spec = specs[c]!
      readChunk(bytes, chunk.start, chunk.end, group.rows, spec, targets[c]!, row, (why) => fail(`column ${spec.name}: ${why}`))
    })
    row += group.rows
  }
  if (row !== rows) throw fail(`row groups hold ${row} rows, the footer says ${rows}`)
  return out
}

function startsWithMagic(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0x50 && bytes[at + 1] === 0x41 && bytes[at + 2] === 0x52 && bytes[at + 3] === 0x31
}

function readChunk(bytes: Uint8Array, start: number, end: number, rows: number, spec: { kind: string; optional: boolean }, target: unknown[] | Float64Array, offset: number, fail: (why: string) => DataError): void {
  let pos = start
  let done = 0
  let dictionary: string[] | undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const numeric = spec.kind === 'double' || spec.kind === 'millis' || spec.kind === 'micros'
  while (done < rows) {
    if (!(Number.isInteger(pos) && pos >= 4 && pos < end)) throw fail(`a page offset ${pos} outside its chunk`)
    const reader = new ThriftReader(bytes, pos, end)
    let header: Thrift
    try {
      header = reader.struct()
    } catch (error) {
      throw fail(`unreadable page header (${(error as Error).message})`)
    }
    const size = num(header.get(3))
    const body = reader.pos
    const pageEnd = body + size
    if (!(size >= 0 && pageEnd <= end) || num(header.get(2)) !== size) throw fail('a page runs past the end of its chunk')
    pos = pageEnd
    const type = num(header.get(1))
    if (type === DICTIONARY_PAGE) {
      const page = struct(header.get(7))
      const entries = num(page?.get(1))
      if (spec.kind !== 'text' || dictionary !== undefined || !(Number.isInteger(entries) && entries >= 0 && entries <= size / 4) || num(page!.get(2)) !== PLAIN) throw fail('a dictionary page this reader does not handle')
      dictionary = readTexts(bytes, view, body, pageEnd, entries, fail)
      continue
    }
    if (type !== DATA_PAGE) throw fail(`a page of type ${type}; expected data pages`)
    const page = struct(header.get(5))
    const count = num(page?.get(1))
    if (page === undefined || !(Number.isInteger(count) && count >= 0 && done + count <= rows)) throw fail('a data page with a bad value count')
    const encoding = num(page.get(2))
    let values = body
    let present: Uint32Array | undefined
    if (spec.optional) {
      if (num(page.get(3)) !== RLE || body + 4 > pageEnd) throw fail('bad definition levels')
      const length = view.getUint32(body, true)
      if (body + 4 + length > pageEnd) throw fail('definition levels run past their page')
      present = hybrid(bytes, body + 4, body + 4 + length, count, 1, fail)
      values = body + 4 + length
    }
    let stored = count
    if (present !== undefined) {
      stored = 0
      for (let i = 0; i < count; i++) stored += present[i]!
    }
    // The page's stored values, in order, then spread over its rows (missing rows keep NaN, '' or false).
    let decoded: ArrayLike<number | string | boolean>
    if (encoding === PLAIN && numeric) {
      if (values + stored * 8 > pageEnd) throw fail('values run past their page')
      if (spec.kind === 'double' && present === undefined && LITTLE_ENDIAN) {
        // The page's bytes are the values: one copy into the column.
        const t = target as Float64Array
        new Uint8Array(t.buffer, t.byteOffset + (offset + done) * 8, stored * 8).set(bytes.subarray(values, values + stored * 8))
        done += count
        continue
      }
      const out = new Float64Array(stored)
      if (spec.kind === 'double') for (let k = 0; k < stored; k++) out[k] = view.getFloat64(values + k * 8, true)
      else for (let k = 0; k < stored; k++) out[k] = view.getUint32(values + k * 8, true) + view.getInt32(values + k * 8 + 4, true) * TWO_32
      decoded = out
    } else if (encoding === DELTA_BINARY_PACKED && (spec.kind === 'millis' || spec.kind === 'micros')) {
      decoded = deltaDecode(bytes, values, pageEnd, stored, fail)
    } else if (encoding === PLAIN && spec.kind === 'bool') {
      if (values + Math.ceil(stored / 8) > pageEnd) throw fail('values run past their page')
      decoded = Array.from({ length: stored }, (_, k) => ((bytes[values + (k >> 3)]! >> (k & 7)) & 1) === 1)
    } else if (encoding === PLAIN && spec.kind === 'text') {
      decoded = readTexts(bytes, view, values, pageEnd, stored, fail)
    } else if ((encoding === RLE_DICTIONARY || encoding === PLAIN_DICTIONARY) && spec.kind === 'text' && dictionary !== undefined) {
      if (values >= pageEnd && stored > 0) throw fail('dictionary indexes missing')
      const width = stored === 0 ? 0 : bytes[values]!
      if (width > 32) throw fail(`dictionary indexes of ${width} bits`)
      const codes = hybrid(bytes, values + 1, pageEnd, stored, width, fail)
      const words = dictionary
      decoded = Array.from(codes, (code) => {
        if (code >= words.length) throw fail(`dictionary index ${code} past its ${words.length} entries`)
        return words[code]!
      })
    } else throw fail(`a page in encoding ${encoding}; expected PLAIN, DELTA_BINARY_PACKED (times) or a dictionary (text)`)
    if (spec.kind === 'micros') decoded = Float64Array.from(decoded as Float64Array, (v) => v / 1000)
    if (present === undefined && decoded instanceof Float64Array) (target as Float64Array).set(decoded, offset + done)
    else {
      const t = target as unknown[]
      let k = 0
      for (let i = 0; i < count; i++) if (present === undefined || present[i] === 1) t[offset + done + i] = decoded[k++]
    }
    done += count
  }
}

/** `count` PLAIN byte arrays (4-byte length, then UTF-8) from `at`. */
function readTexts(bytes: Uint8Array, view: DataView, at: number, end: number, count: number, fail: (why: string) => DataError): string[] {
  const decoder = new TextDecoder()
  const out = new Array<string>(count)
  for (let k = 0; k < count; k++) {
    if (at + 4 > end) throw fail('values run past their page')
    const length = view.getUint32(at, true)
    if (at + 4 + length > end) throw fail('a text value runs past its page')
    out[k] = decoder.decode(bytes.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  return out
}

/** DELTA_BINARY_PACKED whole numbers (miniblocks of at most 32 bits). */
function deltaDecode(bytes: Uint8Array, from: number, to: number, count: number, fail: (why: string) => DataError): Float64Array {
  const out = new Float64Array(count)
  const reader = new ThriftReader(bytes, from, to)
  try {
    const block = reader.varint()
    const miniblocks = reader.varint()
    const total = reader.varint()
    const mini = block / miniblocks
    if (!(block > 0 && block % 128 === 0 && miniblocks > 0 && Number.isInteger(mini) && mini % 32 === 0) || total !== count) throw new Error(`block ${block}, ${miniblocks} miniblocks, ${total} values for ${count}`)
    let value = reader.zigzag()
    if (count > 0) out[0] = value
    let k = 1
    const widths: number[] = []
    while (k < count) {
      const min = reader.zigzag()
      for (let m = 0; m < miniblocks; m++) widths[m] = reader.byte()
      for (let m = 0; m < miniblocks && k < count; m++) {
        const width = widths[m]!
        if (width > 32) throw new Error(`a miniblock of ${width} bits`)
        const end = Math.min(count, k + mini)
        if (width === 0) {
          for (; k < end; k++) out[k] = value += min
          continue
        }
        if (reader.pos + (mini * width) / 8 > to) throw new Error('truncated')
        let pos = reader.pos
        let acc = 0
        let bits = 0
        const scale = 2 ** width
        for (; k < end; k++) {
          while (bits < width) {
            acc += bytes[pos++]! * 2 ** bits
            bits += 8
          }
          const low = acc % scale
          acc = (acc - low) / scale
          bits -= width
          out[k] = value += min + low
        }
        reader.pos += (mini * width) / 8
      }
    }
  } catch (error) {
    throw fail(`bad delta-encoded values (${(error as Error).message})`)
  }
  return out
}

/**
 * The most cells (rows × columns) a file of `n` bytes may claim: what the writer puts in the fewest
 * bytes is a column of NULLs or of one text value (one run per page of 2^20 rows, ~30 bytes a page, plus
 * its chunk's metadata) or a regular time grid (~5 bytes per 128 rows). A run's tables put such columns
 * beside numbers (8 bytes a value), so 2^22 cells and 64 per byte of the file keep every one of them,
 * and at most MAX_CELLS in all (MAX_LIST_ROWS for text): a 133 KB file of one text value claimed 60 million rows under the old 512
 * per byte, and the server decoding it for a preview stopped answering for 28 s (125 million: out of memory).
 */
function maxCells(n: number): number {
  return 2 ** 22 + 64 * n
}

/**
 * The most cells of any table read: 2^26, 512 MB of numbers (a 10-million-bar equity table of five
 * strategies fits: time, equity, exposure and one column each).
 */
export const MAX_CELLS = 2 ** 26

/** The most rows of a text or flag column (a JS array: past ~2^25 elements V8 holds it in its slow dictionary form). */
export const MAX_LIST_ROWS = 2 ** 24

/** `count` values of the RLE / bit-packed hybrid at `width` bits (definition levels at 1 bit, dictionary indexes). */
function hybrid(bytes: Uint8Array, from: number, to: number, count: number, width: number, fail: (why: string) => DataError): Uint32Array {
  const out = new Uint32Array(count)
  const reader = new ThriftReader(bytes, from, to)
  const runBytes = Math.ceil(width / 8)
  let i = 0
  try {
    while (i < count) {
      const header = reader.varint()
      if (header % 2 === 0) {
        let value = 0
        for (let b = 0; b < runBytes; b++) value += reader.byte() * 2 ** (8 * b)
        if (width < 32 && value >= 2 ** width) throw new Error(`value ${value} wider than ${width} bits`)
        out.fill(value, i, Math.min(count, i + header / 2))
        i += header / 2
      } else {
        // A bit-packed run: groups of 8 values in `width` bytes each, all present in the page; of its values only
        // those the page still needs are decoded (writers pad runs past the page's values: DuckDB by whole
        // groups; a hostile run at width 0 claims 2^55 values in no bytes).
        const groups = (header - 1) / 2
        const values = groups * 8
        if (values === 0) throw new Error('an empty bit-packed run')
        const length = groups * width
        if (reader.pos + length > to) throw new Error(`a bit-packed run of ${values} values in ${length} bytes, ${to - reader.pos} left`)
        const take = Math.min(values, count - i)
        if (width > 0) {
          let pos = reader.pos
          let acc = 0
          let bits = 0
          const scale = 2 ** width
          for (let j = 0; j < take; j++) {
            while (bits < width) {
              acc += bytes[pos++]! * 2 ** bits
              bits += 8
            }
            const low = acc % scale
            acc = (acc - low) / scale
            bits -= width
            out[i + j] = low
          }
        }
        i += take
        reader.pos += length
      }
    }
  } catch (error) {
    throw fail(`bad ${width === 1 ? 'definition levels' : 'dictionary indexes'} (${(error as Error).message})`)
  }
  return out
}
