// `mtflow lifecycle` (what `npm start` runs): the research lifecycle on the workspace and the bundled
// data. For now it runs the quickstart notebook headless; later stages (ingest, backtest, track,
// publish) join it here.

import { Command } from 'commander'
import { join } from 'node:path'
import { streamProgressSink } from '../core/index.js'
import { PROJECT_ROOT } from '../../kernel/kernelspec.js'
import { reportRun, runWithInterrupt } from './notebook.js'
import { lazy, type CliContext } from './context.js'

export function lifecycleCommand(context: CliContext): Command {
  return new Command('lifecycle')
    .description('run the research lifecycle on the workspace: today, the quickstart notebook, headless')
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }) => {
      const { defaultRunPath, runNotebook } = lazy('../../kernel/runner.js') as typeof import('../../kernel/runner.js')
      const notebook = join(PROJECT_ROOT, 'notebooks', '00-quickstart.ipynb')
      if (options.json !== true) context.stdout.write(`workspace: ${context.home}\nrunning ${notebook}\n`)
      const result = await runWithInterrupt((signal) =>
        runNotebook(notebook, { out: defaultRunPath(notebook, context.home), home: context.home, signal, progress: streamProgressSink(context.stderr) }),
      )
      reportRun(context, result, options.json === true)
    })
}
