// `mtflow pipeline pairs --symbols …`: the pair-trading pipeline chained end to end — screen → features →
// dataset → train → register → model-gated backtests → select (guardrails) → router → infer → targets and
// orders → report. The first four run on the bars before the holdout (the last 30 % by default), the
// gated backtests on the holdout only, so the Sharpe `select` judges is out of sample. Every step is a
// tracked run (the steps of lib/pipeline and the verbs' own runs) and the pipeline a parent run that names
// each; a step whose inputs are unchanged is reused, so running the same command again after a failure
// resumes where it stopped. Outputs: orders.json, targets.json, report.html and pipeline.json, artifacts of
// the pipeline's run and, with --out-dir, files there.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { canonicalJson, ConfigError, DataError, errorMessage, makeDirs, sha256, streamProgressSink } from '../core/index.js'
import { parseNumberCell } from '../data/csv.js'
import { formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { dateFormatFlag, timeFlagMs, withDateFormat } from './time-flags.js'
import { hyperOf } from './pipeline.js'
import { runVerb as verb } from './run-verb.js'

const LABELS = ['zThreshold', 'revertDirection', 'forwardReturnSign', 'tripleBarrier'] as const

interface PairsFlags {
  symbols: string
  timeframe?: string
  source?: string
  start?: string
  end?: string
  holdout: string
  dateFormat?: string
  maxPvalue: string
  minCorr: string
  window: string
  windows: string
  label: string
  horizon?: string
  model: string
  cv: string
  folds?: string
  hyper: string[]
  prefix?: string
  probaThreshold: string
  guardrails: boolean
  topK: string
  caps?: string
  positions?: string
  outDir?: string
  json?: boolean
}

interface StepRecord {
  step: string
  runId?: string
  reused: boolean
  seconds: number
  detail: string
}

/**
 * --holdout: a number by the CLI's number grammar is a fraction in (0, 1), except 8 or more bare digits
 * (20200301, an epoch), which are times; anything else is a time by the time flags' parser (ISO 8601,
 * a day/month date with --date-format).
 */
function holdoutOf(text: string, dateFormat: string | undefined): { fraction: number; time?: undefined } | { fraction?: undefined; time: number } {
  const field = '--holdout (a fraction in (0, 1) or a time)'
  const format = dateFormatFlag(dateFormat)
  if (/^\s*\d{8,}\s*$/.test(text)) return { time: timeFlagMs(text.trim(), field, format) }
  if (Number.isNaN(parseNumberCell(text, '.'))) return { time: timeFlagMs(text, field, format) }
  return { fraction: numberFlag(text, '--holdout', 'a fraction in (0, 1) or a time', (f) => f > 0 && f < 1)! }
}

function numberOf(text: string | undefined, option: string, expected: string, ok: (n: number) => boolean): number | undefined {
  return numberFlag(text, option, expected, ok)
}

export function pipelineCommand(context: CliContext): Command {
  const group = new Command('pipeline').description('whole pipelines chained from the step verbs, each step reused when its inputs are unchanged')
  withDateFormat(group.command('pairs'))
    .description('screen → features → dataset → train → register → gated backtests on the holdout → select (guardrails) → router → infer → targets and orders → report')
    .requiredOption('--symbols <list>', 'the universe, comma-separated (every pair is screened)')
    .option('--timeframe <tf>', "bar timeframe (default: the lake's only timeframe for these symbols)")
    .option('--source <name>', 'lake source (default: the only one holding each symbol)')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)')
    .option('--holdout <f|time>', 'the out-of-sample part for the gated backtests: a fraction of the bars at the end, or the time it starts', '0.3')
    .option('--max-pvalue <p>', 'screen: largest cointegration p-value', '0.05')
    .option('--min-corr <c>', 'screen: smallest |correlation| of log returns', '0.5')
    .option('--window <n>', 'features: hedge-ratio, z-score and half-life window', '60')
    .option('--windows <list>', 'features: the factor windows', '10,20,30,50,100')
    .option('--label <kind>', `dataset: ${LABELS.join(', ')}`, 'revertDirection')
    .option('--horizon <n>', 'dataset: bars the label looks ahead')
    .option('--model <family>', 'train: tree, forest, gbt or logistic', 'tree')
    .option('--cv <kind>', 'train: purged, walk-forward (purged of labels reaching the test window) or cpcv', 'walk-forward')
    .option('--folds <n>', 'train: folds')
    .option('--hyper <k=v>', 'train: a model option, repeatable', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--prefix <name>', 'registered model names <prefix>.<pair> and the router <prefix>-router (default pairs-<model>)')
    .option('--proba-threshold <p>', "gated backtests: enter only where the model's probability is ≥ p", '0.55')
    .option('--no-guardrails', 'select: no default min trades, min Sharpe, max drawdown')
    .option('--top-k <k>', 'select and router: pairs kept', '3')
    .option('--caps <file>', 'portfolio targets: caps.json')
    .option('--positions <file|deployment>', 'portfolio targets: current positions (default flat)')
    .option('--out-dir <dir>', 'also write orders.json, targets.json, report.html and pipeline.json here')
    .option('--json', 'print every step and the outputs as JSON')
    .action(async (o: PairsFlags) => pairsAction(context, o))
  return group
}

async function pairsAction(context: CliContext, o: PairsFlags): Promise<void> {
  const symbols = o.symbols.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (symbols.length < 2) throw new ConfigError(`--symbols needs at least 2 symbols (received ${JSON.stringify(o.symbols)})`)
  const maxPValue = numberOf(o.maxPvalue, '--max-pvalue', 'a probability in (0, 1]', (n) => n > 0 && n <= 1)!
  const minCorr = numberOf(o.minCorr, '--min-corr', 'a number in [0, 1]', (n) => n >= 0 && n <= 1)!
  const window = numberOf(o.window, '--window', 'an integer ≥ 3', (n) => Number.isInteger(n) && n >= 3)!
  const windows = o.windows.split(',').map(Number)
  if (windows.length === 0 || windows.some((w) => !(Number.isInteger(w) && w >= 2))) throw new ConfigError(`--windows must be integers ≥ 2 separated by commas (received ${JSON.stringify(o.windows)})`)
  if (!(LABELS as readonly string[]).includes(o.label)) throw new ConfigError(`--label must be one of ${LABELS.join(', ')} (received ${JSON.stringify(o.label)})`)
  const horizon = numberOf(o.horizon, '--horizon', 'an integer ≥ 1', (n) => Number.isInteger(n) && n >= 1)
  const folds = numberOf(o.folds, '--folds', 'an integer ≥ 2', (n) => Number.isInteger(n) && n >= 2)
  const threshold = numberOf(o.probaThreshold, '--proba-threshold', 'a probability in [0, 1]', (n) => n >= 0 && n <= 1)!
  const topK = numberOf(o.topK, '--top-k', 'an integer ≥ 1', (n) => Number.isInteger(n) && n >= 1)!
  const hyper = hyperOf(o.hyper)
  const holdout = holdoutOf(o.holdout, o.dateFormat)
  const prefix = o.prefix ?? `pairs-${o.model}`
  if (!/^[a-z0-9][a-z0-9._-]{0,80}$/.test(prefix)) throw new ConfigError(`--prefix must be lowercase letters, digits, . _ - (received ${JSON.stringify(prefix)})`)

  const data = lazy('../data/index.js') as typeof import('../data/index.js')
  const pipeline = lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')
  const track = lazy('../track/index.js') as typeof import('../track/index.js')
  const home = context.home

  // The timeframe, and the time the holdout starts (from the first symbol's bars in the window).
  let timeframe = o.timeframe
  if (timeframe === undefined) {
    const tfs = [...new Set((await data.listDatasets(home)).filter((d) => symbols.includes(d.symbol) && (o.source === undefined || d.source === o.source)).map((d) => d.timeframe))]
    if (tfs.length !== 1) throw new ConfigError(`--timeframe is needed: the lake holds ${tfs.length === 0 ? 'no bars' : `timeframes ${tfs.join(', ')}`} for ${symbols.join(', ')}`)
    timeframe = tfs[0]!
  }
  const first = await data.loadBars(home, { symbol: symbols[0]!, timeframe, ...(o.source === undefined ? {} : { source: o.source }), ...(o.start === undefined ? {} : { start: o.start }), ...(o.end === undefined ? {} : { end: o.end }) })
  const n = first.time.length
  let split: number
  if (holdout.fraction !== undefined) split = first.time[Math.floor(n * (1 - holdout.fraction))]!
  else split = holdout.time
  const trainEnd = new Date(split - 1).toISOString()
  const holdoutStart = new Date(split).toISOString()
  const inSample = Array.from(first.time).filter((t) => t < split).length
  if (inSample < 100 || n - inSample < 20) throw new DataError(`the holdout from ${holdoutStart} leaves ${inSample} bars to learn from and ${n - inSample} to test on; expected at least 100 and 20`)

  const say = (line: string) => {
    if (o.json !== true) context.stderr.write(`${line}\n`)
  }
  const progress = o.json === true ? undefined : streamProgressSink(context.stderr)
  const steps: StepRecord[] = []
  const tracker = new track.Tracker(home)
  const parent = tracker.startRun({
    experiment: 'pipeline',
    name: `pipeline pairs ${symbols.join(',')} ${timeframe}`,
    params: { symbols: symbols.join(','), timeframe, holdout: holdoutStart, maxPValue, minCorr, window, windows: windows.join(','), label: o.label, model: o.model, cv: o.cv, probaThreshold: threshold, topK, guardrails: o.guardrails, prefix },
    tags: { 'mtflow.kind': 'pipeline' },
  })
  const TOTAL = 11
  const step = async <T>(name: string, work: () => Promise<{ value: T; runId?: string; reused: boolean; detail: string }>): Promise<T> => {
    const t0 = performance.now()
    say(`[${steps.length + 1}/${TOTAL}] ${name} …`)
    let out: { value: T; runId?: string; reused: boolean; detail: string }
    try {
      out = await work()
    } catch (error) {
      throw new PipelineStepError(name, error)
    }
    const seconds = (performance.now() - t0) / 1000
    steps.push({ step: name, ...(out.runId === undefined ? {} : { runId: out.runId }), reused: out.reused, seconds, detail: out.detail })
    if (out.runId !== undefined) parent.setTag(`mtflow.step.${name.replace(/[^a-z]+/g, '-')}`, out.runId)
    say(`[${steps.length}/${TOTAL}] ${name}: ${out.detail}${out.runId === undefined ? '' : ` — run ${out.runId}${out.reused ? ' (reused)' : ''}`} (${seconds.toFixed(1)} s)`)
    return out.value
  }
  const work = mkdtempSync(join(tmpdir(), 'mtflow-pipeline-'))
  try {
    const common = { ...(o.source === undefined ? {} : { source: o.source }), ...(o.start === undefined ? {} : { start: o.start }) }
    const screen = await step('screen', async () => {
      const r = await pipeline.screenStep(home, { symbols, timeframe: timeframe!, ...common, end: trainEnd, maxPValue, minCorr, ...(progress === undefined ? {} : { progress }) })
      const pairs = await pipeline.readStepTable(home, r.runId, r.manifest, 'pairs')
      const selected = (pairs.selected as boolean[]).filter((s) => s).length
      if (selected === 0) throw new DataError(`no pair of ${symbols.join(', ')} passes the screen (p ≤ ${maxPValue}, |corr| ≥ ${minCorr}) before ${holdoutStart}: loosen --max-pvalue or --min-corr, or add symbols`)
      return { value: r, runId: r.runId, reused: r.reused, detail: `${selected} of ${(pairs.selected as boolean[]).length} pairs selected` }
    })
    const features = await step('features', async () => {
      const r = await pipeline.featuresStep(home, { pairs: screen.runId, ...common, end: trainEnd, window, windows, ...(progress === undefined ? {} : { progress }) })
      return { value: r, runId: r.runId, reused: r.reused, detail: `${r.manifest.tables.length} feature tables` }
    })
    const dataset = await step('dataset', async () => {
      const r = await pipeline.datasetStep(home, { features: features.runId, label: o.label as (typeof LABELS)[number], ...(horizon === undefined ? {} : { horizon }) })
      return { value: r, runId: r.runId, reused: r.reused, detail: `${r.manifest.tables.reduce((a, t) => a + t.rows, 0)} labelled rows (${o.label})` }
    })
    const train = await step('train', async () => {
      const r = await pipeline.trainStep(home, { dataset: dataset.runId, model: o.model, cv: o.cv as import('../pipeline/index.js').CvKind, hyper, ...(folds === undefined ? {} : { folds }) })
      return { value: r, runId: r.runId, reused: r.reused, detail: `${r.manifest.tables.find((t) => t.name === 'summary')?.rows ?? 0} models (${o.model}, ${o.cv})` }
    })
    const models = await step('register', async () => {
      const r = await pipeline.registerModels(home, { from: train.runId, prefix, stage: 'Staging', reason: `pipeline pairs (run ${parent.id})` })
      const made = r.filter((m) => m.version !== undefined)
      return { value: made, reused: made.every((m) => m.created === false), detail: `${made.length} models at Staging (${made.map((m) => `${m.name}@${m.version}`).join(', ')})` }
    })
    const registry = new track.Registry(home)
    const batch = await step('gated backtests', async () => {
      const refs = models.map((m) => `${m.name}@${m.version}`)
      // The same models (by content), threshold and holdout: the batch that holds them already.
      // The holdout's bars by content (new or revised bars since: a new batch).
      const legs = [...new Set(models.map((m) => m.dataset.split('~')).flat())].sort()
      const bars: Record<string, string> = {}
      for (const symbol of legs) bars[symbol] = await data.snapshotId(home, { symbol, timeframe: timeframe!, start: holdoutStart, ...(o.end === undefined ? {} : { end: o.end }), ...(o.source === undefined ? {} : { source: o.source }) })
      const key = sha256(canonicalJson({ models: refs.map((r) => registry.resolve('models', r).sha256), threshold, start: holdoutStart, end: o.end ?? null, source: o.source ?? null, bars }))
      const found = track.searchRuns(tracker, { filter: `tags.\`mtflow.pipeline.batch\` = "${key}" and tags.\`mtflow.kind\` = "backtest-batch" and attributes.status = "FINISHED"`, maxResults: 1 }).runs[0]
      if (found !== undefined) return { value: found.info.runId, runId: found.info.runId, reused: true, detail: `${refs.length} models on the holdout from ${holdoutStart.slice(0, 10)}` }
      const r = await pipeline.gatedBatch(home, { refs, probaThreshold: threshold, start: holdoutStart, ...(o.end === undefined ? {} : { end: o.end }), tags: { 'mtflow.pipeline.batch': key }, ...(progress === undefined ? {} : { progress }) })
      return { value: r.runId, runId: r.runId, reused: false, detail: `${r.rows.length} models on the holdout from ${holdoutStart.slice(0, 10)}; best Sharpe ${r.rows[0]?.sharpe.toFixed(2)} (${r.rows[0]?.target})` }
    })
    const selected = await step('select', async () => {
      const { selectRuns } = lazy('../tune/select-runs.js') as typeof import('../tune/select-runs.js')
      const r = await selectRuns(home, { filter: `attributes.parent_run_id = "${batch}"`, rules: { metric: 'sharpe', guardrails: o.guardrails, topK }, models: true, alias: 'champion' })
      if (r.champions.length === 0) {
        const why = r.verdicts.slice(0, 5).map((v) => `${v.model?.name ?? v.strategy}: ${v.failed.join('; ')}`).join(' | ')
        throw new DataError(`no model passes the guardrails on the holdout (${why}); nothing is routed or traded — see the batch run ${batch}, or --no-guardrails`)
      }
      const targets = r.champions.map((c) => tracker.getRun(c.runId).tags['mtflow.target']!)
      return { value: { champions: r.champions, targets }, reused: false, detail: `${r.champions.length} champions of ${r.candidates} (${targets.join(', ')}), DSR ${r.champions.map((c) => (c.deflated === null ? 'n/a' : c.deflated.dsr.toFixed(2))).join(', ')}` }
    })
    const router = await step('router', async () => {
      const r = await pipeline.routerStep(home, { from: train.runId, topK, keys: selected.targets, name: `${prefix}-router`, stage: 'Staging', reason: `pipeline pairs (run ${parent.id})` })
      return { value: r, runId: r.runId, reused: r.reused, detail: `${r.name}@${r.version} over ${r.routes.map((x) => x.key).join(', ')}` }
    })
    const inferred = await step('infer', async () => {
      const r = await pipeline.inferLatest(home, `${router.name}@${router.version}`, 1)
      return { value: r, runId: r.runId!, reused: false, detail: r.signals.map((s) => `${s.target} p=${s.probability.toFixed(3)} ${s.side}`).join('; ') }
    })
    const outputs = { orders: join(work, 'orders.json'), targets: join(work, 'targets.json'), report: join(work, 'report.html'), pipeline: join(work, 'pipeline.json') }
    await step('targets', async () => {
      const args = ['portfolio', 'targets', '--signals', inferred.runId!, '--out', outputs.orders, '--json', ...(o.caps === undefined ? [] : ['--caps', resolve(o.caps)]), ...(o.positions === undefined ? [] : ['--positions', o.positions])]
      const out = await verb(home, args)
      writeFileSync(outputs.targets, out)
      const t = JSON.parse(out) as { orders?: unknown[] }
      return { value: undefined, reused: false, detail: `${t.orders?.length ?? 0} orders (orders.json)` }
    })
    await step('report', async () => {
      await verb(home, ['report', selected.champions[0]!.runId, '--out', outputs.report, '--json'])
      return { value: undefined, reused: false, detail: `tearsheet of the best champion, run ${selected.champions[0]!.runId} (report.html)` }
    })
    const summary = { runId: parent.id, symbols, timeframe, holdout: holdoutStart, steps, champions: selected.champions.map((c) => ({ runId: c.runId, model: c.model, target: tracker.getRun(c.runId).tags['mtflow.target'], sharpe: c.metrics.sharpe, trials: c.trials, dsr: c.deflated?.dsr ?? null })), router: `${router.name}@${router.version}`, signals: inferred.signals }
    writeFileSync(outputs.pipeline, `${JSON.stringify(summary, null, 2)}\n`)
    for (const [name, file] of Object.entries(outputs)) parent.logArtifact({ name: `${name === 'pipeline' ? 'pipeline' : name}.${name === 'report' ? 'html' : 'json'}`, data: readFileSync(file) })
    parent.logMetrics({ steps: steps.length, reused: steps.filter((s) => s.reused).length, champions: selected.champions.length, seconds: steps.reduce((a, s) => a + s.seconds, 0) })
    parent.end()
    let written: Record<string, string> | undefined
    if (o.outDir !== undefined) {
      makeDirs(o.outDir)
      written = {}
      for (const [name, file] of Object.entries(outputs)) {
        const to = join(o.outDir, file.slice(work.length + 1))
        writeFileSync(to, readFileSync(file))
        written[name] = to
      }
    }
    if (o.json === true) return printJson(context, { ...summary, ...(written === undefined ? {} : { files: written }) })
    context.stdout.write(formatTable(['step', 'run', 'reused', 'seconds', 'result'], steps.map((s) => [s.step, s.runId ?? '—', s.reused ? 'yes' : '', s.seconds.toFixed(1), s.detail])))
    context.stdout.write(`pipeline run ${parent.id}${written === undefined ? ' (orders.json, targets.json, report.html, pipeline.json as its artifacts)' : `; files in ${o.outDir}`}\n`)
  } catch (error) {
    parent.setTag('mtflow.error', errorMessage(error).slice(0, 500))
    parent.end('FAILED')
    if (error instanceof PipelineStepError) {
      const inner = error.cause
      const message = `step ${error.step} failed: ${errorMessage(inner)} (run the same command again to resume: finished steps are reused)`
      throw inner instanceof ConfigError ? new ConfigError(message, { cause: inner }) : inner instanceof DataError ? new DataError(message, { cause: inner }) : new Error(message, { cause: inner })
    }
    throw error
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

class PipelineStepError extends Error {
  constructor(
    readonly step: string,
    inner: unknown,
  ) {
    super(`step ${step} failed`, { cause: inner })
  }
}

