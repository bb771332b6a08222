// Studies: createStudy / loadStudy, ask and tell, and optimize — trials one after another in this thread
// for a function objective, or in worker threads for an objective module. A thrown error or a NaN fails
// the trial (its message kept) and the study goes on; TrialPruned prunes it.

import { hostname } from 'node:os'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { ConfigError, NotFoundError, Progress, resolveHome, type ProgressSink } from '../core/index.js'
import type { ActiveRun } from '../track/index.js'
import { moduleRef, type Executor } from '../exec/index.js'
import { nsga2Sampler } from './nsga2.js'
import { paretoFront } from './pareto.js'
import { contains, defineSpace, describeDist, isActive, sameDistribution, type Distribution, type ParamValue, type ParamSet, type Space, type SpaceSpec } from './space.js'
import { checkStudyName, newSession, processStart, StudyStore, studyFile, type MutableTrial, type StudyHeader } from './storage.js'
import { tpeSampler } from './tpe.js'
import { TrialRuns } from './tracking.js'
import { Trial, isTrialPruned, type TrialHost } from './trial.js'
import type { Direction, Pruner, Sampler, StudyView, TrialOwner, TrialRecord } from './types.js'
import { checkObjectiveFile, WorkerPool, type ObjectiveFile, type Outcome } from './workers.js'
import { checkDirections, checkParams, checkResult, isThenable, preview } from './checks.js'

/** memory (default), the workspace (MTFLOW_HOME/studies/<name>.jsonl), or another workspace directory. */
export type StudyStorage = 'memory' | 'workspace' | { home: string }

export interface CreateStudyOptions {
  /** Required for a workspace study (its file name); reopening a name resumes the study. */
  name?: string
  direction?: Direction
  /** One per objective, for a multi-objective study. */
  directions?: readonly Direction[]
  /** A declared space: every trial gets its active parameters before the objective runs. */
  space?: SpaceSpec | Space
  /** Default: TPE for one objective, NSGA-II for several (seeded with `seed`). */
  sampler?: Sampler
  pruner?: Pruner
  storage?: StudyStorage
  seed?: number
  /** A tracking run: each trial is logged as its child run. */
  run?: ActiveRun
}

export type LoadStudyOptions = Omit<CreateStudyOptions, 'direction' | 'directions' | 'name'> & { name: string }

export type ObjectiveResult = number | readonly number[]
export type Objective<P extends object = ParamSet> = (trial: Trial<P>) => ObjectiveResult | Promise<ObjectiveResult>

export interface OptimizeOptions {
  /** Trials this call runs (fewer if the sampler runs out, as a grid does). */
  nTrials?: number
  /** Seconds after which no new trial starts (running ones finish). */
  timeout?: number
  /** Worker threads, for an objective module ({ file, export }); a function runs in this thread. */
  workers?: number
  progress?: ProgressSink
  /** Called after each trial ends, in this thread. */
  onTrial?: (trial: TrialRecord) => void
  /** A tracking run for this call's trials (overrides the study's). */
  run?: ActiveRun
  /**
   * Run the trials as jobs on an executor (lib/exec: local threads, or `mtflow worker` processes through
   * BullMQ), `workers` at a time: each wave's trials are asked together, run, then told. Needs an
   * objective module and a declared space (a trial's parameters are drawn before it runs); its
   * intermediate reports are recorded when it ends, so pruners do not stop it early.
   */
  executor?: Executor
}

/** What tell() accepts: the value(s), or how the trial ended without one. */
export type TellResult = ObjectiveResult | { state: 'pruned' } | { state: 'failed'; error?: string }

export function createStudy<P extends object = ParamSet>(options: CreateStudyOptions = {}): Study<P> {
  const given = checkDirections(options.direction, options.directions)
  const space = options.space === undefined ? undefined : defineSpace(options.space)
  const storage = options.storage ?? 'memory'
  if (storage === 'memory') {
    const name = options.name === undefined ? `study-${randomBytes(4).toString('hex')}` : checkStudyName(options.name)
    const header: StudyHeader = { name, directions: given ?? ['minimize'], createdAt: Date.now(), ...(space === undefined ? {} : { space: space.toJSON() }) }
    return new Study<P>(StudyStore.memory(header), space, options)
  }
  if (options.name === undefined) throw new ConfigError('a workspace study needs a name (its file name under studies/)')
  const file = studyFile(homeOf(storage), checkStudyName(options.name))
  const store = StudyStore.open(file, { name: options.name, directions: given ?? ['minimize'], createdAt: Date.now(), ...(space === undefined ? {} : { space: space.toJSON() }) })
  const stored = store.header!.directions
  if (given !== undefined && (given.length !== stored.length || given.some((d, k) => d !== stored[k]))) {
    throw new ConfigError(`study ${options.name} was created with directions [${stored.join(', ')}] (received [${given.join(', ')}]); use another name or loadStudy`)
  }
  return new Study<P>(store, space ?? storedSpace(store), options)
}

/** An existing workspace study, to resume or inspect (its directions and space as stored). */
export function loadStudy<P extends object = ParamSet>(options: LoadStudyOptions): Study<P> {
  const storage = options.storage ?? 'workspace'
  if (storage === 'memory') throw new ConfigError('loadStudy reads a workspace study; storage must be "workspace" or { home }')
  const home = homeOf(storage)
  const file = studyFile(home, checkStudyName(options.name))
  if (!existsSync(file)) throw new NotFoundError(`no study ${JSON.stringify(options.name)} in ${home}/studies`)
  const store = StudyStore.open(file)
  if (store.header === undefined) throw new NotFoundError(`study file ${file} has no header line`)
  const space = options.space === undefined ? storedSpace(store) : defineSpace(options.space)
  return new Study<P>(store, space, options)
}

export class Study<P extends object = ParamSet> {
  readonly name: string
  readonly directions: readonly Direction[]
  readonly sampler: Sampler
  readonly pruner: Pruner | undefined
  /** The study file, for a workspace study. */
  readonly file: string | undefined
  private readonly owner: TrialOwner
  private readonly view: StudyView
  private readonly host: TrialHost
  private readonly relative = new Map<number, ParamSet>()
  private runs: TrialRuns | undefined
  private stopped = false

  /** @internal use createStudy or loadStudy. */
  constructor(
    private readonly store: StudyStore,
    readonly space: Space | undefined,
    options: Pick<CreateStudyOptions, 'sampler' | 'pruner' | 'seed' | 'run'>,
  ) {
    const header = store.header!
    this.name = header.name
    this.directions = header.directions
    this.file = store.file
    if (options.sampler !== undefined && options.seed !== undefined) throw new ConfigError('seed seeds the default sampler; give it to the sampler you pass instead')
    this.sampler = options.sampler ?? (this.directions.length > 1 ? nsga2Sampler({ seed: options.seed }) : tpeSampler({ seed: options.seed }))
    if (typeof this.sampler?.sampleIndependent !== 'function') throw new ConfigError(`sampler must be a Sampler (randomSampler, gridSampler, tpeSampler, nsga2Sampler…) (received ${String(options.sampler)})`)
    this.sampler.check?.(this.directions)
    this.pruner = options.pruner
    if (this.pruner !== undefined && this.directions.length > 1) throw new ConfigError(`pruning needs one objective; study ${this.name} has ${this.directions.length}`)
    const start = processStart('self')
    this.owner = { host: hostname(), pid: process.pid, session: newSession(), ...(start === undefined ? {} : { start }) }
    this.runs = options.run === undefined ? undefined : new TrialRuns(options.run, this.name, this.directions)
    const s = store
    this.view = {
      name: this.name,
      directions: this.directions,
      space,
      get trials() {
        return s.trials
      },
      get finishedCount() {
        return s.finishedCount
      },
      setSystem: (n, key, value) => s.setSystem(n, key, value),
    }
    this.host = {
      suggest: (n, name, d) => this.suggest(n, name, d),
      report: (n, step, value) => this.report(n, step, value),
      shouldPrune: (n) => this.shouldPrune(n),
    }
    store.recover()
  }

  /** Every trial so far (in a workspace study, other processes' too), by number. */
  get trials(): readonly TrialRecord[] {
    this.store.refresh()
    return this.store.trials
  }

  /** The best complete trial (ties: the first); undefined before any completes. One objective only. */
  get bestTrial(): TrialRecord | undefined {
    if (this.directions.length > 1) throw new ConfigError(`study ${this.name} has ${this.directions.length} objectives; use bestTrials (the Pareto front)`)
    const sign = this.directions[0] === 'maximize' ? -1 : 1
    let best: TrialRecord | undefined
    for (const t of this.trials) if (t.state === 'complete' && (best === undefined || sign * t.values![0]! < sign * best.values![0]!)) best = t
    return best
  }

  get bestValue(): number | undefined {
    return this.bestTrial?.values?.[0]
  }

  get bestParams(): P | undefined {
    return this.bestTrial?.params as P | undefined
  }

  /** The complete trials on the Pareto front (with one objective: those sharing the best value). */
  get bestTrials(): TrialRecord[] {
    return paretoFront(this.trials, this.directions)
  }

  /** Run this parameter set (or the given part of one) before any newly sampled trial. */
  enqueueTrial(params: Readonly<ParamSet>): void {
    checkParams(params, 'enqueueTrial')
    if (this.space !== undefined) {
      for (const [name, v] of Object.entries(params)) {
        const d = this.space.params[name]
        if (d !== undefined && !contains(d, v)) throw new ConfigError(`enqueueTrial: ${name} = ${JSON.stringify(v)} is outside its space (${describeDist(d)})`)
      }
    }
    this.store.enqueue({ ...params })
  }

  /** Start a trial by hand (then tell() its result); `fixed` pins some parameters. */
  ask(fixed?: Readonly<ParamSet>): Trial<P> {
    if (fixed !== undefined) checkParams(fixed, 'ask')
    const t = this.store.createTrial(this.owner, fixed === undefined ? undefined : { ...fixed })
    try {
      this.prepare(t)
    } catch (error) {
      this.finish(t.number, { error: error instanceof Error ? error.message : String(error) })
      throw error
    }
    return new Trial<P>(t.number, t.params, t.distributions, this.host)
  }

  /** End a trial started with ask(). */
  tell(trial: Trial<P> | number, result: TellResult): TrialRecord {
    const n = typeof trial === 'number' ? trial : trial.number
    const t = this.store.trial(n)
    if (t.state !== 'running') throw new ConfigError(`trial ${n} is already ${t.state}`)
    if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
      const r = result as { state?: unknown; error?: unknown }
      if (r.state === 'pruned') return this.finish(n, { pruned: true })
      if (r.state === 'failed') return this.finish(n, { error: typeof r.error === 'string' ? r.error : 'failed (told)' })
      throw new ConfigError(`tell takes value(s), { state: 'pruned' } or { state: 'failed' } (received ${JSON.stringify(result)})`)
    }
    return this.finish(n, { result })
  }

  /** Ask optimize to start no more trials (those running finish). */
  stop(): void {
    this.stopped = true
  }

  async optimize(objective: Objective<P> | ObjectiveFile, options: OptimizeOptions = {}): Promise<this> {
    const { nTrials, timeout } = options
    const workers = options.workers ?? 1
    if (nTrials !== undefined && !(Number.isInteger(nTrials) && nTrials >= 1)) throw new ConfigError(`nTrials must be an integer ≥ 1 (received ${nTrials})`)
    if (timeout !== undefined && !(timeout > 0)) throw new ConfigError(`timeout must be a number of seconds > 0 (received ${timeout})`)
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= 256)) throw new ConfigError(`workers must be an integer in [1, 256] (received ${workers})`)
    if (nTrials === undefined && timeout === undefined && this.sampler.isExhausted === undefined) throw new ConfigError('optimize needs nTrials or timeout (received neither)')
    const inThread = typeof objective === 'function'
    if (!inThread) checkObjectiveFile(objective)
    if (options.executor !== undefined) {
      if (inThread) throw new ConfigError(`a study on ${options.executor.describe} needs an objective module ({ file, export }); a function cannot cross threads`)
      if (this.space === undefined) throw new ConfigError(`a study on ${options.executor.describe} needs a declared space (createStudy({ space })): a trial's parameters are drawn before it runs`)
    } else if (inThread && workers > 1) throw new ConfigError(`workers: ${workers} needs an objective module ({ file, export }); a function cannot cross threads`)
    const previousRuns = this.runs
    if (options.run !== undefined) this.runs = new TrialRuns(options.run, this.name, this.directions)
    this.stopped = false
    this.store.recover()
    const progress = options.progress === undefined ? undefined : new Progress({ label: `study ${this.name}`, total: nTrials, sink: options.progress })
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout * 1000
    let pool: WorkerPool | undefined
    let started = 0
    let failure: unknown
    // A trial's end, whichever way it ran: recorded, counted, and told to onTrial (whose error stops the study).
    const end = (n: number, outcome: Outcome) => {
      const done = this.finish(n, outcome)
      progress?.tick(1, `trial ${n} ${done.state}`)
      try {
        options.onTrial?.(done)
      } catch (error) {
        failure ??= error
        this.stopped = true
      }
    }
    const slot = async () => {
      while (!this.stopped && (nTrials === undefined || started < nTrials) && Date.now() < deadline && this.sampler.isExhausted?.(this.view) !== true) {
        started++
        const t = this.store.createTrial(this.owner)
        let outcome: Outcome
        try {
          this.prepare(t)
          outcome = pool !== undefined ? await pool.run({ number: t.number, params: { ...t.params }, distributions: { ...t.distributions } }) : await this.runHere(objective as Objective<P>, t)
        } catch (error) {
          outcome = { error: error instanceof Error ? error.message : String(error) }
        }
        end(t.number, outcome)
      }
    }
    // On an executor: waves of `workers` trials, asked together, run as one batch, told in order.
    const waves = async (executor: Executor) => {
      const spec = checkObjectiveFile(objective as ObjectiveFile)
      // `call`: new for each optimize(), so a trial's job id — and the result the bullmq executor keeps a week
      // under it — is this call's. An objective reads its own data (the lake, files) that no job id names: a
      // study run again with the same seed after new bars were imported got every trial's value of the run
      // before, from Redis, where local threads computed new ones (an executors audit).
      const context: TrialJobContext = { objective: moduleRef(spec.file), exportName: spec.exportName, directions: this.directions.length, call: randomBytes(12).toString('hex') }
      while (!this.stopped && (nTrials === undefined || started < nTrials) && Date.now() < deadline && this.sampler.isExhausted?.(this.view) !== true) {
        const wave: MutableTrial[] = []
        while (wave.length < workers && (nTrials === undefined || started < nTrials) && this.sampler.isExhausted?.(this.view) !== true) {
          started++
          const t = this.store.createTrial(this.owner)
          try {
            this.prepare(t)
            wave.push(t)
          } catch (error) {
            this.finish(t.number, { error: error instanceof Error ? error.message : String(error) })
          }
        }
        const outcomes = await executor.run<TrialJob, TrialJobResult>({
          kind: 'tune.trial',
          label: `study ${this.name}`,
          context,
          items: wave.map((t) => ({ number: t.number, params: { ...t.params }, distributions: { ...t.distributions } })),
        })
        for (const [k, t] of wave.entries()) {
          const o = outcomes[k]!
          let outcome: Outcome
          if (!o.ok) outcome = { error: o.error }
          else {
            for (const [step, value] of o.value.reports) this.guardReport(t.number, step, value)
            outcome = o.value.outcome
          }
          end(t.number, outcome)
        }
      }
    }
    try {
      if (options.executor !== undefined) await waves(options.executor)
      else {
        if (!inThread) pool = await WorkerPool.start(objective as ObjectiveFile, workers, this.host)
        await Promise.all(Array.from({ length: inThread ? 1 : workers }, slot))
      }
    } finally {
      await pool?.close()
      progress?.finish()
      this.runs?.summarize(this.directions.length === 1 ? [this.bestTrial].filter((t): t is TrialRecord => t !== undefined) : this.bestTrials, this.store.trials.length)
      this.runs = previousRuns
    }
    if (failure !== undefined) throw failure
    return this
  }

  private async runHere(objective: Objective<P>, t: MutableTrial): Promise<Outcome> {
    try {
      const r = objective(new Trial<P>(t.number, t.params, t.distributions, this.host))
      return { result: isThenable(r) ? await r : r }
    } catch (error) {
      return isTrialPruned(error) ? { pruned: true } : { error: error instanceof Error ? error.message : String(error) }
    }
  }

  /** Relative sampling, then the declared space's active parameters, in order. */
  private prepare(t: MutableTrial): void {
    const rel = this.sampler.sampleRelative?.(this.view, t) ?? {}
    if (Object.keys(rel).length > 0) this.relative.set(t.number, rel)
    if (this.space !== undefined) {
      const params: ParamSet = {}
      const dists: Record<string, Distribution> = {}
      for (const name of this.space.names) {
        const d = this.space.params[name]!
        if (!isActive(d, params)) continue
        params[name] = this.pick(t, name, d)
        dists[name] = d
      }
      this.store.setParams(t.number, params, dists)
    }
    this.runs?.start(t)
  }

  /** An enqueued value, else the sampler's relative value, else an independent draw. */
  private pick(t: MutableTrial, name: string, d: Distribution): ParamValue {
    const fixed = t.fixed?.[name]
    if (fixed !== undefined) {
      if (!contains(d, fixed)) throw new ConfigError(`param ${name} of trial ${t.number} was enqueued as ${JSON.stringify(fixed)}, outside ${describeDist(d)}`)
      return fixed
    }
    const rel = this.relative.get(t.number)?.[name]
    if (rel !== undefined && contains(d, rel)) return rel
    return this.sampler.sampleIndependent(this.view, t, name, d)
  }

  private suggest(n: number, name: string, d: Distribution): ParamValue {
    const t = this.running(n)
    const known = t.params[name]
    if (known !== undefined) {
      const before = t.distributions[name]
      if (before !== undefined && !sameDistribution(before, d)) throw new ConfigError(`param ${name} of trial ${n} is ${describeDist(before)}; it cannot be suggested as ${describeDist(d)}`)
      return known
    }
    const value = this.pick(t, name, d)
    this.store.setParams(n, { [name]: value }, { [name]: d })
    return value
  }

  private report(n: number, step: number, value: number): void {
    if (this.directions.length > 1) throw new ConfigError(`trial.report needs a single-objective study; ${this.name} has ${this.directions.length} objectives`)
    this.running(n)
    this.store.report(n, step, value)
    this.runs?.report(n, step, value)
  }

  private shouldPrune(n: number): boolean {
    const t = this.running(n)
    return this.pruner === undefined ? false : this.pruner.prune(this.view, t)
  }

  private running(n: number): MutableTrial {
    const t = this.store.trial(n)
    if (t.state !== 'running') throw new ConfigError(`trial ${n} is already ${t.state}`)
    return t
  }

  /** A report a trial made on a worker, recorded when it ended (a step reported twice keeps the first). */
  private guardReport(n: number, step: number, value: number): void {
    try {
      this.report(n, step, value)
    } catch {
      /* a multi-objective study or a repeated step: nothing more to record */
    }
  }

  private finish(n: number, outcome: Outcome): TrialRecord {
    const t = this.store.trial(n)
    let values: number[] | undefined
    let error: string | undefined
    let state: 'complete' | 'pruned' | 'failed'
    if (outcome.pruned === true) {
      state = 'pruned'
      const last = t.lastStep === undefined ? undefined : t.intermediate.get(t.lastStep)
      if (last !== undefined && Number.isFinite(last)) values = [last]
    } else if (outcome.error !== undefined) {
      state = 'failed'
      error = outcome.error
    } else {
      const checked = checkResult(outcome.result, this.directions.length)
      if (typeof checked === 'string') {
        state = 'failed'
        error = checked
      } else {
        state = 'complete'
        values = checked
      }
    }
    this.store.finish(n, state, values, error)
    this.relative.delete(n)
    this.runs?.finish(t)
    return t
  }
}

function homeOf(storage: Exclude<StudyStorage, 'memory'>): string {
  if (storage === 'workspace') return resolveHome()
  if (typeof storage !== 'object' || storage === null || typeof storage.home !== 'string' || storage.home === '') throw new ConfigError(`storage must be "memory", "workspace" or { home: directory } (received ${preview(storage)})`)
  return resolveHome(storage.home)
}

function storedSpace(store: StudyStore): Space | undefined {
  const s = store.header?.space
  return s === undefined ? undefined : defineSpace(s)
}

/** What every trial job of a study shares (lib/tune/jobs.ts). */
export interface TrialJobContext {
  objective: import('../exec/index.js').ModuleRef
  exportName: string
  directions: number
  /** This optimize() call's random id: trials' results are not reused across calls (their objective's inputs are not in the id). */
  call: string
}

export interface TrialJob {
  number: number
  params: ParamSet
  distributions: Record<string, Distribution>
}

export interface TrialJobResult {
  outcome: Outcome
  reports: [number, number][]
}
