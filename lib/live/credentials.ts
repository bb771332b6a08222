// A live deployment's exchange credentials: from MTFLOW_<EXCHANGE>_API_KEY / _SECRET / _PASSWORD, or from a
// JSON file { apiKey, secret, password? } that only its owner can read (mode 0600, a regular file, no link).
// Errors name the file and the variables, never a value; `redact` takes every value (and its encoded forms)
// out of a text, for errors and logs that pass through exchange code. Paper mode never calls this.
// Not re-exported by lib/live/index.ts: it loads ccxt (large) to know which exchanges need a password.

import ccxt from 'ccxt'
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { BrokerError, ConfigError } from '../core/index.js'
import type { DeploymentConfig } from './config.js'

export interface Credentials {
  readonly apiKey: string
  readonly secret: string
  /** The API passphrase some exchanges need (ccxt's requiredCredentials.password: okx, kucoin, bitget…). */
  readonly password?: string
}

export interface CredentialOptions {
  /** The environment to read (process.env in the CLI; a test's own object). */
  env: Readonly<Record<string, string | undefined>>
  /** A JSON credentials file; when given, the environment is not read. */
  file?: string
  /** Whether a password is required. Default: what ccxt says of the exchange (requiredCredentials.password). */
  needsPassword?: boolean
}

/** The largest credentials file read (a few hundred bytes is usual). */
const MAX_FILE_BYTES = 64 * 1024
const FILE_FIELDS = ['apiKey', 'secret', 'password'] as const

/** The environment variables of an exchange: its id uppercased, anything but letters and digits → "_". */
export function credentialVariables(exchange: string): { apiKey: string; secret: string; password: string } {
  const id = exchange.toUpperCase().replace(/[^A-Z0-9]/g, '_')
  return { apiKey: `MTFLOW_${id}_API_KEY`, secret: `MTFLOW_${id}_SECRET`, password: `MTFLOW_${id}_PASSWORD` }
}

/**
 * The credentials for `exchange` (a ccxt id) from `options.file` when given, else from the environment.
 * A ConfigError (bad input: exit 2) names what is missing or wrong — a variable, a file, a field — and
 * never quotes a value.
 */
export function loadCredentials(exchange: string, options: CredentialOptions): Credentials {
  const needsPassword = options.needsPassword ?? exchangeNeedsPassword(exchange)
  const vars = credentialVariables(exchange)
  const how = `set ${vars.apiKey} and ${vars.secret}${needsPassword ? ` and ${vars.password}` : ''}, or give --credentials FILE (JSON { apiKey, secret${needsPassword ? ', password' : ''} }, mode 0600)`
  if (options.file !== undefined) return fromFile(exchange, options.file, needsPassword)

  const value = (name: string) => {
    const v = options.env[name]
    return v === undefined || v === '' ? undefined : v
  }
  const apiKey = value(vars.apiKey)
  const secret = value(vars.secret)
  const password = value(vars.password)
  if (apiKey === undefined && secret === undefined) throw new ConfigError(`live trading on ${exchange} needs credentials: ${how}`)
  if (apiKey === undefined) throw new ConfigError(`${vars.apiKey} is not set (${vars.secret} is); ${how}`)
  if (secret === undefined) throw new ConfigError(`${vars.secret} is not set (${vars.apiKey} is); ${how}`)
  if (needsPassword && password === undefined) throw new ConfigError(`${exchange} needs an API password: ${vars.password} is not set; ${how}`)
  return credentials(apiKey, secret, password)
}

/**
 * The credentials a deployment trades with. Live mode only: a paper deployment trades on the simulated
 * venue and must never read a key (nor build an authenticated client), so asking is a ConfigError.
 */
export function credentialsFor(config: Pick<DeploymentConfig, 'name' | 'mode' | 'venue'>, options: Omit<CredentialOptions, 'needsPassword'>): Credentials {
  if (config.mode !== 'live') throw new ConfigError(`deployment ${config.name} is a ${String(config.mode)} deployment: it reads no credentials (only live deployments do)`)
  return loadCredentials(config.venue.exchange, options)
}

function fromFile(exchange: string, file: string, needsPassword: boolean): Credentials {
  const refuse = (problem: string): never => {
    throw new ConfigError(`credentials file ${file} ${problem}`)
  }
  let st
  try {
    st = lstatSync(file)
  } catch (error) {
    const code = (error as { code?: string }).code
    return refuse(code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`)
  }
  if (st.isSymbolicLink()) refuse('is a symbolic link; give the file itself (mode 0600), not a link to it')
  if (!st.isFile()) refuse('is not a regular file')
  // Group or other bits: someone else may read the secret (ssh refuses keys the same way).
  if ((st.mode & 0o077) !== 0) refuse(`has mode 0${(st.mode & 0o777).toString(8)}; expected 0600 (readable by its owner only): chmod 600 ${file}`)
  if (st.size > MAX_FILE_BYTES) refuse(`is ${st.size} bytes; expected a small JSON object { apiKey, secret, password? }`)
  // Opened without following links and checked again: the file checked is the file read.
  let text: string
  let fd: number | undefined
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    const opened = fstatSync(fd)
    if (opened.ino !== st.ino || opened.dev !== st.dev || (opened.mode & 0o077) !== 0 || !opened.isFile()) refuse('changed while it was being opened; try again')
    text = readFileSync(fd, 'utf8')
  } catch (error) {
    if (error instanceof ConfigError) throw error
    return refuse(`cannot be read (${(error as { code?: string }).code ?? 'error'})`)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text: not repeated here.
    return refuse('is not valid JSON; expected { "apiKey": "…", "secret": "…"' + (needsPassword ? ', "password": "…"' : '') + ' }')
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return refuse('must hold a JSON object { apiKey, secret, password? }')
  const o = raw as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!(FILE_FIELDS as readonly string[]).includes(key)) refuse(`has an unexpected field${/^[A-Za-z_]{1,24}$/.test(key) ? ` "${key}"` : ''}; expected apiKey, secret and password only`)
  }
  for (const key of ['apiKey', 'secret'] as const) {
    if (o[key] === undefined) refuse(`has no "${key}"; expected { apiKey, secret${needsPassword ? ', password' : ''} }`)
    if (typeof o[key] !== 'string' || o[key] === '') refuse(`field "${key}" must be a non-empty string`)
  }
  if (o.password !== undefined && (typeof o.password !== 'string' || o.password === '')) refuse('field "password" must be a non-empty string')
  if (needsPassword && o.password === undefined) refuse(`has no "password"; ${exchange} needs an API password`)
  return credentials(o.apiKey as string, o.secret as string, o.password as string | undefined)
}

/** The credentials object; printed, logged or serialised, it shows "***" for every value. */
function credentials(apiKey: string, secret: string, password: string | undefined): Credentials {
  const c: Credentials = password === undefined ? { apiKey, secret } : { apiKey, secret, password }
  const masked = () => (password === undefined ? { apiKey: '***', secret: '***' } : { apiKey: '***', secret: '***', password: '***' })
  Object.defineProperty(c, 'toJSON', { value: masked, enumerable: false })
  Object.defineProperty(c, inspect.custom, { value: () => `Credentials ${inspect(masked())}`, enumerable: false })
  return Object.freeze(c)
}

const passwordNeeded = new Map<string, boolean>()

/** ccxt's requiredCredentials.password for an exchange id; a ConfigError for an id ccxt does not know. */
export function exchangeNeedsPassword(exchange: string): boolean {
  const known = passwordNeeded.get(exchange)
  if (known !== undefined) return known
  const all = ccxt as unknown as Record<string, new (config: object) => { requiredCredentials?: Record<string, boolean> }> & { exchanges: string[] }
  if (!all.exchanges.includes(exchange)) throw new ConfigError(`unknown exchange ${JSON.stringify(exchange.slice(0, 40))}; expected a ccxt exchange id such as binance, okx, kraken`)
  // An unauthenticated instance: it only describes the exchange, it sends nothing.
  const needs = new all[exchange]!({}).requiredCredentials?.password === true
  passwordNeeded.set(exchange, needs)
  return needs
}

/**
 * `text` with every credential value replaced by "***": as given, URL-encoded (query strings, form bodies)
 * and JSON-escaped. Longest first, so a value that contains another is replaced whole.
 */
export function redact(text: string, credentials: Credentials): string {
  return redactSecrets(text, [credentials.apiKey, credentials.secret, credentials.password])
}

/**
 * The forms a secret takes when an exchange echoes it back: as given, URL-encoded (path and form), JSON-escaped
 * once and twice (a body quoted inside a message), base64 and base64url (a Basic header).
 */
export function secretForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1)
  return [value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2), json, JSON.stringify(json).slice(1, -1), ...base64Cores(value)]
}

/**
 * The base64 (and base64url) text of a secret wherever it sits in an encoded string — alone, or inside one such
 * as a Basic header's base64("key:secret"): at each of the three byte offsets, the characters that encode the
 * secret's bytes alone (the group it shares with bytes before or after it left out). Alone, the secret's own
 * encoding matched only when what came before it was a multiple of 3 bytes long (a review: the secret of a
 * Basic header read back in full). Cores shorter than 8 characters are not kept (they would match ordinary
 * text): a secret of 7 bytes or fewer is found inside a longer encoded string only at an offset of 0. Not found:
 * base64 whose + and / are themselves URL-encoded.
 */
function base64Cores(value: string): string[] {
  const bytes = Buffer.from(value)
  const out: string[] = []
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes])
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = padded.toString(encoding).replace(/=+$/, '')
      // Leading: the first group holds `offset` foreign bytes when offset > 0. Trailing: a last group with fewer
      // than 3 of the secret's bytes is encoded with whatever follows it.
      const from = offset === 0 ? 0 : 4
      const whole = Math.floor(padded.length / 3) * 4
      const core = text.slice(from, whole)
      if (core.length >= 8) out.push(core)
      if (offset === 0) out.push(padded.toString(encoding))
    }
  }
  return [...new Set(out)]
}

/** Every form of each secret (secretForms) replaced by *** in a text, the longest first. One function for the terminal, the journal and the alerts. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const forms = new Set<string>()
  for (const value of secrets) if (value !== undefined && value !== '') for (const form of secretForms(value)) forms.add(form)
  let out = text
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (form !== '' && out.includes(form)) out = out.split(form).join('***')
  }
  return out
}

/**
 * An error from exchange code as a BrokerError whose message, stack and cause carry no credential: ccxt
 * puts request URLs and bodies (signed queries, headers) into its messages.
 */
export function redactError(error: unknown, credentials: Credentials, context?: string): BrokerError {
  const name = error instanceof Error ? error.name : 'Error'
  const message = redact(error instanceof Error ? error.message : String(error), credentials)
  const cause = new Error(message)
  cause.name = name
  cause.stack = redact(error instanceof Error ? (error.stack ?? message) : message, credentials)
  return new BrokerError(`${context === undefined ? '' : `${context}: `}${name}: ${message.split('\n')[0]}`, { cause })
}
