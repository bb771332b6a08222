// `mtflow registry …` (strategies, models, notebooks, dashboards, deployments: versions, aliases, stages,
// retire, restore, audit) and `mtflow strategy register|retire|restore`.

import { Command } from 'commander'
import { existsSync, lstatSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { ConfigError, isoTime, makeDirs } from '../core/index.js'
import type { RegistryKind, RegistryVersion } from '../track/index.js'
import { REGISTRY_KINDS } from '../track/registry.js'
import { PROJECT_ROOT } from '../../kernel/kernelspec.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'

const track = () => lazy('../track/index.js') as typeof import('../track/index.js')
const strategies = () => lazy('../strategy/index.js') as typeof import('../strategy/index.js')

/** "strategies, models, notebooks, dashboards or deployments" for help texts. */
const KINDS_TEXT = `${REGISTRY_KINDS.slice(0, -1).join(', ')} or ${REGISTRY_KINDS[REGISTRY_KINDS.length - 1]}`

export function registryCommand(context: CliContext): Command {
  const registry = new Command('registry').description(`the registry: ${REGISTRY_KINDS.join(', ')}, with versions, aliases and an audit log`)
  for (const kind of REGISTRY_KINDS) {
    registry
      .command(kind)
      .description(`${kind} in the registry, or the versions of one`)
      .argument('[name]', 'show the versions of this one')
      .option('--json', 'print JSON')
      .action((name: string | undefined, o: { json?: boolean }) => {
        const reg = new (track().Registry)(context.home)
        if (name === undefined) {
          const entries = reg.list(kind)
          if (o.json === true) return printJson(context, entries)
          if (entries.length === 0) return void context.stdout.write(`no ${kind} registered\n`)
          return void context.stdout.write(
            formatTable(
              ['name', 'versions', 'latest active', 'aliases', 'retired'],
              entries.map((e) => {
                const active = e.versions.filter((v) => v.status === 'active')
                return [e.name, String(e.versions.length), active.length === 0 ? '—' : String(active[active.length - 1]!.version), aliasText(e.aliases), String(e.versions.length - active.length)]
              }),
            ),
          )
        }
        const entry = reg.entry(kind, name)
        if (o.json === true) return printJson(context, entry)
        context.stdout.write(formatTable(versionHeader(kind), entry.versions.map((v) => versionRow(v, entry.aliases))))
      })
  }

  registry
    .command('alias')
    .description('point an alias (champion, challenger…) at a version')
    .argument('<kind>', KINDS_TEXT)
    .argument('<ref>', 'NAME@VERSION')
    .argument('<alias>', 'the alias')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'print JSON')
    .action((kind: string, ref: string, alias: string, o: { reason?: string; json?: boolean }) => {
      const reg = new (track().Registry)(context.home)
      const v = reg.resolve(checkKind(kind), ref)
      reg.setAlias(v.kind, v.name, alias, v.version, o.reason)
      done(context, o.json, { kind, name: v.name, alias, version: v.version }, `${v.name}@${alias} → version ${v.version}`)
    })

  registry
    .command('unalias')
    .description('delete an alias')
    .argument('<kind>', KINDS_TEXT)
    .argument('<name>', 'the name')
    .argument('<alias>', 'the alias')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'print JSON')
    .action((kind: string, name: string, alias: string, o: { reason?: string; json?: boolean }) => {
      new (track().Registry)(context.home).deleteAlias(checkKind(kind), name, alias, o.reason)
      done(context, o.json, { kind, name, alias, deleted: true }, `deleted ${name}@${alias}`)
    })

  registry
    .command('stage')
    .description('move a model version to a stage: None, Staging, Production or Archived')
    .argument('<ref>', 'NAME@VERSION')
    .argument('<stage>', 'None, Staging, Production or Archived')
    .option('--archive-existing', 'move the versions now in that stage to Archived')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'print JSON')
    .action((ref: string, stage: string, o: { archiveExisting?: boolean; reason?: string; json?: boolean }) => {
      const reg = new (track().Registry)(context.home)
      const v = reg.resolve('models', ref)
      const after = reg.transitionStage(v.name, v.version, stage as never, { reason: o.reason, archiveExisting: o.archiveExisting === true })
      done(context, o.json, after, `model ${after.name}@${after.version} is now ${after.stage}`)
    })

  for (const verb of ['retire', 'restore'] as const) {
    registry
      .command(verb)
      .description(verb === 'retire' ? 'retire a version (kept, but no longer the latest; an aliased version must lose its alias first)' : 'make a retired version active again')
      .argument('<kind>', KINDS_TEXT)
      .argument('<ref>', 'NAME@VERSION')
      .option('--reason <text>', 'why (kept in the audit log)')
      .option('--json', 'print JSON')
      .action((kind: string, ref: string, o: { reason?: string; json?: boolean }) => setStatus(context, checkKind(kind), ref, verb, o))
  }

  registry
    .command('audit')
    .description('every change to an entry: registrations, aliases, stages, retire/restore, links — when, who and why')
    .argument('<kind>', KINDS_TEXT)
    .argument('<name>', 'the name')
    .option('--json', 'print JSON')
    .action((kind: string, name: string, o: { json?: boolean }) => {
      const reg = new (track().Registry)(context.home)
      // The log first: it stays readable when the entry's aliases.json is corrupt (it is how to restore it).
      const log = reg.auditLog(checkKind(kind), name)
      if (log.length === 0) reg.entry(checkKind(kind), name)
      if (o.json === true) return printJson(context, log)
      context.stdout.write(formatTable(['time', 'user', 'action', 'version', 'change', 'reason'], log.map((e) => [isoTime(e.time).slice(0, 19), e.user, e.action, e.version === undefined ? '' : String(e.version), change(e), e.reason ?? ''])))
    })

  registry
    .command('register-model')
    .description("register a run's model package (an artifact written by mtflow's packageModel) as a new model version")
    .argument('<name>', 'the model name')
    .requiredOption('--run <id>', 'the run that made the model')
    .requiredOption('--artifact <path>', "the artifact's path in the run")
    .option('--description <text>', 'a description')
    .option('--any-file', "register a file that is not an mtflow model package (another tool's model) as it is, unchecked")
    .option('--json', 'print JSON')
    .action((name: string, o: { run: string; artifact: string; description?: string; anyFile?: boolean; json?: boolean }) => {
      const tracker = new (track().Tracker)(context.home)
      // A model package (mtflow's model.json) is checked whole before it enters the registry, as
      // registerPackage does: a package a server could not load (a cyclic tree…) is refused here.
      // Any other file is refused unless --any-file says it is meant (models serve reads packages only).
      const check = (bytes: Buffer, path: string) => {
        if (!looksLikePackage(bytes)) {
          if (o.anyFile === true) return
          throw new ConfigError(`artifact ${JSON.stringify(path)} of run ${o.run} is not an mtflow model package (a JSON file whose format is "mtflow-model"); nothing registered — give --any-file to register another tool's file as it is`)
        }
        const { readPackage } = lazy('../ml/index.js') as typeof import('../ml/index.js')
        readPackage(bytes.toString('utf8'), `artifact ${JSON.stringify(path)} of run ${o.run}`)
      }
      const { version, created } = new (track().Registry)(context.home).registerModel(tracker, name, o.run, o.artifact, { description: o.description, check })
      done(context, o.json, { ...version, created }, `${created ? 'registered' : 'already registered:'} model ${name}@${version.version} (sha256 ${version.sha256.slice(0, 12)})`)
    })
  registry
    .command('register-models')
    .description('every model of a `train` run into the registry at once (one name per dataset: PREFIX.PAIR), each moved to a stage')
    .requiredOption('--from <run>', 'a `train` run')
    .option('--prefix <name>', 'model name prefix (default: the model family, e.g. tree)')
    .option('--stage <stage>', 'None, Staging, Production or Archived', 'Staging')
    .option('--min-roc-auc <x>', 'leave out models whose cross-validated ROC AUC is below this')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'print JSON')
    .action(async (o: { from: string; prefix?: string; stage: string; minRocAuc?: string; reason?: string; json?: boolean }) => {
      const min = o.minRocAuc === undefined ? undefined : Number(o.minRocAuc)
      if (o.minRocAuc !== undefined && (o.minRocAuc.trim() === '' || !(min! >= 0 && min! <= 1))) throw new ConfigError(`--min-roc-auc must be a number in [0, 1] (received ${JSON.stringify(o.minRocAuc)})`)
      const { registerModels } = lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')
      const rows = await registerModels(context.home, { from: o.from, stage: o.stage as never, ...(o.prefix === undefined ? {} : { prefix: o.prefix }), ...(min === undefined ? {} : { minRocAuc: min }), ...(o.reason === undefined ? {} : { reason: o.reason }) })
      if (o.json === true) return printJson(context, rows)
      context.stdout.write(formatTable(['dataset', 'model', 'ROC AUC', 'registered'], rows.map((r) => [r.dataset, r.version === undefined ? r.name : `${r.name}@${r.version}`, r.rocAuc.toFixed(3), r.skipped !== undefined ? `no: ${r.skipped}` : `${r.created === true ? 'yes' : 'already'}, ${r.stage}`])))
    })
  return registry
}

export function strategyCommand(context: CliContext): Command {
  const strategy = new Command('strategy').description('write a strategy from the template, test it, register, retire and restore versions')
  strategy
    .command('new')
    .description('write NAME.ts (a complete, commented strategy) and NAME.test.ts (its tests: runs, trades, never looks ahead, engines agree) from the template')
    .argument('<name>', 'the strategy name: lowercase letters, digits and dashes')
    .option('--dir <dir>', 'the folder to write them in (created if missing)', '.')
    .option('--json', 'print JSON')
    .action((name: string, o: { dir: string; json?: boolean }) => {
      const written = writeStrategyTemplate(name, o.dir)
      done(context, o.json, written, `wrote ${written.strategy} and ${written.test}\n  test it:     mtflow strategy test ${written.test}\n  backtest it: mtflow backtest --strategy ${written.strategy} --symbol SPX`)
    })
  strategy
    .command('test')
    .description("run a strategy's tests (node:test, node:assert) under mtflow's loader, where `import … from 'mtflow'` resolves; exit code 0 when they pass, 1 when one fails")
    .argument('<file>', 'the test file (NAME.test.ts)')
    .option('--json', 'print JSON: counts and the failed tests (the test output is not shown)')
    .action(async (file: string, o: { json?: boolean }) => {
      const result = await runStrategyTests(context, file, o.json === true)
      if (o.json === true) printJson(context, result)
      if (!result.ok) context.exitCode = 1
    })
  strategy
    .command('register')
    .description("snapshot a strategy's source as a new version (same source → the same version), with a parity check of its engines")
    .argument('<strategy>', 'a built-in name or a .ts/.js file exporting one')
    .option('--run <id>', 'a run that validates it (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--description <text>', 'a description')
    .option('--param <key=value>', "the version's params (repeatable; default: the strategy's defaults) — saved in params.json, so other params make another version", (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--no-parity', 'skip the event-driven vs vectorized check on the bundled S&P 500 sample')
    .option('--json', 'print JSON')
    .action(async (spec: string, o: { run: string[]; param: string[]; description?: string; parity: boolean; json?: boolean }) => {
      const given = o.param.length === 0 ? undefined : Object.fromEntries(o.param.map((p) => strategies().parseParamArg(p)))
      const result = await registerStrategyVersion(context, spec, { params: given, runs: o.run, description: o.description, parity: o.parity })
      const { parity, created } = result
      if (result.outside !== undefined) context.stderr.write(`mtflow: note: the version bundles ${result.outside.length} file(s) from outside the strategy's folder (${result.outside.slice(0, 5).join(', ')}${result.outside.length > 5 ? ', …' : ''}); their text is in the registry, which mtflow serve publishes\n`)
      const parityText = parity === undefined ? 'no parity check (no vectorized form)' : parity.agree ? `engines agree (max relative difference ${parity.maxRelativeDifference.toExponential(2)})` : `engines DISAGREE (max relative difference ${parity.maxRelativeDifference.toExponential(2)})`
      // The version's hash covers its params too when they are stored: the source's own hash is what runs record.
      const source = strategies().registeredSourceFile(result.files)
      const sourceText = source === undefined || source.sha256 === result.sha256 ? '' : ` (source sha256:${source.sha256.slice(0, 12)}, the lineage.strategy.sha256 of its runs)`
      done(context, o.json, result, `${created ? 'registered' : 'unchanged source, already'} ${result.name}@${result.version} sha256:${result.sha256.slice(0, 12)}${sourceText}; ${parityText}`)
    })
  for (const verb of ['retire', 'restore'] as const) {
    strategy
      .command(verb)
      .description(verb === 'retire' ? 'retire a strategy version' : 'make a retired strategy version active again')
      .argument('<ref>', 'NAME@VERSION')
      .option('--reason <text>', 'why (kept in the audit log)')
      .option('--json', 'print JSON')
      .action((ref: string, o: { reason?: string; json?: boolean }) => setStatus(context, 'strategies', ref, verb, o))
  }
  return strategy
}

/** NAME.ts and NAME.test.ts from the template in `dir`; refuses to overwrite either (nothing written then). */
function writeStrategyTemplate(name: string, dir: string): { name: string; strategy: string; test: string } {
  const template = lazy('../strategy/template.js') as typeof import('../strategy/template.js')
  template.checkStrategyName(name)
  const root = resolve(dir)
  if (existsSync(root) && !statSync(root).isDirectory()) throw new ConfigError(`--dir ${JSON.stringify(dir)} is not a folder`)
  const files = { strategy: join(root, `${name}.ts`), test: join(root, `${name}.test.ts`) }
  // lstat, not exists: a dangling link is something there too (existsSync follows it and says no).
  const taken = (path: string) => {
    try {
      lstatSync(path)
      return true
    } catch {
      return false
    }
  }
  for (const path of Object.values(files)) if (taken(path)) throw new ConfigError(`${path} already exists; nothing written (strategy new never overwrites)`)
  makeDirs(root)
  writeFileSync(files.strategy, template.strategyTemplate(name), { flag: 'wx' })
  try {
    writeFileSync(files.test, template.strategyTestTemplate(name), { flag: 'wx' })
  } catch (error) {
    // Both or neither: a test file that appeared meanwhile leaves no strategy file behind.
    rmSync(files.strategy, { force: true })
    throw new ConfigError(`${files.test} could not be written (${(error as NodeJS.ErrnoException).code ?? String(error)}); nothing written`, { cause: error })
  }
  return { name, ...files }
}

export interface StrategyTestResult {
  file: string
  ok: boolean
  exitCode: number | null
  tests: number
  pass: number
  fail: number
  skipped: number
  /** Names of the failed tests. */
  failed: string[]
  /** Why no test ran: the file has none, or it did not load. */
  error?: string
}

/**
 * A test file run in a child Node under the CLI's loader (tsx's require hook and the `mtflow` alias):
 * node:test runs its tests and sets the exit code. The spec output streams through (unless json); a TAP
 * copy in a temporary file gives the counts either way. A file that runs no test fails (`error` says so),
 * as does one that does not load: then the compiler's or the runtime's one line, not the child's stack
 * (a syntax error printed the whole minified module).
 */
async function runStrategyTests(context: CliContext, file: string, json: boolean): Promise<StrategyTestResult> {
  const path = resolve(file)
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(`test file ${JSON.stringify(file)} does not exist`)
  if (!/\.[cm]?[tj]s$/.test(path)) throw new ConfigError(`test file ${JSON.stringify(file)} must be a .ts or .js file`)
  const { spawn } = lazy('node:child_process') as typeof import('node:child_process')
  const { mkdtempSync, readFileSync, rmSync } = lazy('node:fs') as typeof import('node:fs')
  const { tmpdir } = lazy('node:os') as typeof import('node:os')
  const scratch = mkdtempSync(join(tmpdir(), 'mtflow-strategy-test-'))
  const tapFile = join(scratch, 'report.tap')
  const reporters = [...(json ? [] : ['--test-reporter', 'spec', '--test-reporter-destination', 'stdout']), '--test-reporter', 'tap', '--test-reporter-destination', tapFile]
  const args = ['--require', join(PROJECT_ROOT, 'lib', 'core', 'loader.cjs'), '--require', join(PROJECT_ROOT, 'lib', 'cli', 'alias.cjs'), ...reporters, '-e', `require(${JSON.stringify(path)})`]
  try {
    const child = spawn(process.execPath, args, { cwd: dirname(path), stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (json ? undefined : context.stdout.write(d.toString())))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exitCode = await new Promise<number | null>((done, fail) => {
      child.on('error', fail)
      child.on('close', (code) => done(code))
    })
    const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : ''
    const count = (key: string) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0)
    const failed = [...tap.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]!.trim())
    const tests = count('tests')
    let error: string | undefined
    if (tests === 0) {
      const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l.length <= 2000)
      error =
        exitCode === 0
          ? `no tests ran in ${file}: a strategy's tests are node:test test(…) calls (mtflow strategy new writes a file of them)`
          : `${file} did not load: ${lines.find((l) => /\bERROR: /.test(l)) ?? lines.find((l) => /^\w*Error\b/.test(l)) ?? `the test process exited with code ${exitCode}`}`
    } else if (!json && stderr !== '') context.stderr.write(stderr)
    if (error !== undefined && !json) context.stderr.write(`mtflow: ${error}\n`)
    return { file: path, ok: exitCode === 0 && error === undefined, exitCode, tests, pass: count('pass'), fail: count('fail'), skipped: count('skipped'), failed, ...(error === undefined ? {} : { error }) }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function setStatus(context: CliContext, kind: RegistryKind, ref: string, verb: 'retire' | 'restore', o: { reason?: string; json?: boolean }): void {
  if (!/@\d+$/.test(ref)) throw new ConfigError(`${verb} needs NAME@VERSION with a version number (received ${JSON.stringify(ref)})`)
  const reg = new (track().Registry)(context.home)
  const v = reg.resolve(kind, ref)
  const after = verb === 'retire' ? reg.retire(kind, v.name, v.version, o.reason) : reg.restore(kind, v.name, v.version, o.reason)
  done(context, o.json, after, `${after.name}@${after.version} is ${after.status}`)
}

function checkKind(kind: string): RegistryKind {
  const kinds = track().REGISTRY_KINDS
  if (!kinds.includes(kind as RegistryKind)) throw new ConfigError(`kind must be one of ${kinds.join(', ')} (received ${JSON.stringify(kind)})`)
  return kind as RegistryKind
}

function done(context: CliContext, json: boolean | undefined, value: unknown, text: string): void {
  if (json === true) printJson(context, value)
  else context.stdout.write(`${text}\n`)
}

function aliasText(aliases: Record<string, number>): string {
  return Object.entries(aliases)
    .map(([a, v]) => `${a}→${v}`)
    .join(' ')
}

function versionHeader(kind: RegistryKind): string[] {
  return ['version', 'created', 'sha256', 'status', ...(kind === 'models' ? ['stage'] : []), 'aliases', 'runs', ...(kind === 'strategies' ? ['parity'] : [])]
}

function versionRow(v: RegistryVersion, aliases: Record<string, number>): string[] {
  const mine = Object.entries(aliases)
    .filter(([, n]) => n === v.version)
    .map(([a]) => a)
    .join(' ')
  const parity = v.parity === undefined ? '—' : v.parity.agree ? 'agree' : 'DISAGREE'
  return [String(v.version), isoTime(v.createdAt).slice(0, 19), v.sha256.slice(0, 12), v.status, ...(v.kind === 'models' ? [v.stage ?? 'None'] : []), mine, String(v.runs.length), ...(v.kind === 'strategies' ? [parity] : [])]
}

function change(e: { from?: string; to?: string; alias?: string }): string {
  const alias = e.alias === undefined ? '' : `${e.alias}: `
  if (e.from !== undefined && e.to !== undefined) return `${alias}${e.from} → ${e.to}`
  if (e.to !== undefined) return `${alias}${e.to.length > 24 ? `${e.to.slice(0, 24)}…` : e.to}`
  return e.from === undefined ? alias : `${alias}${e.from} removed`
}

/**
 * A strategy version: its source (and params.json when params are given), the runs that validate it, and
 * the parity check of its engines on the bundled S&P 500 (`strategy register`, and `select` for each champion).
 */
export async function registerStrategyVersion(
  context: CliContext,
  spec: string,
  o: { params?: Record<string, number | string>; runs?: readonly string[]; description?: string; parity?: boolean },
): Promise<RegistryVersion & { created: boolean; outside?: string[] }> {
  const { strategy: s, file } = await strategies().loadStrategy(spec, (path) => lazy(path))
  const tracker = new (track().Tracker)(context.home)
  for (const id of o.runs ?? []) tracker.getRun(id)
  const source = strategies().strategySource(s, file)
  // Files bundled from outside the strategy's folder go into the registry too (which `serve` publishes): said.
  const outside = (source.inputs ?? []).filter((i) => i.startsWith('../') || i.startsWith('..\\'))
  const defaults = strategies().resolveParams(s.name, s.params, o.params ?? {}) as Record<string, number>
  const reg = new (track().Registry)(context.home)
  // A bundle (ESM JavaScript) is stored as source.ts: the loader's TypeScript hook runs it from any folder.
  const ext = source.bundled === true ? '.ts' : (source.file?.match(/\.[cm]?[tj]s$/)?.[0] ?? '.ts')
  const { version, created } = reg.register('strategies', s.name, {
    files: { [`source${ext}`]: source.source, ...(o.params === undefined ? {} : { 'params.json': `${JSON.stringify(defaults, null, 2)}\n` }) },
    params: defaults,
    runs: o.runs ?? [],
    source: source.file ?? (source.builtin ? `builtin:${s.name}` : 'code'),
    ...(o.description === undefined ? {} : { description: o.description }),
    ...(s.description === undefined ? {} : { metadata: { description: s.description } }),
  })
  let parity = version.parity
  if (o.parity !== false && parity === undefined) {
    const { readBarsCsv } = lazy('../data/index.js') as typeof import('../data/index.js')
    const bars = readBarsCsv(join(PROJECT_ROOT, 'data', 'samples', 'sp500-daily-2000-2020.csv'), { symbol: 'SPX', timeframe: '1d' })
    const { parityCheck } = lazy('../backtest/index.js') as typeof import('../backtest/index.js')
    const checked = parityCheck(s, defaults as Record<string, number>, bars, { data: 'bundled S&P 500 daily 2000–2020 (SPX 1d)' })
    if (checked !== undefined) parity = reg.recordParity(s.name, version.version, checked).parity
  }
  return { ...version, ...(parity === undefined ? {} : { parity }), created, ...(outside.length === 0 ? {} : { outside }) }
}

/** JSON that says it is an mtflow model package (another tool's model.json is registered as it is). */
function looksLikePackage(bytes: Buffer): boolean {
  const { PACKAGE_FORMAT } = lazy('../ml/index.js') as typeof import('../ml/index.js')
  return bytes.length > 0 && bytes[0] === 0x7b /* { */ && bytes.subarray(0, 4096).toString('utf8').includes(JSON.stringify(PACKAGE_FORMAT))
}
