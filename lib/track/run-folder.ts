// Where runs' folders are and what their own tags files say, read without a Tracker: the registry checks a
// run's lifecycle here before a version records it (the store imports the registry through lifecycle.ts, so
// the registry cannot import the store).

import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { readRecords } from './jsonl.js'

/** The tag holding a run's lifecycle stage: "deleted", or "active" (also when absent). */
export const LIFECYCLE_TAG = 'mtflow.lifecycle'

/** The folders (the ones holding a run.json) of those of `runIds` found under the runs folder `root`. */
export function findRunFolders(root: string, runIds: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>()
  const ids = [...runIds].filter((id) => typeof id === 'string' && /^[\w-]{1,64}$/.test(id))
  if (ids.length === 0 || !existsSync(root)) return out
  // One listing of the experiments for all ids (a strategy version may link a sweep's many runs).
  const experiments = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())
  for (const id of ids) {
    for (const entry of experiments) {
      const dir = join(root, entry.name, id)
      if (existsSync(join(dir, 'run.json'))) {
        out.set(id, dir)
        break
      }
    }
  }
  return out
}

/** A run's tags as its tags.jsonl has them (the truth: the experiment index may lag after a crash). */
export function tagsInFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const r of readRecords<Record<string, string>>(join(dir, 'tags.jsonl')).records) Object.assign(out, r)
  return out
}
