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
