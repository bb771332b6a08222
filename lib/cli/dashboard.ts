// `mtflow dashboard list|render|publish`: the dashboards of dashboards/ rendered to one static HTML file;
// publish saves it as a registry version linked to the runs it shows (an unchanged dashboard is not saved
// twice: the content hash leaves out the "rendered at" line).

import { Command } from 'commander'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError, sha256 } from '../core/index.js'
import { parseParamArg } from '../strategy/params.js'
import type { DashboardDefinition } from '../report/index.js'
import type { RegistryVersion } from '../track/index.js'
import { collect, formatTable, lazy, printJson, type CliContext } from './context.js'

const dashboards = () => (lazy('../../dashboards/index.js') as typeof import('../../dashboards/index.js')).DASHBOARDS

export function findDashboard(name: string): DashboardDefinition {
  const found = dashboards().find((d) => d.name === name)
  if (found === undefined) throw new ConfigError(`no dashboard named ${JSON.stringify(name)} (dashboards: ${dashboards().map((d) => d.name).join(', ')})`)
  return found
}

export interface RenderedDashboard {
  name: string
  title: string
  html: string
  runs: string[]
  params: Record<string, string>
  contentSha256: string
}

/** Render a dashboard to a standalone HTML document. */
export async function renderDashboard(home: string, name: string, params: Record<string, string> = {}, now = Date.now()): Promise<RenderedDashboard> {
  const definition = findDashboard(name)
  for (const key of Object.keys(params)) {
    if (!(key in definition.params)) throw new ConfigError(`dashboard ${name} has no param ${JSON.stringify(key)} (params: ${Object.keys(definition.params).join(', ') || 'none'})`)
  }
  const { openTracker, openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
  const { dashboardDocument } = lazy('../report/index.js') as typeof import('../report/index.js')
  const context = { home, tracker: openTracker(home), registry: openRegistry(home), params, now }
  const rendered = await definition.render(context)
  return {
    name,
    title: rendered.title,
    html: dashboardDocument(definition, rendered, context),
    runs: rendered.runs,
    params,
    contentSha256: sha256(JSON.stringify({ body: rendered.body, params, runs: rendered.runs })),
  }
}

/** Render and save as a registry version (or return the latest version when nothing changed). */
export async function publishDashboard(home: string, name: string, params: Record<string, string> = {}): Promise<{ version: RegistryVersion; created: boolean; rendered: RenderedDashboard }> {
  const rendered = await renderDashboard(home, name, params)
  const { openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
  const registry = openRegistry(home)
  const previous = registry.list('dashboards').find((e) => e.name === name)?.versions.filter((v) => v.status === 'active').pop()
  if (previous !== undefined && previous.metadata?.contentSha256 === rendered.contentSha256) return { version: previous, created: false, rendered }
  const { version, created } = registry.register('dashboards', name, {
    // Changed content is a new version, always: the registry's own dedupe (by the HTML's bytes) returned an
    // older version rendered in the same second (A, then B, then A again) while B stayed the latest shown.
    dedupe: false,
    files: { 'index.html': rendered.html },
    runs: rendered.runs,
    description: rendered.title,
    source: `dashboards/${name}.ts`,
    metadata: { params, contentSha256: rendered.contentSha256, title: rendered.title },
  })
  return { version, created, rendered }
}

export function dashboardCommand(context: CliContext): Command {
  const command = new Command('dashboard').description('dashboards (dashboards/*.ts): list, render to HTML, publish as registry versions')
  command
    .command('list')
    .description('the dashboards and their published versions')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const { openRegistry } = lazy('../track/index.js') as typeof import('../track/index.js')
      const published = openRegistry(context.home).list('dashboards')
      const rows = dashboards().map((d) => {
        const versions = published.find((e) => e.name === d.name)?.versions ?? []
        return { name: d.name, title: d.title, description: d.description, params: d.params, versions: versions.length, latest: versions.at(-1)?.version ?? null }
      })
      if (o.json === true) return printJson(context, rows)
      context.stdout.write(formatTable(['name', 'versions', 'latest', 'description'], rows.map((r) => [r.name, String(r.versions), r.latest === null ? '—' : `v${r.latest}`, r.description])))
    })
  command
    .command('render')
    .description('render a dashboard to a standalone HTML file (not saved in the registry)')
    .argument('<name>', 'the dashboard (mtflow dashboard list)')
    .option('--param <key=value>', 'a dashboard option (repeatable)', collect, [])
    .requiredOption('--out <file>', 'the HTML file to write')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { param: string[]; out: string; json?: boolean }) => {
      const rendered = await renderDashboard(context.home, name, parseParams(o.param))
      const out = resolve(o.out)
      writeFileSync(out, rendered.html)
      if (o.json === true) return printJson(context, { name, title: rendered.title, out, runs: rendered.runs, bytes: Buffer.byteLength(rendered.html) })
      context.stdout.write(`${rendered.title}: ${out} (${rendered.runs.length} runs shown)\n`)
    })
  command
    .command('publish')
    .description('render a dashboard and save it as a registry version linked to the runs it shows')
    .argument('<name>', 'the dashboard (mtflow dashboard list)')
    .option('--param <key=value>', 'a dashboard option (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action(async (name: string, o: { param: string[]; json?: boolean }) => {
      const { version, created, rendered } = await publishDashboard(context.home, name, parseParams(o.param))
      if (o.json === true) return printJson(context, { ...version, created, title: rendered.title })
      context.stdout.write(`${created ? 'published' : 'unchanged, already'} dashboard ${name}@${version.version}: ${rendered.title} (${version.runs.length} runs linked)\n`)
    })
  return command
}

function parseParams(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((p) => parseParamArg(p)))
}
