// `mtflow monitor` (issue 21). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function monitorCommand(_context: CliContext): Command {
  return new Command('monitor').description('drift and performance monitors: mtflow monitor drift, monitor status')
}
