// A strategy as it travels in a job: a built-in's name, or a file as a ModuleRef (lib/exec: its path,
// source and hash — loaded where it is when the bytes match, else from the source sent).

import { basename } from 'node:path'
import { loadModuleRef, moduleRef, type ModuleRef } from '../exec/module-ref.js'
import { findStrategy, getStrategy, isStrategyFile, pickStrategy } from './load.js'
import type { Strategy } from './types.js'

export type StrategyRef = { builtin: string } | ModuleRef

/** The ref of a built-in (by name) or of a strategy file (read now). */
export function strategyRef(spec: string): StrategyRef {
  if (!isStrategyFile(spec)) {
    getStrategy(spec)
    return { builtin: spec }
  }
  return moduleRef(spec)
}

/** The ref of a loaded strategy, when it can cross threads: a built-in, or one loaded from a file. */
export function strategyRefOf(strategy: Strategy<any>, file?: string): StrategyRef | undefined {
  if (file !== undefined) return strategyRef(file)
  return findStrategy(strategy.name) === strategy ? { builtin: strategy.name } : undefined
}

/** What the ref names, loaded in this thread (a file through the thread's require hook). */
export function loadStrategyRef(ref: StrategyRef): Strategy<any> {
  if ('builtin' in ref) return getStrategy(ref.builtin)
  return pickStrategy(loadModuleRef(ref, 'strategy'), basename(ref.file))
}
