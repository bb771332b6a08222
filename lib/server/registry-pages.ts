// The registry's pages: kinds, entries with their versions, change forms (registry-actions.ts) and audit
// log, strategy versions' files and model packages (highlighted, never run), deployment configs, executed
// notebooks and published dashboards; the deployments and monitoring dashboards; and (mounted from here)
// run artifacts' previews (artifact-pages.ts).

import type { Context, Hono } from 'hono'
import { DASHBOARD_CSP, framedDocument, page, pageHtml, refreshing, sendPage, type PageContext } from './layout.js'
import { ConfigError, NotFoundError } from '../core/index.js'
import { esc, fmtBytes, fmtTime, link, raw, seg, table, type Cell } from '../report/index.js'
import { DEPLOYMENT_FILE, REGISTRY_KINDS, registryKind, singular, type Registry, type RegistryKind, type RegistryVersion } from '../track/index.js'
import { parseNotebookJson, renderNotebookHtmlAsync } from './notebook-html.js'
import { csrfToken, registryActionForms, registryActionRoutes } from './registry-actions.js'
import { artifactPageRoutes, looksTextual, NOTEBOOK_BYTES, PREVIEW_HEADER, textPreview } from './artifact-pages.js'
import { PageCache } from './page-cache.js'
import { codeBlock, highlightStyle, languageOfFile } from './highlight.js'
import { deploymentSnapshot, portfolioSnapshot } from '../report/portfolio-dashboard.js'
import { deploymentDashboardHtml, portfolioDashboardHtml } from '../report/portfolio-dashboard-html.js'
import { monitoringHtml, monitoringView } from './monitoring.js'
import { type RegistryListing } from './listings.js'

export function registryPageRoutes(app: Hono, ctx: PageContext): void {
  const { tracker, registry, listings, listingCache } = ctx
  // Registry pages from the cached registry listing, and kept as bytes until the registry changes.
  const registryPage = (c: Context, key: string, render: (reg: RegistryListing) => string) => {
    const reg = listings.registryListing()
    const hit = listingCache.get(key, () => reg.stamp)
    if (hit !== undefined) return sendPage(c, hit)
    return sendPage(c, listingCache.set(key, reg.stamp, render(reg)))
  }
  app.get('/registry', (c) =>
    registryPage(c, 'registry', (reg) => pageHtml('Registry', ['<h1>Registry</h1>', ...REGISTRY_KINDS.map((kind) => `<h2>${link(`/registry/${kind}`, kind[0]!.toUpperCase() + kind.slice(1)).html}</h2>${entriesTable(reg, kind)}`)].join('\n'), '/registry')),
  )
  app.get('/registry/:kind', (c) => {
    const kind = registryKind(c.req.param('kind'))
    return registryPage(c, `registry:${kind}`, (reg) => pageHtml(`Registry: ${kind}`, `<h1>${esc(kind[0]!.toUpperCase() + kind.slice(1))}</h1>${entriesTable(reg, kind)}`, '/registry'))
  })
  app.get('/registry/:kind/:name', (c) => {
    const kind = registryKind(c.req.param('kind'))
    const name = c.req.param('name')
    // The change forms carry the request's CSRF token (registry-actions.ts): part of the cached page's key.
    const csrf = csrfToken(ctx, c)
    // A form posted from this page must carry its Origin (no-referrer, the site's default, sends "null").
    c.header('referrer-policy', 'same-origin')
    return registryPage(c, `registry:${kind}/${name}|${csrf}`, (reg) => entryPageHtml(registry, reg, kind, name, csrf))
  })
  const entryPageHtml = (registry: Registry, reg: RegistryListing, kind: RegistryKind, name: string, csrf: string): string => {
    // The listing's entry when it has one (a name it lacks is asked of the registry: a clear 404 or 400).
    const entry = reg.byKind.get(kind)!.find((e) => e.name === name) ?? registry.entry(kind, name)
    const aliasesOf = (v: RegistryVersion) => Object.entries(entry.aliases).filter(([, n]) => n === v.version).map(([a]) => a).join(', ')
    const view = (v: RegistryVersion): Cell => {
      if (kind === 'notebooks') return link(`/notebooks/${seg(entry.name)}/v/${v.version}`, 'view')
      if (kind === 'dashboards') return link(`/dashboards/${seg(entry.name)}/v/${v.version}`, 'view')
      if (kind === 'strategies') return link(`/registry/strategies/${seg(entry.name)}/v/${v.version}`, 'source')
      if (kind === 'deployments') return link(`/registry/deployments/${seg(entry.name)}/v/${v.version}`, 'config')
      if (kind === 'models') return link(`/registry/models/${seg(entry.name)}/v/${v.version}`, 'package')
      return link(`/api/registry/${kind}/${seg(entry.name)}/versions/${v.version}`, 'JSON')
    }
    const rows = entry.versions.map((v): Cell[] => [
      `v${v.version}`,
      fmtTime(v.createdAt),
      v.status,
      ...(kind === 'models' ? [v.stage ?? 'None'] : []),
      aliasesOf(v),
      v.sha256.slice(0, 12),
      v.files.map((f) => `${f.name} (${fmtBytes(f.size)})`).join(', '),
      ...(kind === 'strategies' ? [v.parity === undefined ? 'not checked' : v.parity.agree ? 'agree' : 'DISAGREE'] : []),
      raw(v.runs.slice(0, 8).map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ') + (v.runs.length > 8 ? ` … ${v.runs.length} in all` : '')),
      view(v),
    ])
    const header = ['version', 'created', 'status', ...(kind === 'models' ? ['stage'] : []), 'aliases', 'sha256', 'files', ...(kind === 'strategies' ? ['parity'] : []), 'runs', '']
    const audit = registry.auditLog(kind, entry.name).slice(-50).reverse()
    const body = [
      `<h1>${esc(singular(kind))}: ${esc(entry.name)}</h1>`,
      table(header, rows),
      registryActionForms(entry, csrf),
      '<h2>Audit log</h2>',
      table(
        ['time', 'user', 'action', 'version', 'from', 'to', 'reason'],
        audit.map((e) => [fmtTime(e.time), e.user, e.action + (e.alias === undefined ? '' : ` ${e.alias}`), e.version ?? '', e.from ?? '', e.to ?? '', e.reason ?? '']),
      ),
    ].join('\n')
    return pageHtml(`${singular(kind)} ${entry.name}`, body, '/registry')
  }
  // A strategy version: its files (each viewable), the chosen one (?file=, default its source) highlighted
  // with line numbers.
  app.get('/registry/strategies/:name/v/:ref', (c) => {
    const v = registry.resolve('strategies', c.req.param('name'), c.req.param('ref'))
    const file = chosenFile(v, c.req.query('file')) ?? v.files.find((f) => /^source\./.test(f.name)) ?? v.files[0]!
    const body = `<h1>strategy ${link(`/registry/strategies/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">${esc(v.status)} · sha256 ${esc(v.sha256)} · default params ${esc(JSON.stringify(v.params ?? {}))}</p>
${filesTable(v, file.name)}
<h2>${esc(file.name)}</h2>${fileHtml(c, v, file.name)}`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  })
  // A model version: the package's files with sizes, its record and metadata, the package's signature and
  // metrics; a file (?file=) as text when it is text (a package is data, never run here).
  app.get('/registry/models/:name/v/:ref', (c) => {
    const v = registry.resolve('models', c.req.param('name'), c.req.param('ref'))
    const file = chosenFile(v, c.req.query('file'))
    const entry = registry.entry('models', v.name)
    const aliases = Object.entries(entry.aliases).filter(([, n]) => n === v.version).map(([a]) => a)
    const record: Cell[][] = [
      ['status', v.status],
      ['stage', v.stage ?? 'None'],
      ['aliases', aliases.join(', ')],
      ['created', `${fmtTime(v.createdAt)} UTC`],
      ['sha256', v.sha256],
      ...(v.description === undefined ? [] : [['description', v.description] as Cell[]]),
      ...(v.source === undefined ? [] : [['source', v.source] as Cell[]]),
      ...(v.sourceRunId === undefined ? [] : [['source run', link(`/runs/${seg(v.sourceRunId)}`, v.sourceRunId)] as Cell[]]),
      ['runs', raw(v.runs.slice(0, 20).map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ') + (v.runs.length > 20 ? ` … ${v.runs.length} in all` : ''))],
    ]
    const parts = [
      `<h1>model ${link(`/registry/models/${seg(v.name)}`, v.name).html} v${v.version}</h1>`,
      table(['', ''], record),
      filesTable(v, file?.name),
    ]
    if (file !== undefined) parts.push(`<h2>${esc(file.name)}</h2>${fileHtml(c, v, file.name)}`)
    else {
      if (v.metadata !== undefined) parts.push('<h2>Metadata</h2>', highlightStyle(), codeBlock(JSON.stringify(v.metadata, null, 2), { language: 'json', wrap: true }))
      parts.push(packageSummary(c, v))
    }
    return page(c, `${v.name}@${v.version}`, parts.join('\n'), '/registry')
  })
  /** The file a ?file= names (one the version lists: never a path made from the request), or undefined. */
  const chosenFile = (v: RegistryVersion, name: string | undefined) => {
    if (name === undefined || name === '') return undefined
    const f = v.files.find((x) => x.name === name)
    if (f === undefined) throw new NotFoundError(`${singular(v.kind)} ${v.name}@${v.version} has no file ${JSON.stringify(name.slice(0, 100))} (files: ${v.files.map((x) => x.name).join(', ')})`)
    return f
  }
  const filesTable = (v: RegistryVersion, shown: string | undefined) =>
    table(
      ['file', 'size', 'sha256', '', ''],
      v.files.map((f) => [
        f.name === shown ? raw(`<strong>${esc(f.name)}</strong>`) : f.name,
        fmtBytes(f.size),
        f.sha256.slice(0, 16),
        link(`/registry/${v.kind}/${seg(v.name)}/v/${v.version}?file=${encodeURIComponent(f.name)}`, 'view'),
        link(`/api/registry/${v.kind}/${seg(v.name)}/versions/${v.version}/files/${seg(f.name)}`, 'download'),
      ]),
    )
  // Files' views (highlighting a source costs up to ~0.5 s) kept by the file's recorded sha256.
  const fileViews = new PageCache(FILE_VIEW_CACHE_BYTES, 0)
  /** A version's file as highlighted text when it is text (at most FILE_VIEW_BYTES read), else a note. */
  const fileHtml = (c: Context, v: RegistryVersion, name: string) => {
    const listed = v.files.find((f) => f.name === name)!
    if (listed.size > FILE_VIEW_BYTES) return `<p class="muted">${esc(fmtBytes(listed.size))}: too large to show here; download it.</p>`
    // Read and checked on every request (readFile refuses a link or a changed file), rendered once.
    const bytes = registry.readFile(v.kind, `${v.name}@${v.version}`, name)
    const key = JSON.stringify([v.kind, v.name, v.version, name])
    const hit = fileViews.get(key, () => listed.sha256)
    c.header(PREVIEW_HEADER, hit === undefined ? 'rendered' : 'cached')
    if (hit !== undefined) return hit.text()
    if (languageOfFile(name) === undefined && !looksTextual(bytes)) return `<p class="muted">Not a text file (${esc(fmtBytes(listed.size))}); download it.</p>`
    return fileViews.set(key, listed.sha256, textPreview(name, bytes.toString('utf8'))).text()
  }
  /**
   * A model package's envelope: family, task, training data, metrics and signature (when model.json is one).
   * model.json is read and checked on every request (readFile refuses a link or a changed file); its parse
   * and rendering (a forest's file runs to megabytes) are kept by its recorded sha256, as the files' views.
   */
  const packageSummary = (c: Context, v: RegistryVersion): string => {
    const file = v.files.find((f) => f.name === 'model.json')
    if (file === undefined || file.size > FILE_VIEW_BYTES) return ''
    const bytes = registry.readFile('models', `${v.name}@${v.version}`, file.name)
    const key = JSON.stringify(['package summary', v.name, v.version])
    const hit = fileViews.get(key, () => file.sha256)
    c.header(PREVIEW_HEADER, hit === undefined ? 'rendered' : 'cached')
    if (hit !== undefined) return hit.text()
    return fileViews.set(key, file.sha256, renderPackageSummary(bytes)).text()
  }
  const renderPackageSummary = (bytes: Buffer): string => {
    let pkg: Record<string, unknown>
    try {
      pkg = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
    } catch {
      return '<p class="muted">model.json is not valid JSON.</p>'
    }
    if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg)) return ''
    const scalar = (x: unknown): Cell => (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? x : x === undefined ? '' : JSON.stringify(x))
    const about: Cell[][] = ['format', 'formatVersion', 'family', 'task', 'trainingRows', 'dataSnapshot', 'runId', 'description'].filter((k) => pkg[k] !== undefined).map((k) => [k, scalar(pkg[k])])
    if (typeof pkg.createdAt === 'number') about.push(['createdAt', `${fmtTime(pkg.createdAt)} UTC`])
    const parts = ['<h2>Package</h2>', table(['', ''], about)]
    const metrics = pkg.metrics
    if (metrics !== null && typeof metrics === 'object' && !Array.isArray(metrics)) parts.push('<h3>Cross-validated metrics</h3>', table(['metric', 'value'], Object.entries(metrics as Record<string, unknown>).map(([k, x]) => [k, scalar(x)])))
    const sig = pkg.signature as { inputs?: unknown; output?: unknown } | undefined
    if (sig !== null && typeof sig === 'object') {
      const inputs = Array.isArray(sig.inputs) ? (sig.inputs as Record<string, unknown>[]) : []
      parts.push(
        '<h3>Signature</h3>',
        table(['input', 'type', 'nullable'], inputs.map((f) => [scalar(f?.name), scalar(f?.type), f?.nullable === true ? 'yes' : 'no'])),
        `<p>output: <code>${esc(JSON.stringify(sig.output ?? null))}</code></p>`,
      )
    }
    return parts.join('\n')
  }
  // A deployment version: its production config, linked to the strategy version it pins.
  app.get('/registry/deployments/:name/v/:ref', (c) => {
    const v = registry.resolve('deployments', c.req.param('name'), c.req.param('ref'))
    const text = registry.readFile('deployments', `${v.name}@${v.version}`, DEPLOYMENT_FILE).toString('utf8')
    let pinned = ''
    try {
      const s = (JSON.parse(text) as { strategy?: { name?: unknown; version?: unknown } }).strategy
      if (typeof s?.name === 'string' && Number.isSafeInteger(s.version)) pinned = ` · strategy ${link(`/registry/strategies/${seg(s.name)}/v/${String(s.version)}`, `${s.name}@${String(s.version)}`).html}`
    } catch {
      pinned = ' · not valid JSON'
    }
    const body = `<h1>deployment ${link(`/registry/deployments/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">${esc(DEPLOYMENT_FILE)} · sha256 ${esc(v.sha256)}${pinned}</p><pre><code>${esc(text)}</code></pre>`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  })
  // Rendered notebooks (a large one takes a second: every cell highlighted) kept by the file's recorded sha256.
  // The file is still read and checked on every request (readFile refuses a link or a changed file: 403, 409);
  // only the rendering is skipped.
  const notebookViews = new PageCache(FILE_VIEW_CACHE_BYTES, 0)
  const notebookPage = async (c: Context, name: string, ref: string) => {
    const v = registry.resolve('notebooks', name, ref)
    const file = v.files.find((f) => f.name.endsWith('.ipynb'))
    if (file === undefined) throw new ConfigError(`notebook ${v.name}@${v.version} holds no .ipynb file`)
    // Rendered up to the artifact viewer's size (NOTEBOOK_BYTES); a larger one is offered as a download.
    const download = link(`/api/registry/notebooks/${seg(v.name)}/versions/${v.version}/files/${seg(file.name)}`, `download (${fmtBytes(file.size)})`).html
    const rendered = async () => {
      const bytes = registry.readFile('notebooks', `${v.name}@${v.version}`, file.name)
      const key = JSON.stringify([v.name, v.version, file.name])
      const hit = notebookViews.get(key, () => file.sha256)
      c.header(PREVIEW_HEADER, hit === undefined ? 'rendered' : 'cached')
      if (hit !== undefined) return hit.text()
      const { html, complete } = await renderNotebookHtmlAsync(parseNotebookJson(bytes.toString('utf8'), `notebook ${v.name}@${v.version}`))
      // One whose markdown timed out is not kept: a busy moment is not the page for good.
      return complete ? notebookViews.set(key, file.sha256, html).text() : html
    }
    const shown = file.size > NOTEBOOK_BYTES ? `<p class="muted notebook-too-large">A notebook larger than ${esc(fmtBytes(NOTEBOOK_BYTES))}: not rendered. ${download}</p>` : await rendered()
    const runs = v.runs.map((id) => link(`/runs/${seg(id)}`, id.slice(0, 8)).html).join(' ')
    const body = `<h1>notebook ${link(`/registry/notebooks/${seg(v.name)}`, v.name).html} v${v.version}</h1>
<p class="muted">executed ${esc(fmtTime(v.createdAt))} UTC${v.source === undefined ? '' : ` from ${esc(v.source)}`}${runs === '' ? '' : ` · runs: ${runs}`}</p>${shown}`
    return page(c, `${v.name}@${v.version}`, body, '/registry')
  }
  app.get('/notebooks/:name', (c) => notebookPage(c, c.req.param('name'), 'latest'))
  app.get('/notebooks/:name/v/:ref', (c) => notebookPage(c, c.req.param('name'), c.req.param('ref')))
  app.get('/dashboards', (c) => registryPage(c, 'dashboards', (reg) => pageHtml('Dashboards', `<h1>Dashboards</h1>${entriesTable(reg, 'dashboards')}<p class="muted">Publish with mtflow dashboard publish NAME (run-comparison, strategy, data-coverage).</p>`, '/dashboards')))
  const dashboardPage = (c: Context, name: string, ref: string) => {
    const v = registry.resolve('dashboards', name, ref)
    // Every http-equiv attribute made inert (data-http-equiv): a dashboard cannot send its viewers elsewhere
    // (a meta refresh to another site) nor set headers of its own. Attribute names are case-insensitive
    // and hold no entity, so renaming every occurrence of the word leaves none a browser would act on.
    const html = registry.readFile('dashboards', `${v.name}@${v.version}`, 'index.html').toString('utf8').replace(/http-equiv/gi, 'data-http-equiv')
    c.header('x-mtflow-version', `${v.name}@${v.version}`)
    return sendPage(c, framedDocument(html, '/dashboards', `dashboard ${v.name} v${v.version}`), 200, DASHBOARD_CSP)
  }
  app.get('/dashboards/:name', (c) => dashboardPage(c, c.req.param('name'), 'latest'))
  app.get('/dashboards/:name/v/:ref', (c) => dashboardPage(c, c.req.param('name'), c.req.param('ref')))
  // The portfolio monitoring dashboard: all deployments combined, and each one (its name must be one of the
  // workspace's deployment folders: anything else is a 404). Refreshed every 5 s while a shown one runs.
  app.get('/deployments', async (c) => {
    const snapshot = await portfolioSnapshot(tracker.home)
    return sendPage(c, refreshing(pageHtml('Deployments', portfolioDashboardHtml(snapshot), '/deployments'), snapshot.active))
  })
  app.get('/deployments/:name', async (c) => {
    const snapshot = await deploymentSnapshot(tracker.home, c.req.param('name'))
    return sendPage(c, refreshing(pageHtml(`Deployment ${snapshot.name}`, deploymentDashboardHtml(snapshot), '/deployments'), snapshot.active))
  })
  // Monitors, their values and drift over time, triggers, scheduled jobs and alerts (lib/server/monitoring.ts).
  app.get('/monitoring', (c) => sendPage(c, pageHtml('Monitoring', monitoringHtml(monitoringView(tracker.home)), '/monitoring')))
  // Registry changes from the entry pages' forms, and run artifacts' previews.
  registryActionRoutes(app, ctx)
  artifactPageRoutes(app, ctx)
}

/** The most of a registry file shown as text (read whole: its sha256 is checked). */
const FILE_VIEW_BYTES = 16 * 2 ** 20
/** Compressed bytes of rendered file views kept (least recently used dropped first). */
const FILE_VIEW_CACHE_BYTES = 16 * 2 ** 20

export function entriesTable(reg: RegistryListing, kind: RegistryKind): string {
  const entries = reg.byKind.get(kind)!
  if (entries.length === 0) return `<p class="muted">No ${esc(kind)} registered.</p>`
  return table(
    ['name', 'versions', 'latest', 'aliases', 'latest created', ''],
    entries.map((e) => {
      const last = e.versions[e.versions.length - 1]!
      const open = kind === 'notebooks' ? link(`/notebooks/${seg(e.name)}`, 'open latest') : kind === 'dashboards' ? link(`/dashboards/${seg(e.name)}`, 'open latest') : ''
      return [
        link(`/registry/${kind}/${seg(e.name)}`, e.name),
        e.versions.length,
        `v${last.version}`,
        Object.entries(e.aliases)
          .map(([a, n]) => `${a} → v${n}`)
          .join(', '),
        fmtTime(last.createdAt),
        open,
      ]
    }),
  )
}

export function publishedList(reg: RegistryListing): string {
  const items = [
    ...reg.byKind.get('dashboards')!.map((e) => `<li>dashboard ${link(`/dashboards/${seg(e.name)}`, e.name).html} (${e.versions.length} version(s))</li>`),
    ...reg.byKind.get('notebooks')!.map((e) => `<li>notebook ${link(`/notebooks/${seg(e.name)}`, e.name).html} (${e.versions.length} version(s))</li>`),
  ]
  return items.length === 0 ? '<p class="muted">Nothing published yet.</p>' : `<ul>${items.join('')}</ul>`
}



