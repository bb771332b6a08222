// `mtflow portfolio`: signals to risk-capped target positions and an orders file (issue 20).
//   portfolio targets --signals FILE|RUN [--caps caps.json] [--positions FILE|DEPLOYMENT] [--weights FILE |
//                     --weights-from RUN|results.csv --scheme S] [--out orders.json] [--prod-config OUT]
//   portfolio weights --from RUN|results.csv --scheme winners|equal|inverse-vol [--out weights.csv]
// The library is lib/portfolio (the computation) and lib/live/orders-file.ts (the file a deployment takes);
// this file reads runs, the registry and deployments for them. Everything is checked and computed before
// anything is written: bad input leaves no file behind.

import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { Command } from 'commander'
import { ConfigError, timeframeMs, writeFileAtomic } from '../core/index.js'
import { formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'

const portfolio = () => lazy('../portfolio/index.js') as typeof import('../portfolio/index.js')
const track = () => lazy('../track/index.js') as typeof import('../track/index.js')
const live = () => lazy('../live/index.js') as typeof import('../live/index.js')
const ordersFile = () => lazy('../live/orders-file.js') as typeof import('../live/orders-file.js')
const pipeline = () => lazy('../pipeline/index.js') as typeof import('../pipeline/index.js')

type Signal = import('../portfolio/index.js').Signal
type ResultRow = import('../portfolio/index.js').ResultRow

const isFile = (path: string) => existsSync(path) && statSync(path).isFile()

function number(text: string | undefined, option: string, expected: string, ok: (n: number) => boolean): number | undefined {
  return numberFlag(text, option, expected, ok)
}

/** Signals from a file, or from a run's signals.jsonl artifact; with the source an orders file records. */
function loadSignals(home: string, ref: string): { signals: Signal[]; source: string } {
  const p = portfolio()
  if (isFile(ref)) {
    const { signals, sha256 } = p.readSignalsFile(ref)
    return { signals, source: `sha256:${sha256}` }
  }
  const tracker = new (track().Tracker)(home)
  let artifacts: { path: string }[]
  try {
    artifacts = tracker.getRun(ref).artifacts
  } catch {
    throw new ConfigError(`--signals ${ref}: no such file and no such run; expected a signals file (mtflow infer --out) or a run with a signals.jsonl artifact`)
  }
  if (!artifacts.some((a) => a.path === 'signals.jsonl')) throw new ConfigError(`--signals ${ref}: run ${ref} has no signals.jsonl artifact`)
  const { bytes } = tracker.readArtifact(ref, 'signals.jsonl')
  if (bytes.length > p.MAX_SIGNALS_BYTES) throw new ConfigError(`--signals ${ref}: its signals.jsonl is ${bytes.length} bytes; expected at most ${p.MAX_SIGNALS_BYTES}`)
  const signals = p.parseSignals(bytes.toString('utf8'), `run ${ref} signals.jsonl`)
  if (signals.length === 0) throw new ConfigError(`--signals ${ref}: its signals.jsonl holds no signals`)
  return { signals, source: `run:${ref}` }
}

/** The timeframe and hedge window a model's features were built with (train → dataset → features), if its lineage says. */
function lineageOf(home: string, model: string): { timeframe: string; window: number } | undefined {
  try {
    const t = track()
    const version = new t.Registry(home).resolve('models', model)
    if (version.sourceRunId === undefined) return undefined
    const tracker = new t.Tracker(home)
    // A router (router build): its routes came from one train run, its own run's input.
    const source = tracker.getRun(version.sourceRunId).tags['mtflow.kind'] === 'router' ? t.stepRun(tracker, version.sourceRunId, ['router'], 'router').manifest.inputs.find((i) => i.kind === 'run')!.ref : version.sourceRunId
    const { features } = t.trainChain(tracker, source, 'model')
    return { timeframe: String(features.manifest.params.timeframe), window: Number(features.manifest.params.window) }
  } catch {
    return undefined
  }
}

/** Results rows from a backtest-batch run's summary table or a results CSV. */
async function loadResults(home: string, from: string, option: string): Promise<{ rows: ResultRow[]; what: string }> {
  if (isFile(from)) return { rows: portfolio().readResultsCsv(from), what: `results file ${from}` }
  const t = track()
  const run = t.stepRun(new t.Tracker(home), from, ['backtest-batch'], option)
  const table = await pipeline().readStepTable(home, from, run.manifest, 'summary')
  const names = (table.target ?? table.name) as string[] | undefined
  if (names === undefined) throw new ConfigError(`${option} ${from}: its summary table has no target column`)
  const col = (c: string) => (table[c] instanceof Float64Array ? (table[c] as Float64Array) : undefined)
  const sharpe = col('sharpe')
  const vol = col('volatility') ?? col('annualVolatility')
  return { rows: names.map((name, i) => ({ name, sharpe: sharpe?.[i] ?? NaN, volatility: vol?.[i] ?? NaN })), what: `run ${from}'s summary` }
}

interface PositionsSource {
  current: Record<string, number>
  deployment?: { name: string; id: string; nextSeq: number; equity: number; drawdown: number; lastBar?: string }
}

/** Current positions from a file, or from a deployment's status (its equity and drawdown too) and journal (read only). */
function loadPositions(home: string, ref: string | undefined): PositionsSource {
  if (ref === undefined) return { current: {} }
  if (isFile(ref)) return { current: portfolio().readPositionsFile(ref) }
  if (/[/\\]|\.(csv|json)$/i.test(ref)) throw new ConfigError(`--positions ${ref}: no such regular file; expected a positions file (JSON {symbol: qty} or CSV symbol,qty) or a deployment name`)
  const l = live()
  const status = l.readStatus(home, ref)
  const current = Object.create(null) as Record<string, number>
  for (const p of status.positions) current[p.symbol] = (current[p.symbol] ?? 0) + p.qty
  const dir = l.deploymentDir(home, ref)
  // The journal's deployment id as deployment.ts makes it: name#salt, or the name for a journal from before salts.
  const idFile = join(dir, 'deployment.id')
  const id = existsSync(idFile) ? `${ref}#${readFileSync(idFile, 'utf8').trim()}` : ref
  const nextSeq = l.OrderJournal.open(dir, id, { durability: 'step' }).current.nextSeq
  // Peak equity: the tracked run's equity history when there is one, else the status's equity (no drawdown known).
  let peak = status.equity
  if (status.runId !== undefined) {
    try {
      for (const point of new (track().Tracker)(home).metricHistory(status.runId, 'equity')) if (point.value > peak) peak = point.value
    } catch {
      /* a run gone: the status's equity is all there is */
    }
  }
  const drawdown = peak > 0 && status.equity < peak ? 1 - status.equity / peak : 0
  // Priced as the deployment sees the market: the bars that closed by its last step (lastBar is that bar's
  // close time; the bar opening then has not closed). A replay's lake holds bars past it.
  return { current, deployment: { name: ref, id, nextSeq, equity: status.equity, drawdown, ...(status.lastBar === undefined ? {} : { lastBar: status.lastBar }) } }
}

/** --max-age N (bars) or Nh (hours). */
function maxAgeOf(text: string | undefined): { bars?: number; hours?: number } | undefined {
  if (text === undefined) return undefined
  const m = /^(\d+(?:\.\d+)?)(h?)$/.exec(text.trim())
  if (m === null || (m[2] === '' && !Number.isInteger(Number(m[1])))) throw new ConfigError(`--max-age must be a number of bars (e.g. 3) or hours (e.g. 12h) (received ${JSON.stringify(text)})`)
  return m[2] === 'h' ? { hours: Number(m[1]) } : { bars: Number(m[1]) }
}

interface TargetsFlags {
  signals: string
  caps?: string
  positions?: string
  weights?: string
  weightsFrom?: string
  scheme?: string
  strategy?: string
  timeframe?: string
  source?: string
  volWindow: string
  hedgeWindow?: string
  barsPerYear?: string
  targetVol: string
  minConfidence: string
  maxAge?: string
  drawdown?: string
  out?: string
  prodConfig?: string
  json?: boolean
}

async function targetsAction(context: CliContext, o: TargetsFlags): Promise<void> {
  const p = portfolio()
  const home = context.home
  const warn = (line: string) => context.stderr.write(`mtflow: ${line}\n`)
  const volWindow = number(o.volWindow, '--vol-window', 'an integer ≥ 2', (n) => Number.isInteger(n) && n >= 2)!
  const hedgeWindow = number(o.hedgeWindow, '--hedge-window', 'an integer ≥ 2', (n) => Number.isInteger(n) && n >= 2)
  const barsPerYear = number(o.barsPerYear, '--bars-per-year', 'a number > 0', (n) => n > 0 && n < Infinity)
  const targetVol = number(o.targetVol, '--target-vol', 'an annualised volatility > 0, e.g. 0.1', (n) => n > 0 && n < Infinity)!
  const minConfidence = number(o.minConfidence, '--min-confidence', 'a number in [0, 1]', (n) => n >= 0 && n <= 1)!
  const manualDrawdown = number(o.drawdown, '--drawdown', 'a fraction in [0, 1]', (n) => n >= 0 && n <= 1)
  const maxAge = maxAgeOf(o.maxAge)
  if (o.weights !== undefined && o.weightsFrom !== undefined) throw new ConfigError('--weights and --weights-from are alternatives; pass one')
  if (o.weightsFrom !== undefined && o.scheme === undefined) throw new ConfigError('--weights-from needs --scheme winners|equal|inverse-vol')
  if (o.scheme !== undefined && o.weightsFrom === undefined) throw new ConfigError('--scheme goes with --weights-from RUN|results.csv')

  const caps = o.caps === undefined ? p.DEFAULT_CAPS : p.readCapsFile(o.caps)
  const { signals: all, source } = loadSignals(home, o.signals)
  const targets = new Set(all.map((s) => s.target))
  const signalsName = isFile(o.signals) ? o.signals : `run ${o.signals}`

  // Weights: shares per target, and the strategy rows the production config deploys.
  const weightRows = o.weights === undefined ? [] : p.readWeightsTable(o.weights)
  const registry = new (track().Registry)(home)
  const pinned = new Map<string, string>()
  const pin = (ref: string, where: string) => {
    try {
      const v = live().pinStrategy(registry, ref, `strategy ${JSON.stringify(ref)}`)
      pinned.set(ref, `${v.name}@${v.version}`)
    } catch (error) {
      throw new ConfigError(`${where}: unknown strategy ${JSON.stringify(ref)}: ${(error as Error).message.replace(/^strategy "[^"]*": /, '')}`, { cause: error })
    }
  }
  for (const r of weightRows) {
    const where = `weights file ${o.weights!} ${r.label}`
    if (r.target !== undefined && !targets.has(r.target)) throw new ConfigError(`${where}: target ${JSON.stringify(r.target)} has no signal in ${signalsName}`)
    if (r.strategy !== undefined) pin(r.strategy, where)
  }
  if (o.strategy !== undefined) pin(o.strategy, '--strategy')
  let shares: Record<string, number> | undefined
  if (weightRows.some((r) => r.target !== undefined)) {
    shares = p.targetShares(weightRows)
    for (const t of targets) if (!(t in shares)) warn(`${t} has a signal but no row in ${o.weights!}: weight 0`)
  } else if (o.weightsFrom !== undefined) {
    const { rows, what } = await loadResults(home, o.weightsFrom, '--weights-from')
    shares = p.schemeWeights(rows, o.scheme as import('../portfolio/index.js').WeightScheme, what)
    for (const name of Object.keys(shares)) if (!targets.has(name)) warn(`${what}: ${name} has no signal in ${signalsName}: left out`)
  }

  // Timeframe and hedge windows: as given, else from the signals' models' lineage.
  const latest = p.latestPerTarget(all)
  const lineage = new Map(latest.map((s) => [s.target, lineageOf(home, s.model)]))
  let timeframe = o.timeframe
  if (timeframe === undefined) {
    const found = [...new Set([...lineage.values()].filter((l) => l !== undefined).map((l) => l!.timeframe))]
    if (found.length !== 1 || [...lineage.values()].some((l) => l === undefined)) throw new ConfigError(`--timeframe is needed: the signals' models ${found.length > 1 ? `were built on several timeframes (${found.join(', ')})` : 'do not say which bars they were built on'}`)
    timeframe = found[0]!
  }
  timeframeMs(timeframe)
  const hedgeWindows: Record<string, number> = {}
  for (const s of latest) hedgeWindows[s.target] = hedgeWindow ?? lineage.get(s.target)?.window ?? 60

  const positions = loadPositions(home, o.positions)
  if (positions.deployment !== undefined && manualDrawdown !== undefined) throw new ConfigError('--drawdown is for a positions file; a deployment\'s drawdown comes from its equity history')
  const capital = caps.capital ?? positions.deployment?.equity
  // Positions held and no capital: the default 10,000 would size the targets, and the orders that reach them —
  // a book of 1,000,000 would be sold down to a 10,000 one (an audit). Said, not assumed.
  if (capital === undefined && Object.values(positions.current).some((q) => q !== 0)) throw new ConfigError(`--positions ${o.positions!} holds positions but no capital is given: add "capital" (the account's equity) to the --caps file; the targets and orders are sized on it`)
  const market = await p.loadTargetMarket(home, latest.map((s) => s.target), Object.keys(positions.current), { timeframe, volWindow, hedgeWindow: hedgeWindows, ...(o.source === undefined ? {} : { source: o.source }), ...(barsPerYear === undefined ? {} : { barsPerYear }), ...(positions.deployment?.lastBar === undefined ? {} : { asOf: new Date(Date.parse(positions.deployment.lastBar) - 1).toISOString() }) })

  for (const s of p.stalePrices(market, timeframe)) warn(`${s.symbol}'s latest ${timeframe} bar is ${new Date(s.time).toISOString()}, ${s.behind} bars before the newest of the others: its close ${market.prices[s.symbol]} prices its target and orders`)

  // Stale signals: ignored (their targets go flat), with a warning.
  const ignored: string[] = []
  const fresh = latest.filter((s) => {
    if (maxAge === undefined) return true
    const at = Date.parse(s.time)
    const age = maxAge.bars !== undefined ? p.barsAfter(market.times[s.target]!, at) : (Date.now() - at) / 3_600_000
    const limit = maxAge.bars ?? maxAge.hours!
    if (age <= limit) return true
    const line = `signal of ${s.target} at ${s.time} is ${Number(age.toFixed(2))} ${maxAge.bars !== undefined ? 'bars' : 'hours'} old (--max-age ${o.maxAge!}): ignored`
    ignored.push(line)
    warn(line)
    return false
  })

  const result = p.portfolioTargets({
    signals: fresh,
    ...(shares === undefined ? {} : { shares }),
    market,
    caps,
    ...(capital === undefined ? {} : { capital }),
    current: positions.current,
    targetVol,
    drawdown: manualDrawdown ?? positions.deployment?.drawdown ?? 0,
    minConfidence,
  })

  // The production config: one row per target or strategy row with a weight > 0.
  let prod: import('../portfolio/index.js').ProdConfigRow[] | undefined
  if (o.prodConfig !== undefined) {
    const rows: import('../portfolio/index.js').ProdConfigRow[] = []
    const fromFile = new Set<string>()
    for (const r of weightRows) {
      const strategy = r.strategy ?? o.strategy
      if (strategy === undefined) throw new ConfigError(`--prod-config: weights file ${o.weights!} ${r.label} names no strategy; add a strategy column or pass --strategy NAME`)
      if (r.symbols === undefined && r.target === undefined) throw new ConfigError(`--prod-config: weights file ${o.weights!} ${r.label} names neither symbols nor a target`)
      rows.push({ strategy: pinned.get(strategy)!, symbols: r.symbols ?? [...p.legsOf(r.target!)], weight: r.weight })
      if (r.target !== undefined) fromFile.add(r.target)
    }
    if (weightRows.length === 0) {
      if (o.strategy === undefined) throw new ConfigError('--prod-config needs the strategy each target is deployed with: --strategy NAME, or a strategy column in --weights')
      for (const s of latest) {
        const share = shares === undefined ? 1 / latest.length : shares[s.target] ?? 0
        rows.push({ strategy: pinned.get(o.strategy)!, symbols: [...p.legsOf(s.target)], weight: share })
      }
    }
    prod = p.prodConfig(rows)
    // What `mtflow deploy --weights` will say of it, before it is written.
    live().parseWeights(JSON.stringify(prod), { file: o.prodConfig, registry, format: 'json' })
  }

  const content =
    o.out === undefined
      ? undefined
      : ordersFile().makeOrdersFile(
          result.orders.map((x) => ({ symbol: x.symbol, side: x.side, qty: x.qty, reason: x.reason })),
          { signals: source, ...(positions.deployment === undefined ? {} : { deployment: { name: positions.deployment.name, id: positions.deployment.id, nextSeq: positions.deployment.nextSeq, positions: positions.current } }) },
        )
  // Both outputs' folders checked before either is written: a bad second path leaves no first file behind.
  for (const [option, file] of [['--out', o.out], ['--prod-config', o.prodConfig]] as const) if (file !== undefined) checkOutput(option, file)
  if (content !== undefined) ordersFile().writeOrdersFile(o.out!, content)
  if (prod !== undefined) writeFileAtomic(o.prodConfig!, `${JSON.stringify(prod, null, 1)}\n`)

  if (o.json === true) {
    return printJson(context, {
      signals: source,
      timeframe,
      capital: result.capital,
      drawdown: manualDrawdown ?? positions.deployment?.drawdown ?? 0,
      braked: result.braked,
      gross: result.gross,
      net: result.net,
      bound: result.bound,
      ignored,
      targets: result.targets,
      positions: result.positions,
      orders: content?.orders ?? result.orders,
      ...(content === undefined ? {} : { out: o.out, firstSeq: content.firstSeq }),
      ...(prod === undefined ? {} : { prodConfig: o.prodConfig, strategies: prod }),
    })
  }
  const f = (n: number) => String(n)
  context.stdout.write(formatTable(['symbol', 'weight', 'target', 'current', 'order', 'price', 'notional', 'caps bound'], result.positions.map((x) => [x.symbol, x.weight.toFixed(4), f(x.targetQty), f(x.currentQty), x.dropped === undefined ? f(x.orderQty) : `0 (${x.dropped})`, f(x.price), x.notional.toFixed(2), x.bound.join(',')])))
  context.stdout.write(`gross ${result.gross.toFixed(4)}, net ${result.net.toFixed(4)} of capital ${result.capital}${result.braked ? '; drawdown brake on' : ''}${result.bound.length === 0 ? '' : `; caps bound: ${result.bound.join(', ')}`}\n`)
  if (content !== undefined) context.stdout.write(`${content.orders.length} order${content.orders.length === 1 ? '' : 's'} written to ${o.out!}${content.firstSeq === undefined ? '' : ` (deployment ${content.deployment!}, from sequence ${content.firstSeq})`}\n`)
  if (prod !== undefined) context.stdout.write(`production config of ${prod.length} strateg${prod.length === 1 ? 'y' : 'ies'} written to ${o.prodConfig!} (mtflow deploy --weights ${o.prodConfig!})\n`)
}

export function portfolioCommand(context: CliContext): Command {
  const group = new Command('portfolio').description('signals to risk-capped target positions, orders and a production config')
  group
    .command('targets')
    .description('target positions from signals: volatility-targeted, under per-asset, gross/net and drawdown caps; the orders from the current positions, an orders file a deployment takes, and a production config')
    .requiredOption('--signals <file|run>', 'a signals file (mtflow infer --out; JSON lines) or a run with a signals.jsonl artifact; the latest signal per target is used')
    .option('--caps <file>', 'caps.json: { maxWeightPerAsset, maxGross, maxNet, maxDrawdown, drawdownBrake, capital, lotSizes, minNotional }, all optional (defaults 1, 1, 1, none, 0, the deployment\'s equity or 10000 when nothing is held — a positions file that holds positions needs capital, 1e-8, 0)')
    .option('--positions <file|deployment>', 'current positions: a file (JSON {symbol: qty} or CSV symbol,qty) or a deployment (its status, equity and journal); default flat')
    .option('--weights <file>', 'shares per target or strategy: CSV target,weight or strategy,weight (symbols optional), or JSON; default equal')
    .option('--weights-from <run|csv>', 'or shares from a backtest-batch run\'s summary or a results CSV (name/target, sharpe, volatility or returns)')
    .option('--scheme <scheme>', 'with --weights-from: winners (Sharpe > 0), equal, inverse-vol')
    .option('--strategy <ref>', 'the registry strategy that trades each target, for --prod-config (when --weights has no strategy column)')
    .option('--timeframe <tf>', "bars for prices, volatilities and hedge ratios (default: the signals' models' features timeframe)")
    .option('--source <name>', 'lake source (default: the only one holding each symbol)')
    .option('--vol-window <bars>', 'bars of returns in each volatility', '60')
    .option('--hedge-window <bars>', "bars in a pair's hedge-ratio OLS (default: its model's features window, else 60)")
    .option('--bars-per-year <n>', "annualisation (default: the timeframe's calendar count, 365.25 days / bar; 252 for daily stock bars)")
    .option('--target-vol <sigma>', 'annualised volatility of a target with share 1 and confidence 1', '0.1')
    .option('--min-confidence <c>', 'signals below this confidence are flat', '0')
    .option('--max-age <n|nh>', 'ignore signals more than n bars old (bars in the lake after it) or n hours (before now), with a warning')
    .option('--drawdown <fraction>', 'the current drawdown from the equity peak, with a positions file (a deployment\'s comes from its equity history)')
    .option('--out <file>', 'write the orders file a deployment takes (mtflow deploy submit NAME --orders FILE)')
    .option('--prod-config <file>', 'write the production config of the strategies with a weight > 0 (mtflow deploy --weights FILE)')
    .option('--json', 'print targets, positions and orders as JSON')
    .action((o: TargetsFlags) => targetsAction(context, o))
  group
    .command('weights')
    .description('weights from a results table: winners 1 / losers 0 (Sharpe > 0), equal, or inverse volatility; normalised to sum 1')
    .requiredOption('--from <run|csv>', "a backtest-batch run (its summary table) or a results CSV (name or target, sharpe, volatility — or returns per row)")
    .requiredOption('--scheme <scheme>', 'winners, equal or inverse-vol')
    .option('--out <file>', 'write them as a weights CSV (target,weight) that --weights reads')
    .option('--json', 'print the weights as JSON')
    .action(async (o: { from: string; scheme: string; out?: string; json?: boolean }) => {
      const p = portfolio()
      const { rows, what } = await loadResults(context.home, o.from, '--from')
      const weights = p.schemeWeights(rows, o.scheme as import('../portfolio/index.js').WeightScheme, what)
      if (o.out !== undefined) writeFileAtomic(o.out, p.formatWeightsCsv(weights))
      if (o.json === true) return printJson(context, weights)
      context.stdout.write(formatTable(['name', 'sharpe', 'volatility', 'weight'], rows.map((r) => [r.name, Number.isNaN(r.sharpe) ? '' : r.sharpe.toFixed(3), Number.isNaN(r.volatility) ? '' : r.volatility.toFixed(4), weights[r.name]!.toFixed(4)])))
      if (o.out !== undefined) context.stdout.write(`written to ${o.out}\n`)
    })
  return group
}

/** An output file's place: its folder exists (or can be made: no file in the way) and the path is not a folder. */
function checkOutput(option: string, file: string): void {
  let dir = dirname(resolve(file))
  if (existsSync(file) && !statSync(file).isFile()) throw new ConfigError(`${option} ${file} is not a regular file`)
  for (;;) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new ConfigError(`${option} ${file}: ${dir} is a file, not a folder`)
      return
    }
    const up = dirname(dir)
    if (up === dir) return
    dir = up
  }
}
