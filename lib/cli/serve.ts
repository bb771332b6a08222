// `mtflow serve`: the Hono server over the workspace until Ctrl-C; prints the URL and the token that
// mutating requests need.

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import { lazy, type CliContext } from './context.js'

export function serveCommand(context: CliContext): Command {
  return new Command('serve')
    .description('serve runs, the registry, notebooks and dashboards (HTML and a JSON API under /api) until Ctrl-C')
    .option('--port <n>', 'TCP port (0: any free one)', '8787')
    .option('--host <address>', 'address to listen on (loopback by default: reads are open to loopback clients only)', '127.0.0.1')
    .option('--json', 'print {url, token} as one JSON line once listening')
    .action(async (o: { port: string; host: string; json?: boolean }) => {
      const port = Number(o.port)
      if (!/^\d+$/.test(o.port) || port > 65535) throw new ConfigError(`--port must be an integer in [0, 65535] (received ${JSON.stringify(o.port)})`)
      const server = lazy('../server/index.js') as typeof import('../server/index.js')
      const token = server.workspaceToken(context.home)
      let listening: Awaited<ReturnType<typeof server.startServer>>
      try {
        listening = await server.startServer({ home: context.home, token, port, host: o.host })
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} on ${o.host} is in use; pick another with --port`)
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`--host ${o.host} is not an address of this machine`)
        throw error
      }
      if (o.json === true) context.stdout.write(`${JSON.stringify({ url: listening.url, token })}\n`)
      else context.stdout.write(`mtflow serving ${context.home}\n  ${listening.url}\n  token for changes: ${token}\n`)
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          void listening.close().then(resolve)
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    })
}
