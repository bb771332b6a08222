// `mtflow router build`: a router model over the best pairs of a train run (issue 20). Being built.

import { Command } from 'commander'
import type { CliContext } from './context.js'

export function routerCommand(_context: CliContext): Command {
  return new Command('router').description('a router model over the best pairs or symbols, registered and servable')
}
