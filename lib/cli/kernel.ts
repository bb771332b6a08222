// `mtflow kernel install|status`: the Jupyter kernelspec that runs notebooks on this project's tslab.

import { Command } from 'commander'
import { installKernelSpec, kernelStatus, KERNEL_NAME } from '../../kernel/kernelspec.js'
import { printJson, type CliContext } from './context.js'

export function kernelCommand(context: CliContext): Command {
  const kernel = new Command('kernel').description('the Jupyter kernel for mtflow notebooks (TypeScript, tslab)')
  kernel
    .command('install')
    .description(`register the "${KERNEL_NAME}" kernelspec with Jupyter (it starts this project's own tslab)`)
    .option('--user', 'install for the current user (the default when not root)')
    .option('--prefix <dir>', 'install under DIR/share/jupyter/kernels (e.g. a virtualenv)')
    .option('--json', 'print the result as JSON')
    .action((options: { user?: boolean; prefix?: string; json?: boolean }) => {
      const result = installKernelSpec({ user: options.user, prefix: options.prefix })
      if (options.json === true) return printJson(context, result)
      context.stdout.write(`installed kernelspec ${KERNEL_NAME} in ${result.path}\n`)
      context.stdout.write(`kernel: ${result.spec.argv.slice(0, 2).join(' ')}\n`)
    })
  kernel
    .command('status')
    .description('report whether Jupyter and the mtflow kernelspec are found, and where')
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }) => {
      const status = await kernelStatus()
      if (options.json === true) return printJson(context, status)
      const { jupyter, kernelspec } = status
      context.stdout.write(
        `jupyter:    ${jupyter.found ? `${jupyter.path}${jupyter.version === undefined ? '' : ` (jupyter_core ${jupyter.version})`}` : 'not found on PATH (install: apt-get install jupyter-notebook, or pip install notebook)'}\n`,
      )
      if (kernelspec.found) {
        context.stdout.write(`kernelspec: ${KERNEL_NAME} in ${kernelspec.path}${kernelspec.usable === false ? ` — broken: ${kernelspec.problem}` : ''}\n`)
      } else {
        context.stdout.write(`kernelspec: ${KERNEL_NAME} not installed (run: npx mtflow kernel install)\n`)
      }
    })
  return kernel
}
