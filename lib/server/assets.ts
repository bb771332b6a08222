// The browser assets of `mtflow serve`: every lib/server/assets/*.js concatenated into one bundle
// (/assets/mtflow.js, and /assets/mtflow.<hash>.js that pages link, cached for good) and the favicon. The
// set of files is read once, at startup; a request names one of these fixed URLs or gets a 404 — no path
// from a request is ever joined to a folder.

import type { Context, Hono } from 'hono'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { moduleDir } from '../core/index.js'
import { sendJson } from './api.js'

/** An image served on its own (an artifact, the favicon): an SVG's styles apply, nothing in it runs. */
export const IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

export interface AssetBundle {
  /** sha256 of the bundle, hex. */
  hash: string
  /** The URL pages link: immutable, its name carries the first 16 hex digits of the hash. */
  scriptUrl: string
  js: Buffer
  favicon: Buffer
  /** The bundle's parts in order (core.js first). */
  files: readonly string[]
}

const FAVICON = 'favicon.svg'
const SCRIPT_TYPE = 'text/javascript; charset=utf-8'
const SVG_TYPE = 'image/svg+xml'

/** Read once per process (the first app created, or the first page rendered): the files are part of the code. */
const cache: { bundle?: AssetBundle } = {}

export function assetBundle(): AssetBundle {
  return (cache.bundle ??= readBundle(join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'assets')))
}

/** core.js first (it makes window.mtflow), then the others by name; each file is its own IIFE. */
export function readBundle(dir: string): AssetBundle {
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.js'))
    .sort((a, b) => (a === 'core.js' ? -1 : b === 'core.js' ? 1 : a < b ? -1 : a > b ? 1 : 0))
  const js = Buffer.from(names.map((n) => `/* ${n} */\n${readFileSync(join(dir, n), 'utf8').replace(/\s*$/, '\n')}`).join(';\n'), 'utf8')
  const hash = createHash('sha256').update(js).digest('hex')
  return { hash, scriptUrl: `/assets/mtflow.${hash.slice(0, 16)}.js`, js, favicon: readFileSync(join(dir, FAVICON)), files: names }
}

/** The asset routes: the bundle by its two names, the favicon by its two; any other /assets path is a 404. */
export function assetRoutes(app: Hono): void {
  const bundle = assetBundle()
  const etag = `"${bundle.hash.slice(0, 32)}"`
  const favEtag = `"${createHash('sha256').update(bundle.favicon).digest('hex').slice(0, 32)}"`
  // Exact pathnames only (as sent, before any decoding): %2e%2e, encoded slashes and the like never match.
  const served = new Map<string, { body: Buffer; type: string; etag: string; immutable: boolean }>([
    ['/assets/mtflow.js', { body: bundle.js, type: SCRIPT_TYPE, etag, immutable: false }],
    [bundle.scriptUrl, { body: bundle.js, type: SCRIPT_TYPE, etag, immutable: true }],
    ['/assets/favicon.svg', { body: bundle.favicon, type: SVG_TYPE, etag: favEtag, immutable: false }],
    ['/favicon.ico', { body: bundle.favicon, type: SVG_TYPE, etag: favEtag, immutable: false }],
  ])
  const handler = (c: Context) => {
    const path = new URL(c.req.url).pathname
    const file = served.get(path)
    if (file === undefined) return sendJson(c, { error: 'no such asset (the bundle is /assets/mtflow.js, the icon /assets/favicon.svg)' }, 404)
    const headers: Record<string, string> = {
      'content-type': file.type,
      'x-content-type-options': 'nosniff',
      etag: file.etag,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    }
    // An SVG opened on its own is a document: it may draw, never run anything.
    if (file.type === SVG_TYPE) headers['content-security-policy'] = IMAGE_CSP
    if (matches(c.req.header('if-none-match'), file.etag)) return c.body(null, 304, headers)
    return c.body(new Uint8Array(file.body.buffer, file.body.byteOffset, file.body.byteLength), 200, headers)
  }
  app.get('/assets/*', handler)
  app.get('/favicon.ico', handler)
}

/** If-None-Match: "*", or a list of (possibly weak) tags one of which is ours. */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '')
    return tag === '*' || tag === etag
  })
}
