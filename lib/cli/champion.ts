// `mtflow champion` (issue 21). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function championCommand(_context: CliContext): Command {
  return new Command('champion').description('champion and challenger models: status, promote, rollback, serving mode')
}
