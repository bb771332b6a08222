// Writing into the market-data lake: validated rows merge with what a dataset holds into a new
// generation (changed partitions written, unchanged ones hard-linked), switched to with one atomic
// rename of the pointer, under the dataset's lock held for that one write (generations.ts: the layout).

import { open } from 'node:fs/promises'
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { syncDirectory, withLock, writeFileAtomic } from '../core/index.js'
import { duckdb, duckdbWriters, sqlFile, sqlString } from './duckdb.js'
import {
  currentGeneration,
  datasetDir,
  DATASET_LOCK,
  generationDir,
  generationsIn,
  partitionFilesIn,
  periodOfFile,
  POINTER_FILE,
  removeDatasetDebris,
  removeGeneration,
  type DatasetKey,
} from './generations.js'
import { partitionIn, periodRanges, type PeriodRange } from './lake.js'

export interface WriteResult {
  /** Rows new to the lake. */
  added: number
  /** Rows the lake already held with the same values (dropped). */
  unchanged: number
  /** Rows whose time the lake already held with other values (quarantined as conflict_existing). */
  conflicts: number
  partitions: string[]
}

/**
 * Merge the rows of a validated DuckDB table (columns t, open, high, low, close, volume; t in epoch ms,
 * unique, on the grid) into the lake. Existing rows win over conflicting new ones, which are added to
 * `conflictTable` for quarantine. Idempotent: writing the same rows twice changes nothing.
 * Partitions the current generation does not hold are written one COPY each, two at a time; existing
 * ones are merged one by one; the dataset's lock is held for that one write only. Rows outside
 * 1970–2200 must have been quarantined before (periodOf refuses them).
 */
export async function mergeIntoLake(home: string, key: DatasetKey, table: string, conflictTable: string): Promise<WriteResult> {
  const conn = await duckdb()
  const span = (await conn.runAndReadAll(`SELECT min(t) AS a, max(t) AS b FROM ${table}`)).getRowObjects()[0]!
  const result: WriteResult = { added: 0, unchanged: 0, conflicts: 0, partitions: [] }
  if (span.a === null) return result
  // Periods as time ranges computed here: the SQL filters on t, with no per-row date arithmetic.
  const periods = periodRanges(Number(span.a), Number(span.b), key.timeframe)
  const dataset = datasetDir(home, key)
  mkdirSync(dataset, { recursive: true })
  // One writer per dataset at a time: each builds on the generation before it, so none is lost.
  await withLock(join(dataset, DATASET_LOCK), async () => {
    // Dead writers' temp files and half-built generations, and generations older than the previous one.
    removeDatasetDebris(dataset)
    const base = currentGeneration(dataset)
    const next = base.generation + 1
    const target = generationDir(dataset, next)
    rmSync(target, { recursive: true, force: true })
    mkdirSync(target, { recursive: true })
    const io: PartitionIo = { from: (p) => partitionIn(base.dir, p), to: (p) => partitionIn(target, p) }
    try {
      const fresh = periods.filter((p) => !existsSync(io.from(p.period)))
      if (fresh.length > 0) await writeNewPartitions(io, table, fresh, result)
      for (const range of periods) {
        if (result.partitions.includes(range.period)) continue
        await mergePartition(io, table, range, conflictTable, result)
      }
      if (result.partitions.length === 0) {
        rmSync(target, { recursive: true, force: true }) // nothing new: no generation
        return
      }
      // Unchanged partitions join the new generation as hard links (no copy; the old name stays valid).
      for (const file of partitionFilesIn(base.dir)) {
        const period = periodOfFile(file)
        if (result.partitions.includes(period)) continue
        mkdirSync(join(io.to(period), '..'), { recursive: true })
        try {
          linkSync(file, io.to(period))
        } catch {
          copyFileSync(file, io.to(period)) // a filesystem without hard links: a copy, flushed like a new file
          await fsyncFile(io.to(period))
        }
      }
      // Folder entries made durable before the pointer names them (a power cut must not leave a
      // pointer to a generation whose files were never recorded in their folders).
      for (const name of readdirSync(target)) syncDirectory(join(target, name))
      syncDirectory(target)
      // The switch: one atomic rename of the pointer. Readers holding the old generation finish on it.
      writeFileAtomic(join(dataset, POINTER_FILE), `${JSON.stringify({ generation: next })}\n`)
    } catch (error) {
      // The half-built generation goes, unless the pointer names it (then it is published data: a
      // failure after the switch, or another writer's, must not delete it).
      let published = true
      try {
        published = currentGeneration(dataset).generation === next
      } catch {
        /* an unreadable pointer: the folder is kept (debris at worst, never lost data) */
      }
      if (!published) rmSync(target, { recursive: true, force: true })
      throw error
    }
    for (const g of generationsIn(dataset)) if (g < base.generation) removeGeneration(dataset, g)
  })
  result.partitions.sort()
  return result
}

/** Where a write reads a period's current partition and where it writes the new one. */
interface PartitionIo {
  from(period: string): string
  to(period: string): string
}

// Uncompressed and PLAIN (no dictionary): price columns barely compress (snappy saved ~10% on
// minute bars), and files in this layout are read without DuckDB (parquet-plain.ts).
const COPY_OPTIONS = 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1'

function timestampColumns(alias = ''): string {
  const a = alias === '' ? '' : `${alias}.`
  return `make_timestamp((${a}t * 1000)::BIGINT) AS time, ${a}open AS open, ${a}high AS high, ${a}low AS low, ${a}close AS close, ${a}volume AS volume`
}

let tempCounter = 0

/**
 * Partitions the current generation has no file for: each written with its own COPY (two at a time,
 * on the writer connections) into the new generation. The caller holds the dataset's lock.
 */
async function writeNewPartitions(io: PartitionIo, table: string, fresh: PeriodRange[], result: WriteResult): Promise<void> {
  for (const f of fresh) mkdirSync(join(io.to(f.period), '..'), { recursive: true })
  // One COPY per partition: a partitioned COPY is one statement, but DuckDB writes it with several
  // threads and the rows inside each file lose their time order.
  const writers = await duckdbWriters()
  let next = 0
  let failed = false
  const work = async (conn: DuckDBConnection) => {
    while (next < fresh.length && !failed) {
      const f = fresh[next++]!
      const file = io.to(f.period)
      const tmp = `${file}.${process.pid}.${++tempCounter}.tmp`
      try {
        const written = await conn.runAndReadAll(
          `COPY (SELECT ${timestampColumns()} FROM ${table} WHERE t >= ${f.from} AND t < ${f.to} ORDER BY t) TO ${sqlString(tmp)} (${COPY_OPTIONS})`,
        )
        const rows = Number(written.getRows()[0]?.[0] ?? 0)
        if (rows === 0) continue
        await fsyncFile(tmp)
        renameSync(tmp, file)
        result.added += rows
        result.partitions.push(f.period)
      } finally {
        rmSync(tmp, { force: true })
      }
    }
  }
  // The first failure stops both writers; files already moved in are complete partitions.
  const outcomes = await Promise.allSettled(writers.map((conn) => work(conn).catch((error: unknown) => {
    failed = true
    throw error
  })))
  const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
}

/**
 * Merge one period's new rows with the current generation's partition (read, union) into the new
 * generation's file. The caller holds the dataset's lock.
 */
async function mergePartition(io: PartitionIo, table: string, range: PeriodRange, conflictTable: string, result: WriteResult): Promise<void> {
  const conn = await duckdb()
  const file = io.from(range.period)
  const fresh = `(SELECT t, open, high, low, close, volume FROM ${table} WHERE t >= ${range.from} AND t < ${range.to})`
  if (Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${fresh}`)).getRowObjects()[0]!.n) === 0) return
  let source = fresh
  let added: number
  if (existsSync(file)) {
    const old = `(SELECT epoch_ms(time)::DOUBLE AS t, open, high, low, close, volume FROM read_parquet(${sqlFile(file)}, hive_partitioning = false))`
    const counts = (
      await conn.runAndReadAll(
        `SELECT count(*) FILTER (WHERE o.t IS NULL) AS added,
                count(*) FILTER (WHERE o.t IS NOT NULL AND ${sameValues('n', 'o')}) AS unchanged,
                count(*) FILTER (WHERE o.t IS NOT NULL AND NOT ${sameValues('n', 'o')}) AS conflicts
         FROM ${fresh} n LEFT JOIN ${old} o ON n.t = o.t`,
      )
    ).getRowObjects()[0]!
    added = Number(counts.added)
    result.unchanged += Number(counts.unchanged)
    const conflicts = Number(counts.conflicts)
    if (conflicts > 0) {
      result.conflicts += conflicts
      await conn.run(
        `INSERT INTO ${conflictTable} (t, open, high, low, close, volume, reason) SELECT n.t, n.open, n.high, n.low, n.close, n.volume, 'conflict_existing'
         FROM ${fresh} n JOIN ${old} o ON n.t = o.t WHERE NOT ${sameValues('n', 'o')}`,
      )
    }
    if (added === 0) return
    source = `(SELECT * FROM ${old} UNION ALL SELECT n.* FROM ${fresh} n ANTI JOIN ${old} o ON n.t = o.t)`
  } else {
    added = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${fresh}`)).getRowObjects()[0]!.n)
  }
  const target = io.to(range.period)
  mkdirSync(join(target, '..'), { recursive: true })
  const tmp = `${target}.${process.pid}.${++tempCounter}.tmp`
  try {
    await conn.run(`COPY (SELECT ${timestampColumns()} FROM ${source} ORDER BY t) TO ${sqlString(tmp)} (${COPY_OPTIONS})`)
    await fsyncFile(tmp)
    renameSync(tmp, target)
  } finally {
    rmSync(tmp, { force: true })
  }
  result.added += added
  result.partitions.push(range.period)
}

/** Equal values, NaN equal to NaN (missing volume). */
function sameValues(a: string, b: string): string {
  const each = ['open', 'high', 'low', 'close', 'volume'].map((c) => `(${a}.${c} IS NOT DISTINCT FROM ${b}.${c} OR (isnan(${a}.${c}) AND isnan(${b}.${c})))`)
  return `(${each.join(' AND ')})`
}


/** Flush a written file to disk, off the main thread (the other writer keeps going meanwhile). */
async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
