// `mtflow router build --from RUN --top-k K` (issue 20): one servable model over the best pairs (or
// symbols). From a train run the routes are ranked by a cross-validated metric of its summary table (ROC AUC
// by default; log loss ranks lowest first); the K best become a RouterModel keyed by the pair ("Y~X") or
// the symbol, packaged, recorded as a step (kind "router": a routes table naming each route's train run and
// score, router.json) and registered under one model name, moved to a stage. A row sent to the served router
// goes to the model of its key; `infer` rebuilds each route's features from that route's own lineage.

import { ConfigError, sha256 } from '../core/index.js'
import { packageModel, readPackage, RouterModel, serializePackage, type Model } from '../ml/index.js'
import { stepRun, openTracker, openRegistry } from '../track/index.js'
import type { Stage } from './register.js'
import { readStepTable, runStep, type StepResult } from './step.js'

export const ROUTER_METRICS = ['rocAuc', 'prAuc', 'f1', 'directionalAccuracy', 'logLoss'] as const
export type RouterMetric = (typeof ROUTER_METRICS)[number]
const STAGES: readonly Stage[] = ['None', 'Staging', 'Production', 'Archived']

export interface RouterOptions {
  /** A train run. */
  from: string
  topK: number
  /** Ranking metric of the train run's summary (default rocAuc; logLoss: lower is better). */
  metric?: RouterMetric
  /** Only these pairs or symbols may be routed (e.g. the champions `select` kept); default all. */
  keys?: readonly string[]
  /** The registered model's name (default "<family>-router", e.g. "tree-router"). */
  name?: string
  stage?: Stage
  reason?: string
}

export interface RouterResult extends StepResult {
  name: string
  version: number
  created: boolean
  stage: string
  routes: { key: string; score: number; rank: number }[]
}

export async function routerStep(home: string, options: RouterOptions): Promise<RouterResult> {
  const metric = options.metric ?? 'rocAuc'
  if (!ROUTER_METRICS.includes(metric)) throw new ConfigError(`--metric must be one of ${ROUTER_METRICS.join(', ')} (received ${JSON.stringify(metric)})`)
  if (!(Number.isInteger(options.topK) && options.topK >= 1)) throw new ConfigError(`--top-k must be an integer ≥ 1 (received ${options.topK})`)
  const stage = options.stage ?? 'Staging'
  if (!STAGES.includes(stage)) throw new ConfigError(`--stage must be one of ${STAGES.join(', ')} (received ${JSON.stringify(stage)})`)
  const tracker = openTracker(home)
  const train = stepRun(tracker, options.from, ['train'], '--from')
  const name = options.name ?? `${String(train.manifest.params.model)}-router`
  let pkgText = ''
  const step = await runStep({
    home,
    step: 'router',
    name: `router of the top ${options.topK} by ${metric} (${options.from})`,
    inputs: [{ kind: 'run', ref: options.from, sha256: train.manifest.key }],
    params: { topK: options.topK, metric, ...(options.keys === undefined ? {} : { keys: [...options.keys].sort() }) },
    compute: async () => {
      const summary = await readStepTable(home, options.from, train.manifest, 'summary')
      const keys = summary.name as string[]
      const files = summary.model as string[]
      const score = summary[metric] as Float64Array
      const lower = metric === 'logLoss'
      if (options.keys !== undefined) for (const k of options.keys) if (!keys.includes(k)) throw new ConfigError(`--pairs names ${k}, which train run ${options.from} has no model of (it has ${keys.join(', ')})`)
      const order = keys.map((_, i) => i).filter((i) => Number.isFinite(score[i]!) && (options.keys === undefined || options.keys.includes(keys[i]!))).sort((a, b) => (lower ? score[a]! - score[b]! : score[b]! - score[a]!) || (keys[a]! < keys[b]! ? -1 : 1))
      if (order.length === 0) throw new ConfigError(`--from ${options.from}: no model has a finite ${metric}`)
      const chosen = order.slice(0, options.topK)
      const routes = new Map<string, Model>()
      for (const i of chosen) routes.set(keys[i]!, readPackage(tracker.readArtifact(options.from, files[i]!).bytes.toString('utf8'), `artifact ${files[i]} of run ${options.from}`).model)
      const pairs = chosen.every((i) => keys[i]!.includes('~'))
      if (!pairs && chosen.some((i) => keys[i]!.includes('~'))) throw new ConfigError(`--from ${options.from} mixes pairs and symbols; a router is keyed by one of them`)
      const router = new RouterModel(routes, { key: pairs ? 'pair' : 'symbol' })
      const columns = router.toJSON().columns
      // The router learned nothing itself: its package names the routes' packages as its data.
      const snapshot = sha256(chosen.map((i) => tracker.readArtifact(options.from, files[i]!).bytes.toString('utf8')).join('\n'))
      pkgText = serializePackage(
        packageModel(router, {
          data: { X: new Float64Array(0), rows: 0, columns, y: new Float64Array(0) },
          dataSnapshot: snapshot,
          metrics: { [metric]: chosen.reduce((a, i) => a + score[i]!, 0) / chosen.length, routes: chosen.length },
          description: `router over the top ${chosen.length} of train run ${options.from} by ${metric}`,
        }),
      )
      return {
        routes: {
          key: chosen.map((i) => keys[i]!),
          score: Float64Array.from(chosen, (i) => score[i]!),
          rank: Float64Array.from(chosen, (_, r) => r + 1),
          trainRun: chosen.map(() => options.from),
          artifact: chosen.map((i) => files[i]!),
        },
      }
    },
    files: () => ({ 'router.json': pkgText }),
    metrics: (tables) => ({ routes: (tables.routes!.key as string[]).length }),
  })
  const routes = await readStepTable(home, step.runId, step.manifest, 'routes')
  const registry = openRegistry(home)
  const check = (bytes: Buffer, path: string) => void readPackage(bytes.toString('utf8'), `artifact ${JSON.stringify(path)} of run ${step.runId}`)
  const { version, created } = registry.registerModel(tracker, name, step.runId, 'router.json', { description: `router over ${(routes.key as string[]).join(', ')} (router run ${step.runId}, train run ${options.from})`, check })
  const after = stage === 'None' ? version : registry.transitionStage(name, version.version, stage, { reason: options.reason ?? `router build from train run ${options.from}` })
  return {
    ...step,
    name,
    version: version.version,
    created,
    stage: (after as { stage?: string }).stage ?? stage,
    routes: (routes.key as string[]).map((key, i) => ({ key, score: (routes.score as Float64Array)[i]!, rank: (routes.rank as Float64Array)[i]! })),
  }
}
