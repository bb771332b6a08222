// The dashboard contract: a definition (a TS module in dashboards/) turns workspace data — runs, the
// registry, the lake — into static HTML with Plot SVG charts, and names the runs it shows so a published
// snapshot can be linked to them.

import type { Registry, Tracker } from '../track/index.js'
import { esc, fmtTime, htmlDocument } from './html.js'

export interface DashboardContext {
  home: string
  tracker: Tracker
  registry: Registry
  /** Options given on the command line (`--param key=value`) or in the query string. */
  params: Readonly<Record<string, string>>
  /** The time shown as "rendered at" (fixed in tests). */
  now: number
}

export interface DashboardRender {
  title: string
  /** The page body (trusted markup: data must already be escaped). */
  body: string
  /** Runs the dashboard shows (linked from the published version). */
  runs: string[]
}

export interface DashboardDefinition {
  name: string
  title: string
  description: string
  /** The params it reads, with what they mean (for `--help` and the index). */
  params: Readonly<Record<string, string>>
  render(context: DashboardContext): Promise<DashboardRender> | DashboardRender
}

/** A standalone HTML document of a rendered dashboard: one file, styles inline, no scripts. */
export function dashboardDocument(definition: DashboardDefinition, rendered: DashboardRender, context: Pick<DashboardContext, 'now' | 'params'>): string {
  const params = Object.entries(context.params)
  const about = `${esc(definition.description)} · rendered ${esc(fmtTime(context.now))} UTC${params.length === 0 ? '' : ` · ${params.map(([k, v]) => `${esc(k)}=${esc(v)}`).join(', ')}`}`
  return htmlDocument({
    title: rendered.title,
    header: `<header class="site"><span class="brand">mtflow</span><span class="muted">dashboard: ${esc(definition.name)}</span></header>`,
    body: `<h1>${esc(rendered.title)}</h1><p class="muted">${about}</p>\n${rendered.body}`,
    footer: `${rendered.runs.length} run(s) shown`,
  })
}
