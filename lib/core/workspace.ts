// Where the workspace (MTFLOW_HOME) is: an explicit directory, else $MTFLOW_HOME, else ./data.
// A notebook kernel runs in notebooks/, so "./data" is looked up from the nearest mtflow project root.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { ConfigError } from './errors.js'
import { dirname, isAbsolute, join, resolve } from 'node:path'

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
  const absolute = new Set([resolve(home)])
  try {
    absolute.add(realpathSync(home))
  } catch {
    /* a home that does not exist (yet): the other forms */
  }
  // The home as given when it is relative ("data"): only where it starts a path ("data/lake/…"), not the word.
  const given = isAbsolute(home) ? [] : [home.replace(/[\\/]+$/, '')].filter((h) => h !== '' && h !== '.' && h !== '..')
  const forms = [...[...absolute].filter((h) => h.length > 1).map((h) => ({ h, relative: false })), ...given.map((h) => ({ h, relative: true }))].sort((a, b) => b.h.length - a.h.length)
  // A whole path only: "/tmp/x" is not the start of "/tmp/xy" or "/tmp/x-2024.csv", nor the end of "/var/tmp/x".
  return forms.reduce((m, { h, relative }) => m.replace(new RegExp(`${HOME_BEFORE}${escapeRegExp(h)}${relative ? '(?=[\\\\/])' : HOME_AFTER}`, 'g'), '$$MTFLOW_HOME'), message)
}

/** Not inside a longer name or path (a "file://" URL's path excepted). */
const HOME_BEFORE = '(?<![\\w.~-])(?<!(?<!file:/)/)'
/** The path ends here: a separator, the end, a space, quote or bracket, or a sentence's full stop. */
const HOME_AFTER = '(?=$|[\\\\/\\s\'"`:;,)\\]}>]|\\.(?:$|\\s))'

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
