// `mtflow portfolio`: signals to risk-capped target positions and an orders file (issue 20). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function portfolioCommand(_context: CliContext): Command {
  return new Command('portfolio').description('signals to risk-capped target positions, orders and a production config')
}
