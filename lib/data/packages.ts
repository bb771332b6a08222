// DuckDB, arquero and Apache Arrow, loaded when first used (each costs 0.15–0.4 s to load): a command
// that never touches the lake or a table does not pay for them. Loaded through Node's require from this
// folder, which works under every loader mtflow runs in (the CLI's, worker threads', tslab's, vitest's, ESM).

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { moduleDir } from '../core/index.js'

const load = createRequire(join(moduleDir(typeof __dirname === 'string' ? __dirname : undefined, new Error().stack), 'packages.ts'))

let duck: typeof import('@duckdb/node-api') | undefined
let bindings: typeof import('@duckdb/node-bindings') | undefined
let aq: typeof import('arquero') | undefined
let arrow: typeof import('apache-arrow') | undefined

export function duckdbApi(): typeof import('@duckdb/node-api') {
  duck ??= load('@duckdb/node-api') as typeof import('@duckdb/node-api')
  return duck
}

/** The native bindings (their CommonJS exports are the functions: no default to unwrap). */
export function duckdbBindings(): typeof import('@duckdb/node-bindings') {
  bindings ??= load('@duckdb/node-bindings') as typeof import('@duckdb/node-bindings')
  return bindings
}

export function arquero(): typeof import('arquero') {
  aq ??= load('arquero') as typeof import('arquero')
  return aq
}

export function arrowApi(): typeof import('apache-arrow') {
  arrow ??= load('apache-arrow') as typeof import('apache-arrow')
  return arrow
}
