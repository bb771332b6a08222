// A router: one model made of several fitted models keyed by a string (e.g. one classifier per pair),
// packaged and served like any other model. Each row goes to the model of its key; its features are
// picked by that model's own column names.

import { capMessage, ConfigError, preview } from '../core/index.js'
import { checkObject } from './check-json.js'
import { checkColumns, modelFromJSON, registerModelType, type Matrix, type Model, type ModelJSON, type Task } from './model.js'

export interface RouterJSON extends ModelJSON {
  type: 'router'
  /** The key's name in the signature (e.g. "pair"). */
  key: string
  task: Task
  routes: Record<string, ModelJSON>
}

export interface RouteCandidate {
  key: string
  model: Model
  /** The candidate's (out-of-sample) score: the best per key is kept. */
  score: number
}

export class RouterModel implements Model {
  readonly family = 'router'
  readonly task: Task
  readonly key: string
  readonly routes: ReadonlyMap<string, Model>
  private readonly columns: string[]
  private readonly classes?: number[]

  constructor(routes: Readonly<Record<string, Model>> | ReadonlyMap<string, Model>, options: { key?: string } = {}) {
    const map = routes instanceof Map ? new Map(routes) : new Map(Object.entries(routes as Record<string, Model>))
    if (map.size === 0) throw new ConfigError('a router needs at least one route')
    this.key = options.key ?? 'pair'
    const tasks = new Set([...map.values()].map((m) => m.task))
    if (tasks.size > 1) throw new ConfigError('a router cannot mix classifiers and regressors')
    this.task = [...tasks][0]!
    const columns: string[] = []
    let classes: number[] | undefined
    for (const [k, m] of map) {
      const json = m.toJSON()
      for (const c of json.columns) if (!columns.includes(c)) columns.push(c)
      if (this.task === 'classification') {
        if (classes === undefined) classes = json.classes
        else if (JSON.stringify(classes) !== JSON.stringify(json.classes)) throw new ConfigError(`route ${k} predicts classes [${json.classes}]; the others [${classes}]: a router's classifiers must share their classes`)
      }
    }
    if (columns.includes(this.key)) throw new ConfigError(`the key ${JSON.stringify(this.key)} is also a feature name`)
    this.routes = map
    this.columns = columns
    if (classes !== undefined) this.classes = classes
  }

  /** The best model per key (highest score; lowest with greaterIsBetter: false). */
  static fromBest(candidates: readonly RouteCandidate[], options: { key?: string; greaterIsBetter?: boolean } = {}): RouterModel {
    const better = options.greaterIsBetter === false ? (a: number, b: number) => a < b : (a: number, b: number) => a > b
    const best = new Map<string, RouteCandidate>()
    for (const c of candidates) {
      if (!Number.isFinite(c.score)) continue
      const held = best.get(c.key)
      if (held === undefined || better(c.score, held.score)) best.set(c.key, c)
    }
    return new RouterModel(new Map([...best].map(([k, c]) => [k, c.model])), { key: options.key })
  }

  fit(): this {
    throw new ConfigError('a router is assembled from fitted models: fit each route, then build the router')
  }

  predict(m: Matrix): Float64Array {
    return this.scatter(m, 1, (model, sub) => model.predict(sub))
  }

  predictProba(m: Matrix): Float64Array {
    if (this.classes === undefined) throw new ConfigError('a router of regressors has no class probabilities: use predict()')
    return this.scatter(m, this.classes.length, (model, sub) => model.predictProba(sub))
  }

  /** Mean over routes of each route's importance (features a route does not read count 0 for it). */
  featureImportance(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.columns.map((c) => [c, 0]))
    for (const m of this.routes.values()) for (const [c, v] of Object.entries(m.featureImportance())) out[c]! += v / this.routes.size
    return out
  }

  toJSON(): RouterJSON {
    return {
      type: 'router',
      columns: [...this.columns],
      ...(this.classes === undefined ? {} : { classes: this.classes }),
      key: this.key,
      task: this.task,
      routes: Object.fromEntries([...this.routes].map(([k, m]) => [k, m.toJSON()])),
    }
  }

  static fromJSON(json: RouterJSON): RouterModel {
    if (json.type !== 'router') throw new ConfigError(`expected a router model (received ${json.type})`)
    const where = 'router model JSON'
    const routes = checkObject(json.routes, 'routes', where)
    if (typeof json.key !== 'string' || json.key === '') throw new ConfigError(`${where}: "key" must be a non-empty string (received ${preview(json.key)})`)
    // A route is a plain model: routers inside routers are never built, and refusing them bounds the recursion.
    const models = new Map<string, Model>()
    for (const [k, r] of Object.entries(routes)) {
      if ((r as ModelJSON | null)?.type === 'router') throw new ConfigError(`${where}: route ${preview(k)} is itself a router`)
      try {
        models.set(k, modelFromJSON(r as ModelJSON))
      } catch (error) {
        if (error instanceof ConfigError) throw new ConfigError(`${where}, route ${preview(k)}: ${error.message}`, { cause: error })
        throw error
      }
    }
    const model = new RouterModel(models, { key: json.key })
    // What the JSON says of the whole must be what its routes make: the signature was built from it.
    if (json.task !== model.task) throw new ConfigError(`${where}: task ${preview(json.task)}, but its routes are ${model.task} models`)
    if (!sameList(json.columns, model.columns)) throw new ConfigError(`${where}: columns ${preview(json.columns)} are not its routes' features ${preview(model.columns)}`)
    if (!(json.classes === undefined ? model.classes === undefined : sameList(json.classes, model.classes ?? []))) throw new ConfigError(`${where}: classes ${preview(json.classes)} are not its routes' classes ${preview(model.classes)}`)
    return model
  }

  /** Rows grouped by key, each group predicted by its model on its columns, written back in row order. */
  private scatter(m: Matrix, width: number, run: (model: Model, sub: Matrix) => Float64Array): Float64Array {
    checkColumns(this.columns, m)
    if (m.keys === undefined || m.keys.length !== m.rows) throw new ConfigError(`a router needs the ${this.key} of every row (${m.rows} rows, ${m.keys?.length ?? 0} keys)`)
    const groups = new Map<string, number[]>()
    for (let r = 0; r < m.rows; r++) {
      const k = m.keys[r]!
      if (!this.routes.has(k)) throw new ConfigError(`no model for ${this.key} ${preview(k)} at row ${r} (routes: ${capMessage([...this.routes.keys()].join(', '), 200)})`)
      let g = groups.get(k)
      if (g === undefined) groups.set(k, (g = []))
      g.push(r)
    }
    const out = new Float64Array(m.rows * width)
    const p = this.columns.length
    for (const [k, rows] of groups) {
      const model = this.routes.get(k)!
      const cols = model.toJSON().columns
      const at = cols.map((c) => this.columns.indexOf(c))
      const X = new Float64Array(rows.length * cols.length)
      rows.forEach((r, i) => at.forEach((c, j) => (X[i * cols.length + j] = m.X[r * p + c]!)))
      const result = run(model, { X, rows: rows.length, columns: cols })
      rows.forEach((r, i) => {
        for (let c = 0; c < width; c++) out[r * width + c] = result[i * width + c]!
      })
    }
    return out
  }
}

function sameList(a: unknown, b: readonly unknown[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i])
}

registerModelType('router', (json) => RouterModel.fromJSON(json))
