// Pipeline steps as verbs (lib/pipeline): `mtflow features build`, `mtflow dataset build`, `mtflow train`,
// and batch inference with what they made, `mtflow infer`. Each prints the run that holds its
// tables (or the run it reused) and, with --json, the run id and the manifest.

import { Command } from 'commander'
import { ConfigError, streamProgressSink, writeFileAtomic } from '../core/index.js'
import { formatTable, interruptible, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { withDateFormat } from './time-flags.js'

const pipeline = () => lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')

const list = (text: string | undefined) => (text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter((s) => s !== ''))

function integers(text: string | undefined, option: string): number[] | undefined {
  const items = list(text)
  if (items === undefined) return undefined
  const out = items.map(Number)
  if (out.length === 0 || out.some((n) => !Number.isInteger(n))) throw new ConfigError(`${option} must be integers separated by commas, e.g. 10,20,50 (received ${JSON.stringify(text)})`)
  return out
}

export function featuresCommand(context: CliContext): Command {
  const group = new Command('features').description('feature tables per screened pair or per symbol (a pipeline step)')
  withDateFormat(group.command('build'))
    .description('feature tables, one per pair a pairs-screen run selected (--pairs RUN) or per symbol (--symbols), as a tracked run with Parquet tables and a manifest')
    .option('--pairs <run>', 'a `pairs screen --save` run: one table per selected pair')
    .option('--symbols <list>', 'or symbols, comma-separated: one table each')
    .option('--timeframe <tf>', "bar timeframe (default: the screen's)")
    .option('--source <name>', 'lake source (default: the only one holding each symbol)')
    .option('--start <time>', 'first bar (ISO date/time, UTC)')
    .option('--end <time>', 'last bar (inclusive)')
    .option('--set <list>', 'feature sets: pair (hedge ratio, spread, z, half-life), factors (range, trendiness, slope, R² per window; returns); default pair,factors for pairs, factors for symbols')
    .option('--window <n>', 'bars in the hedge-ratio, z-score and half-life windows', '60')
    .option('--windows <list>', 'the factor windows', '10,20,30,50,100')
    .option('--json', 'print the run id and the manifest as JSON')
    .action(async (o: { pairs?: string; symbols?: string; timeframe?: string; source?: string; start?: string; end?: string; set?: string; window: string; windows: string; json?: boolean }) => {
      const window = Number(o.window)
      if (!Number.isInteger(window)) throw new ConfigError(`--window must be an integer ≥ 3 (received ${JSON.stringify(o.window)})`)
      const step = await pipeline().featuresStep(context.home, {
        ...(o.pairs === undefined ? {} : { pairs: o.pairs }),
        ...(o.symbols === undefined ? {} : { symbols: list(o.symbols)! }),
        ...(o.timeframe === undefined ? {} : { timeframe: o.timeframe }),
        ...(o.source === undefined ? {} : { source: o.source }),
        ...(o.start === undefined ? {} : { start: o.start }),
        ...(o.end === undefined ? {} : { end: o.end }),
        ...(o.set === undefined ? {} : { sets: list(o.set) as ('pair' | 'factors')[] }),
        window,
        windows: integers(o.windows, '--windows')!,
        ...(o.json === true ? {} : { progress: streamProgressSink(context.stderr) }),
      })
      if (o.json === true) return printJson(context, { runId: step.runId, reused: step.reused, manifest: step.manifest })
      context.stdout.write(formatTable(['table', 'rows', 'columns', 'from', 'to'], step.manifest.tables.map((t) => [t.name, String(t.rows), String(t.columns.length), t.timeRange?.[0] ?? '', t.timeRange?.[1] ?? ''])))
      context.stdout.write(step.reused ? `the same inputs and options: run ${step.runId} (reused)\n` : `saved as run ${step.runId} (${step.manifest.tables.length} tables, manifest.json)\n`)
    })
  return group
}

function number(text: string | undefined, option: string, expected: string, ok: (n: number) => boolean): number | undefined {
  return numberFlag(text, option, expected, ok)
}

export function datasetCommand(context: CliContext): Command {
  const group = new Command('dataset').description('labelled datasets from feature tables (a pipeline step)')
  group
    .command('build')
    .description('a dataset per feature table of a features run: a label, rows with a missing value dropped, each row with where its label ends; every feature column checked for lookahead first')
    .requiredOption('--features <run>', 'a `features build` run')
    .requiredOption('--label <kind>', 'zThreshold (|z| ≥ entry comes back to ≤ exit within the horizon), revertDirection (|z| smaller after the horizon), forwardReturnSign, tripleBarrier')
    .option('--horizon <bars>', 'bars the label looks ahead (defaults: 20, 10, 1, 20)')
    .option('--entry <z>', 'zThreshold: stretched at |z| ≥ this (default 2)')
    .option('--exit <z>', 'zThreshold: back at |z| ≤ this (default 0.5)')
    .option('--profit <fraction>', 'tripleBarrier: profit-take as a fraction of the close (default 0.02)')
    .option('--stop <fraction>', 'tripleBarrier: stop as a fraction of the close (default 0.02)')
    .option('--json', 'print the run id and the manifest as JSON')
    .action(async (o: { features: string; label: string; horizon?: string; entry?: string; exit?: string; profit?: string; stop?: string; json?: boolean }) => {
      const positive = (n: number) => n > 0 && n < Infinity
      const horizon = number(o.horizon, '--horizon', 'an integer ≥ 1', (n) => Number.isInteger(n) && n >= 1)
      const entry = number(o.entry, '--entry', 'a number > 0', positive)
      const exit = number(o.exit, '--exit', 'a number ≥ 0', (n) => n >= 0 && n < Infinity)
      const profit = number(o.profit, '--profit', 'a fraction > 0, e.g. 0.02', positive)
      const stop = number(o.stop, '--stop', 'a fraction > 0, e.g. 0.02', positive)
      const step = await pipeline().datasetStep(context.home, {
        features: o.features,
        label: o.label as import('../pipeline/index.js').LabelKind,
        ...(horizon === undefined ? {} : { horizon }),
        ...(entry === undefined ? {} : { entry }),
        ...(exit === undefined ? {} : { exit }),
        ...(profit === undefined ? {} : { profit }),
        ...(stop === undefined ? {} : { stop }),
      })
      if (o.json === true) return printJson(context, { runId: step.runId, reused: step.reused, manifest: step.manifest })
      context.stdout.write(formatTable(['dataset', 'rows', 'features', 'from', 'to'], step.manifest.tables.map((t) => [t.name, String(t.rows), String(t.columns.length - 3), t.timeRange?.[0] ?? '', t.timeRange?.[1] ?? ''])))
      context.stdout.write(step.reused ? `the same features and label: run ${step.runId} (reused)\n` : `saved as run ${step.runId} (${step.manifest.tables.length} datasets, manifest.json)\n`)
    })
  return group
}

/** --hyper k=v pairs: numbers where they read as numbers, true/false, else text. */
export function hyperOf(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new ConfigError(`--hyper must be name=value, e.g. maxDepth=4 (received ${JSON.stringify(pair)})`)
    const value = pair.slice(at + 1)
    out[pair.slice(0, at)] = value === 'true' ? true : value === 'false' ? false : value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value
  }
  return out
}

export function trainCommand(context: CliContext): Command {
  return new Command('train')
    .description('a model per dataset of a `dataset build` run (per pair or symbol): cross-validated, fitted on every row and packaged; a pipeline step')
    .requiredOption('--dataset <run>', 'a `dataset build` run')
    .requiredOption('--model <family>', 'tree, forest, gbt or logistic')
    .option('--cv <kind>', 'purged (k-fold with purging and embargo), walk-forward (purged: no training row whose label reaches its test window), or cpcv (combinatorial purged)', 'purged')
    .option('--folds <n>', 'folds (purged, walk-forward; default 5) or groups (cpcv; default 6, 2 tested at a time)')
    .option('--embargo <fraction>', 'rows left out of training after each test block, as a fraction of the rows (purged, cpcv; walk-forward trains on no row after its test block)', '0.01')
    .option('--hyper <k=v>', "a model option, repeatable (e.g. --hyper maxDepth=4 --hyper seed=7)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--executor <name>', 'train the datasets on: local (worker threads) or bullmq (`mtflow worker` processes through Redis); default: this thread')
    .option('--redis <url>', 'Redis of the bullmq executor (default $MTFLOW_REDIS_URL)')
    .option('--workers <n>', 'threads of the local executor', '4')
    .option('--json', 'print the run id and the manifest as JSON')
    .action(async (o: { dataset: string; model: string; cv: string; folds?: string; embargo: string; hyper: string[]; executor?: string; redis?: string; workers: string; json?: boolean }) => {
      const folds = number(o.folds, '--folds', 'an integer ≥ 2', (n) => Number.isInteger(n) && n >= 2)
      const embargo = number(o.embargo, '--embargo', 'a fraction in [0, 0.5)', (n) => n >= 0 && n < 0.5)!
      const workers = number(o.workers, '--workers', 'an integer in [1, 256]', (n) => Number.isInteger(n) && n >= 1 && n <= 256)!
      const name = o.executor ?? process.env.MTFLOW_EXECUTOR
      if (o.redis !== undefined && name !== 'bullmq') throw new ConfigError('--redis goes with --executor bullmq')
      const exec = lazy('../exec/index.js') as typeof import('../exec/index.js')
      const executor = name === undefined ? undefined : interruptible(await exec.createExecutor({ executor: name, threads: workers, redis: o.redis }))
      let step: Awaited<ReturnType<ReturnType<typeof pipeline>['trainStep']>>
      try {
        step = await pipeline().trainStep(context.home, { dataset: o.dataset, model: o.model, cv: o.cv as import('../pipeline/index.js').CvKind, embargo, hyper: hyperOf(o.hyper), ...(folds === undefined ? {} : { folds }), ...(executor === undefined ? {} : { executor }) })
      } finally {
        await executor?.close()
      }
      if (o.json === true) return printJson(context, { runId: step.runId, reused: step.reused, manifest: step.manifest })
      const summary = await pipeline().readStepTable(context.home, step.runId, step.manifest, 'summary')
      const names = summary.name as string[]
      const f = (c: string, i: number) => (summary[c] as Float64Array)[i]!.toFixed(3)
      context.stdout.write(formatTable(['dataset', 'rows', 'ROC AUC', 'PR AUC', 'F1', 'dir. acc.', 'log loss'], names.map((n, i) => [n, String((summary.rows as Float64Array)[i]), f('rocAuc', i), f('prAuc', i), f('f1', i), f('directionalAccuracy', i), f('logLoss', i)])))
      context.stdout.write(step.reused ? `the same datasets, model and CV: run ${step.runId} (reused)\n` : `saved as run ${step.runId} (${names.length} models, cv and summary tables, manifest.json)\n`)
    })
}

export function inferCommand(context: CliContext): Command {
  return new Command('infer')
    .description("a registered model (made by `train`) on the latest bars of its pair or symbol: the features rebuilt as its lineage says, a probability, side and confidence per bar")
    .argument('<model>', 'NAME@VERSION or NAME@ALIAS (e.g. pairs-tree.dax-smi@1)')
    .option('--last <n>', 'the latest bars with every feature present', '1')
    .option('--out <file>', 'write the signals as JSON lines (one per bar)')
    .option('--no-track', 'do not record a run (by default a run of kind "infer" holds signals.jsonl, for `portfolio targets --signals RUN`)')
    .option('--json', 'print the signals as JSON')
    .action(async (ref: string, o: { last: string; out?: string; track: boolean; json?: boolean }) => {
      const last = number(o.last, '--last', 'an integer ≥ 1', (n) => Number.isInteger(n) && n >= 1)!
      const { signals, runId } = await pipeline().inferLatest(context.home, ref, last, { track: o.track })
      if (o.out !== undefined) writeFileAtomic(o.out, signals.map((s) => `${JSON.stringify(s)}\n`).join(''))
      if (o.json === true) return printJson(context, o.track ? { runId, signals } : signals)
      context.stdout.write(formatTable(['time', 'target', 'model', 'probability', 'side', 'confidence'], signals.map((s) => [s.time, s.target, s.model, s.probability.toFixed(4), s.side, s.confidence.toFixed(3)])))
      if (o.out !== undefined) context.stdout.write(`${signals.length} signal${signals.length === 1 ? '' : 's'} written to ${o.out}\n`)
      if (runId !== undefined) context.stdout.write(`recorded as run ${runId} (signals.jsonl)\n`)
    })
}
