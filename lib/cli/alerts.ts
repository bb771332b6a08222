// `mtflow alerts` (issue 21). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function alertsCommand(_context: CliContext): Command {
  return new Command('alerts').description('alert sinks: check the configuration, send a test alert, list the history')
}
