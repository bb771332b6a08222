// Where the workspace (MTFLOW_HOME) is: an explicit directory, else $MTFLOW_HOME, else ./data.
// A notebook kernel runs in notebooks/, so "./data" is looked up from the nearest mtflow project root.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { ConfigError } from './errors.js'
import { dirname, join, resolve } from 'node:path'

export function resolveHome(home?: string): string {
  const dir = chooseHome(home)
  // A workspace that does not exist yet is made on first write; one that is a file is a mistake.
  let isFile = false
  try {
    isFile = !statSync(dir).isDirectory()
  } catch {
    /* not there yet */
  }
  if (isFile) throw new ConfigError(`the workspace ${dir} is a file, not a folder (give --home or MTFLOW_HOME a folder)`)
  return dir
}

function chooseHome(home: string | undefined): string {
  if (home !== undefined && home !== '') return resolve(home)
  const fromEnv = process.env.MTFLOW_HOME
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv)
  const root = findProjectRoot(process.cwd())
  return root === undefined ? resolve('data') : join(root, 'data')
}

/** The nearest directory at or above `from` whose package.json is named "mtflow". */
export function findProjectRoot(from: string): string | undefined {
  let dir = resolve(from)
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'mtflow') return dir
      } catch {
        /* not ours */
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * The directory of the module that calls this, in CommonJS (tslab, the CLI: pass `__dirname`) and in ESM
 * without CommonJS globals (tsx's loader: found from the caller's frame in `new Error().stack`).
 */
export function moduleDir(commonJsDirname: string | undefined, stack: string | undefined): string {
  if (commonJsDirname !== undefined) return commonJsDirname
  const frame = stack?.split('\n')[1] ?? ''
  const m = /\(?((?:file:\/\/)?[^()]+?\.[cm]?[tj]s):\d+:\d+\)?\s*$/.exec(frame)
  if (m === null) throw new Error(`cannot locate the calling module from "${frame}"`)
  return dirname(decodeURIComponent(m[1]!.replace(/^file:\/\//, '')))
}

/**
 * A message with the workspace's place on disk written $MTFLOW_HOME (as given, resolved, and its real path:
 * a home reached through a link is named by either). Errors recorded for the server to show — a failed
 * run's `mtflow.error` tag, a scheduled job's error — say where the file is without saying where the
 * workspace is (the server tells no client that; an attack review found Node's "ENOENT …, open '/abs/…'"
 * on run pages, in the JSON API and on /monitoring).
 */
export function withoutHome(message: string, home: string): string {
  const forms = new Set([home, resolve(home)])
  try {
    forms.add(realpathSync(home))
  } catch {
    /* a home that does not exist (yet): the other forms */
  }
  const homes = [...forms].filter((h) => h.length > 1).sort((a, b) => b.length - a.length)
  return homes.reduce((m, h) => m.split(h).join('$MTFLOW_HOME'), message)
}
