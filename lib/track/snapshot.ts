// The compacted form of an experiment index: every run summary as columns in one JSON line
// ({"snapshot": …}). A search reads it with one parse of arrays (about 3× faster than a line of keyed
// objects per run: 10,000 runs parse in tens of milliseconds), then replays the change lines after it.
// Values use the index encoding (non-finite numbers as "#NaN", a leading "#" doubled) and absent ones are null.

import { dict, type Lineage } from '../core/index.js'
import { decodeValue, encodeNumbers } from './jsonl.js'
import type { RunStatus, RunSummary } from './types.js'

export interface Snapshot {
  ids: string[]
  experimentId: string
  name: string[]
  status: RunStatus[]
  start: number[]
  end: (number | null)[]
  parent: (string | null)[]
  host: string[]
  pid: number[]
  lineage: (Lineage | null)[]
  params: Record<string, (string | null)[]>
  tags: Record<string, (string | null)[]>
  /** key → [values, steps, timestamps]. */
  metrics: Record<string, [(number | string | null)[], (number | null)[], (number | null)[]]>
}

export function toSnapshot(experimentId: string, runs: Iterable<RunSummary>): Snapshot {
  const list = [...runs]
  const n = list.length
  const column = <T>(): (T | null)[] => new Array<T | null>(n).fill(null)
  const snap: Snapshot = {
    ids: list.map((s) => s.info.runId),
    experimentId,
    name: list.map((s) => encode(s.info.name)),
    status: list.map((s) => s.info.status),
    start: list.map((s) => s.info.startTime),
    end: list.map((s) => s.info.endTime ?? null),
    parent: list.map((s) => s.info.parentRunId ?? null),
    host: list.map((s) => s.info.host),
    pid: list.map((s) => s.info.pid),
    lineage: list.map((s) => (Object.keys(s.info.lineage).length === 0 ? null : s.info.lineage)),
    params: dict(),
    tags: dict(),
    metrics: dict(),
  }
  list.forEach((s, i) => {
    for (const k in s.params) (snap.params[k] ??= column<string>())[i] = encode(s.params[k]!)
    for (const k in s.tags) (snap.tags[k] ??= column<string>())[i] = encode(s.tags[k]!)
    for (const k in s.metrics) {
      const m = s.metrics[k]!
      const cols = (snap.metrics[k] ??= [column<number | string>(), column<number>(), column<number>()])
      cols[0][i] = encodeNumbers('', m.value) as number | string
      cols[1][i] = m.step
      cols[2][i] = m.timestamp
    }
  })
  return snap
}

export function fromSnapshot(snap: Snapshot, into: Map<string, RunSummary>): void {
  const n = snap.ids.length
  const runs: RunSummary[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const end = snap.end[i]
    const parent = snap.parent[i]
    runs[i] = {
      info: {
        runId: snap.ids[i]!,
        experimentId: snap.experimentId,
        name: decodeValue(snap.name[i]!) as string,
        status: snap.status[i]!,
        startTime: snap.start[i]!,
        ...(end === null || end === undefined ? {} : { endTime: end }),
        ...(parent === null || parent === undefined ? {} : { parentRunId: parent }),
        host: snap.host[i]!,
        pid: snap.pid[i]!,
        lineage: snap.lineage[i] ?? {},
      },
      params: dict<string>(),
      metrics: dict<RunSummary['metrics'][string]>(),
      tags: dict<string>(),
    }
  }
  for (const k in snap.params) {
    const col = snap.params[k]!
    for (let i = 0; i < n; i++) if (col[i] !== null) runs[i]!.params[k] = decodeValue(col[i]!) as string
  }
  for (const k in snap.tags) {
    const col = snap.tags[k]!
    for (let i = 0; i < n; i++) if (col[i] !== null) runs[i]!.tags[k] = decodeValue(col[i]!) as string
  }
  for (const k in snap.metrics) {
    const [values, steps, times] = snap.metrics[k]!
    for (let i = 0; i < n; i++) {
      const v = values[i]
      if (v === null || v === undefined) continue
      runs[i]!.metrics[k] = { value: typeof v === 'number' ? v : (decodeValue(v) as number), step: steps[i]!, timestamp: times[i]! }
    }
  }
  for (const r of runs) into.set(r.info.runId, r)
}

function encode(text: string): string {
  return encodeNumbers('', text) as string
}
