// `mtflow models`: packaged models in the registry — list them, show one's signature and metrics, and
// serve one (`models serve NAME@ALIAS`: /invocations, /ping, /version, as MLflow's scoring server).

import { Command } from 'commander'
import { formatTable, lazy, printJson, type CliContext } from './context.js'
import { collect, parsePort, untilStopped } from './serve.js'

export function modelsCommand(context: CliContext): Command {
  const models = new Command('models').description('packaged models in the registry: list, show, serve')
  models
    .command('list')
    .description('registered models: versions, aliases, family, task and metrics of the latest')
    .option('--json', 'print the list as JSON')
    .action((o: { json?: boolean }) => {
      const { openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
      const entries = openRegistry(context.home).list('models')
      const rows = entries.map((e) => {
        const latest = e.versions[e.versions.length - 1]
        const meta = (latest?.metadata ?? {}) as { family?: string; task?: string; metrics?: Record<string, number> }
        return { name: e.name, versions: e.versions.length, latest: latest?.version ?? null, aliases: e.aliases, family: meta.family ?? '', task: meta.task ?? '', metrics: meta.metrics ?? {} }
      })
      if (o.json === true) return printJson(context, rows)
      if (rows.length === 0) return void context.stdout.write('no models registered\n')
      context.stdout.write(
        formatTable(
          ['name', 'versions', 'latest', 'aliases', 'family', 'task', 'metrics'],
          rows.map((r) => [r.name, String(r.versions), String(r.latest), Object.entries(r.aliases).map(([a, v]) => `${a}→${v}`).join(' '), r.family, r.task, Object.entries(r.metrics).map(([k, v]) => `${k} ${Number(v).toFixed(4)}`).join(', ')]),
        ),
      )
    })
  models
    .command('show')
    .description("a model version's package: signature, data hash, metrics, run")
    .argument('<ref>', 'NAME, NAME@VERSION or NAME@ALIAS')
    .option('--json', 'print the description as JSON')
    .action((ref: string, o: { json?: boolean }) => {
      const { openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
      const { loadPackage } = lazy('../ml/index.js') as typeof import('../ml/index.js')
      const { pkg, name, version } = loadPackage(openRegistry(context.home), ref)
      const shown = { name, version, family: pkg.family, task: pkg.task, signature: pkg.signature, dataSnapshot: pkg.dataSnapshot, trainingRows: pkg.trainingRows, metrics: pkg.metrics, runId: pkg.runId ?? null }
      if (o.json === true) return printJson(context, shown)
      context.stdout.write(`${name}@${version}  ${pkg.family} ${pkg.task}, ${pkg.trainingRows} training rows, data ${pkg.dataSnapshot.slice(0, 12)}${pkg.runId === undefined ? '' : `, run ${pkg.runId}`}\n`)
      context.stdout.write(`inputs: ${pkg.signature.inputs.map((f) => `${f.name} (${f.type}${f.nullable === true ? ', nullable' : ''})`).join(', ')}\n`)
      context.stdout.write(`output: ${pkg.signature.output.name}${pkg.signature.output.classes === undefined ? '' : ` classes [${pkg.signature.output.classes.join(', ')}]`}\n`)
      context.stdout.write(`metrics: ${Object.entries(pkg.metrics).map(([k, v]) => `${k} ${v}`).join(', ') || '—'}\n`)
    })
  models
    .command('serve')
    .description('serve one model version: POST /invocations, GET /ping, GET /version (until Ctrl-C)')
    .argument('<ref>', 'NAME@ALIAS, NAME@VERSION or NAME (the latest); resolved once at start')
    .option('--port <n>', 'TCP port (0: any free one)', '5001')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--allow-host <name>', 'another Host name to answer to (a proxy, a DNS name of this machine); repeatable', collect, [] as string[])
    .option('--json', 'print {url, model, version} as one JSON line once listening')
    .action(async (ref: string, o: { port: string; host: string; allowHost: string[]; json?: boolean }) => {
      const port = parsePort(o.port)
      const server = lazy('../server/index.js') as typeof import('../server/index.js')
      const token = server.workspaceToken(context.home)
      const { app, loaded } = server.createModelApp({ home: context.home, token, ref, host: o.host, allowHosts: o.allowHost })
      const listening = await server.startServer({ home: context.home, token, port, host: o.host, app })
      if (o.json === true) context.stdout.write(`${JSON.stringify({ url: listening.url, model: loaded.name, version: loaded.version })}\n`)
      else context.stdout.write(`serving model ${loaded.name}@${loaded.version} (${loaded.pkg.family} ${loaded.pkg.task})\n\n  POST ${listening.url}/invocations\n  GET  ${listening.url}/ping\n  GET  ${listening.url}/version\n\n  Ctrl-C stops the server.\n`)
      await untilStopped(listening)
    })
  return models
}
