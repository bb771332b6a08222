// Another verb run in this process — its own checks and output — for commands made of other commands
// (`pipeline pairs`, scheduled jobs). Its --json stdout is returned; its failure is thrown as it would
// print (exit 2: a ConfigError of its one line).

import { ConfigError } from '../core/index.js'
import { lazy, type CliContext } from './context.js'

export async function runVerb(home: string, args: string[]): Promise<string> {
  const { main } = lazy('./main.js') as typeof import('./main.js')
  let out = ''
  let err = ''
  const context: CliContext = { home, verbose: false, exitCode: 0, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } }
  const code = await main(['--home', home, ...args], context)
  if (code !== 0) {
    const line = err.trim().split('\n').pop()?.replace(/^mtflow: /, '') ?? `exit ${code}`
    throw code === 2 ? new ConfigError(line) : new Error(line)
  }
  return out
}
