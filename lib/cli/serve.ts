// `mtflow serve`: the Hono server over the workspace until Ctrl-C; prints the login URL (it sets the
// browser's cookie) and the token API clients send.

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import { lazy, type CliContext } from './context.js'

export function serveCommand(context: CliContext): Command {
  return new Command('serve')
    .description('serve runs, the registry, notebooks and dashboards (HTML and a JSON API under /api) until Ctrl-C')
    .option('--port <n>', 'TCP port (0: any free one)', '8787')
    .option('--host <address>', 'address to listen on (loopback by default)', '127.0.0.1')
    .option('--allow-host <name>', 'another Host name to answer to (a proxy, a DNS name of this machine); repeatable', collect, [] as string[])
    .option('--json', 'print {url, login, token} as one JSON line once listening')
    .action((o: { port: string; host: string; allowHost: string[]; json?: boolean }) =>
      serveUntilStopped(context, { port: parsePort(o.port), host: o.host, allowHosts: o.allowHost, json: o.json === true }),
    )
}

/** Commander's collector for a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A --port value, checked. */
export function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65535) throw new ConfigError(`--port must be an integer in [0, 65535] (received ${JSON.stringify(value)})`)
  return port
}

/** Serve the workspace, print the URL and the token (or {url, token} as JSON), and return on Ctrl-C / SIGTERM. */
export async function serveUntilStopped(context: CliContext, o: { port: number; host: string; json: boolean; allowHosts?: string[] }): Promise<void> {
  const server = lazy('../server/index.js') as typeof import('../server/index.js')
  const token = server.workspaceToken(context.home)
  let listening: Awaited<ReturnType<typeof server.startServer>>
  try {
    listening = await server.startServer({ home: context.home, token, port: o.port, host: o.host, allowHosts: o.allowHosts })
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EADDRINUSE') throw new ConfigError(`port ${o.port} on ${o.host} is in use (another mtflow serve?); pick another with --port`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`--host ${o.host} is not an address of this machine`)
    throw error
  }
  const login = server.loginUrl(listening.url, token)
  if (o.json) context.stdout.write(`${JSON.stringify({ url: listening.url, login, token })}\n`)
  else context.stdout.write(`mtflow serving ${context.home}\n\n  ${login}\n\n  Open that URL once in your browser (it sets a cookie); API clients send Authorization: Bearer ${token}\n  Ctrl-C stops the server.\n`)
  await untilStopped(listening)
}

/** Resolve on Ctrl-C / SIGTERM, once the server has closed. */
export function untilStopped(listening: { close(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void listening.close().then(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
