// The error tree every mtflow module throws from. Expected outcomes (a rejected order, a failed cell)
// are values, not exceptions; these are for misuse, bad input and broken invariants.
// `ConfigError` and `DataError` are "bad input": the CLI prints their one-line message and exits 2.

export interface ErrorOptions {
  cause?: unknown
}

export class MtflowError extends Error {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message)
    this.name = new.target.name
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause
  }
}

/** Bad options, arguments or files given by the user. */
export class ConfigError extends MtflowError {}
/** Data that breaks the data contract (prices, timestamps, formats). */
export class DataError extends MtflowError {}
/** A user strategy callback threw; the message names the strategy, the symbol and the bar time. */
export class StrategyError extends MtflowError {}
/** An exchange or broker failed (network, rejection by the venue). */
export class BrokerError extends MtflowError {}
/** Something asked for by name or id does not exist. */
export class NotFoundError extends MtflowError {}
/** A wire protocol was violated (bad signature, malformed message). */
export class ProtocolError extends MtflowError {}

/** True for errors caused by what the user passed in (CLI exit code 2). */
export function isUserError(error: unknown): boolean {
  return error instanceof ConfigError || error instanceof DataError || error instanceof NotFoundError
}

/** The one-line message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? ''
  return String(error).split('\n')[0] ?? ''
}

/**
 * A received value as it may appear in an error message: JSON-like, at most `max` characters (cut with
 * "…"). Walks at most 8 levels and stops writing once past `max`, so a hostile value (nested 100,000
 * deep, or megabytes long) costs almost nothing; JSON.stringify would overflow the stack or copy it all.
 */
export function preview(value: unknown, max = 200): string {
  let out = ''
  const full = () => out.length > max
  const write = (v: unknown, depth: number): void => {
    if (full()) return
    if (typeof v === 'string') out += JSON.stringify(v.length > max ? v.slice(0, max + 1) : v)
    else if (v === null || typeof v !== 'object') out += typeof v === 'bigint' ? `${v}n` : String(v)
    else if (depth >= 8) out += Array.isArray(v) ? '[…]' : '{…}'
    else if (Array.isArray(v)) {
      out += '['
      for (let i = 0; i < v.length && !full(); i++) {
        if (i > 0) out += ','
        write(v[i], depth + 1)
      }
      out += ']'
    } else {
      out += '{'
      let first = true
      for (const k in v as Record<string, unknown>) {
        if (full()) break
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue
        out += `${first ? '' : ','}${JSON.stringify(k.length > max ? k.slice(0, max + 1) : k)}:`
        first = false
        write((v as Record<string, unknown>)[k], depth + 1)
      }
      out += '}'
    }
  }
  write(value, 0)
  return out.length > max ? `${out.slice(0, max - 1)}…` : out
}

/** A message cut to `max` characters (with "…"), for error bodies that may quote what was received. */
export function capMessage(message: string, max = 500): string {
  return message.length > max ? `${message.slice(0, max - 1)}…` : message
}

/**
 * A message with every long input it quotes cut to `max` characters (with "…"): what a request or a
 * command line gave (a 5,000-character run id, alias or path) never comes back whole, wherever in the
 * message it was quoted. `inputs` are the raw texts received; shorter ones are left alone.
 */
export function clipEchoes(message: string, inputs: readonly string[], max = 200): string {
  let out = message
  for (const input of inputs) {
    if (input.length <= max) continue
    const quoted = JSON.stringify(input).slice(1, -1)
    for (const form of quoted === input ? [input] : [input, quoted]) {
      // Also a long stretch of it (a message may quote part of an input, such as one path segment).
      if (out.includes(form)) out = out.split(form).join(`${form.slice(0, max)}…`)
    }
  }
  return out
}

/**
 * A workspace file that cannot be read as what it should be (a corrupt run.json, aliases.json, a
 * damaged JSON line): bad data for the CLI (exit 2), a server-side fault for HTTP (500: the request was
 * fine). The message names the file; nothing is read as "missing" and nothing overwrites it.
 */
export class CorruptFileError extends DataError {
  constructor(
    message: string,
    readonly file: string,
    options: ErrorOptions = {},
  ) {
    super(message, options)
  }
}
