// `mtflow scheduler` (issue 21). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function schedulerCommand(_context: CliContext): Command {
  return new Command('scheduler').description('scheduled jobs: run, list, validate, trigger, history')
}
