// `mtflow deploy`: a registered strategy version to paper or live trading (issue 19 point 5). The config is
// checked whole, its strategy reference pinned and registered as a `deployments` version (the same config
// twice is the same version), then run in the foreground (Ctrl-C stops it cleanly) or in a detached child;
// `deploy list | status | stop | pause | resume` read and steer running ones through the workspace, and
// `deploy --weights FILE` starts one detached deployment per row. Bad input is one line and exit 2 before
// anything is registered, started or sent; paper mode never reads a credential nor builds an
// authenticated exchange client. Exchange code (ccxt) is loaded only for live feeds and live trading.

import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { ConfigError, Progress, isoTime, makeDirs, streamProgressSink, timeframeMs } from '../core/index.js'
import type { Bars } from '../data/index.js'
import type { Clock, DeploymentConfig, DeploymentDraft, MarketFeed, SharedDeploymentOptions } from '../live/index.js'
import type { DeploymentStatus } from '../live/deployment.js'
import type { Credentials } from '../live/credentials.js'
import type { Strategy } from '../strategy/index.js'
import { PROJECT_ROOT } from '../../kernel/kernelspec.js'
import { collect, formatTable, lazy, numberFlag, printJson, type CliContext } from './context.js'
import { withDateFormat } from './time-flags.js'

const liveLib = () => lazy('../live/index.js') as typeof import('../live/index.js')
const deployments = () => lazy('../live/deployment.js') as typeof import('../live/deployment.js')
const launch = () => lazy('../live/launch.js') as typeof import('../live/launch.js')
const track = () => lazy('../track/index.js') as typeof import('../track/index.js')
const strategies = () => lazy('../strategy/index.js') as typeof import('../strategy/index.js')

/** Bars of warm-up history a live feed starts with (more when the strategy's warm-up needs more). */
const HISTORY_BARS = 300
/** How long stop/pause/resume wait for the deployment to say it did (it checks its control file every second). */
const CONTROL_WAIT_MS = 5000
/** How long --detach waits for the child to say it is running. */
const DETACH_WAIT_MS = 60_000

/** A CLI context; tests running the CLI in a process of their own may give the deployment's clock. */
export interface DeployContext extends CliContext {
  clock?: Clock
}

interface DeployOptions {
  symbols?: string
  timeframe?: string
  paper?: boolean
  live?: boolean
  exchange?: string
  sandbox?: boolean
  apiUrl?: string
  fsyncBeforeSend?: boolean
  cash?: string
  sizeQty?: string
  sizePct?: string
  commission?: string
  slippageBps?: string
  param: string[]
  weight?: string
  name?: string
  feed?: string
  start?: string
  end?: string
  source?: string
  paceMs?: string
  maxDailyLoss?: string
  maxPositionNotional?: string
  maxOrdersPerMinute?: string
  staleAfterBars?: string
  credentials?: string
  weights?: string
  detach?: boolean
  json?: boolean
  track: boolean
}

/** One deployment to start: the draft and what the command line says about running it. */
interface Plan {
  draft: DeploymentDraft
  /** The registry reference the child command is given (NAME@VERSION once pinned). */
  ref: string
  /** --param values as given (the child gets them again). */
  params: string[]
}

export function deployCommand(context: DeployContext): Command {
  const deploy = withDateFormat(new Command('deploy')
    .description('deploy a registered strategy version to paper or live trading, or list, inspect and steer deployments')
    .argument('[strategy]', 'a registered strategy: NAME, NAME@VERSION or NAME@ALIAS')
    .option('--symbols <list>', 'symbols, comma-separated (BTC/USDT,ETH/USDT)')
    .option('--timeframe <tf>', 'bar timeframe (1m, 1h, 1d…)')
    .option('--paper', 'paper trading: the backtest\'s simulated exchange and fill model (no credentials, no orders sent)')
    .option('--live', 'live trading on the exchange (credentials from MTFLOW_<EXCHANGE>_API_KEY/_SECRET[/_PASSWORD] or --credentials)')
    .option('--exchange <id>', 'ccxt exchange id, required (live: where orders go; paper: where live bars come from — a replay reads the lake, but its config names the exchange too)')
    .option('--sandbox', "trade on the exchange's sandbox/testnet")
    .option('--api-url <url>', "replace the exchange's REST and WebSocket origins (proxies, stand-ins)")
    .option('--fsync-before-send', "live: fsync each order's journal entry before sending it (default: written before, fsync'd while it goes out; a restart looks up what a power loss took)")
    .option('--cash <amount>', 'capital (default 100000); the deployment trades weight × cash')
    .option('--size-qty <units>', 'units per entry')
    .option('--size-pct <percent>', 'percent of equity per entry (default 100, costs included)')
    .option('--commission <rate>', 'commission rate on notional, e.g. 0.0005 = 0.05 % (paper fills)')
    .option('--slippage-bps <bps>', 'slippage on market and stop fills, basis points (paper fills)')
    .option('--param <name=value>', 'a strategy parameter over the version\'s defaults (repeatable)', collect, [] as string[])
    .option('--weight <w>', 'share of the capital, in (0, 1] (default 1)')
    .option('--name <name>', 'deployment name (default <strategy>.<symbols>)')
    .option('--feed <kind>', 'replay (lake bars; paper only), poll (REST) or ws (WebSocket); default replay for --paper, poll for --live')
    .option('--start <time>', 'replay: first bar (ISO date/time, UTC)')
    .option('--end <time>', 'replay: last bar (inclusive)'))
    .option('--source <name>', 'replay: the lake source of the bars (default: the only one holding each symbol)')
    .option('--pace-ms <ms>', 'replay: wall milliseconds per bar (default 0: as fast as possible)')
    .option('--max-daily-loss <amount>', 'guard: no new orders for the rest of the UTC day once equity is this far below the day\'s start')
    .option('--max-position-notional <amount>', 'guard: largest |position| × price per symbol; larger orders are resized down')
    .option('--max-orders-per-minute <n>', 'guard: most orders in any 60 s')
    .option('--stale-after-bars <n>', 'guard: no new orders when the newest closed bar is older than this many bars (default 2)')
    .option('--credentials <file>', 'live: a JSON file { apiKey, secret, password? } with mode 0600')
    .option('--weights <file>', 'a weights file (CSV strategy,symbols,weight or JSON): one detached deployment per row')
    .option('--detach', 'run in the background (log in deployments/NAME/deploy.log)')
    .option('--no-track', 'do not record a tracked run')
    .option('--json', 'print JSON')
    .action(async (ref: string | undefined, o: DeployOptions) => {
      if (o.weights !== undefined) return startWeights(context, ref, o)
      return startOne(context, ref, o)
    })

  deploy
    .command('list')
    .description('every deployment of the workspace with its state')
    .option('--json', 'print JSON')
    .action((_o: unknown, cmd: Command) => {
      const all = deployments().listDeployments(context.home)
      if (wantsJson(cmd)) return printJson(context, all)
      if (all.length === 0) return void context.stdout.write('no deployments (start one: mtflow deploy STRATEGY@VERSION --symbols … --timeframe … --paper --exchange …)\n')
      context.stdout.write(
        formatTable(
          ['name', 'state', 'mode', 'strategy', 'symbols', 'timeframe', 'equity', 'positions', 'open orders', 'trades', 'last bar closed', 'updated'],
          all.map((s) => [s.name, s.state, s.mode, s.strategy, s.symbols.join(','), s.timeframe, money(s.equity), String(s.positions.length), String(s.openOrders.length), String(s.tradeCount), s.lastBar?.slice(0, 19) ?? '—', s.updatedAt.slice(0, 19)]),
        ),
      )
    })

  deploy
    .command('status')
    .description('state, positions, open orders, trades so far and equity of a deployment')
    .argument('<name>', 'the deployment')
    .option('--json', 'print the status JSON as the deployment wrote it')
    .action((name: string, _o: unknown, cmd: Command) => {
      const status = deployments().readStatus(context.home, name)
      if (wantsJson(cmd)) return printJson(context, status)
      writeStatus(context, status)
    })

  deploy
    .command('submit')
    .description('hand an orders file (portfolio targets --positions NAME --out FILE) to a running deployment: its orders are placed at once under the file\'s client ids')
    .argument('<name>', 'the deployment')
    .requiredOption('--orders <file>', 'the orders file, made for this deployment since it last sent an order')
    .option('--json', 'print what was handed in as JSON')
    .action(async (name: string, o: { orders: string }, cmd: Command) => {
      const d = deployments()
      const r = d.submitOrdersFile(context.home, name, o.orders)
      // The deployment takes requests between bars (and at once while it waits for one): its status says what became of the file.
      const deadline = Date.now() + CONTROL_WAIT_MS
      let outcome = d.readStatus(context.home, name).ordersFile
      while ((outcome === undefined || outcome.file !== `${r.sha256}.json`) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        outcome = d.readStatus(context.home, name).ordersFile
      }
      const answered = outcome !== undefined && outcome.file === `${r.sha256}.json` ? outcome : undefined
      if (answered !== undefined && !answered.taken) context.exitCode = 1
      if (wantsJson(cmd)) return printJson(context, { name, sha256: r.sha256, orders: r.orders, firstSeq: r.firstSeq, outcome: answered ?? null })
      if (answered === undefined) return void context.stdout.write(`handed ${r.orders} order${r.orders === 1 ? '' : 's'} to deployment ${name} (orders/${r.sha256}.json); it has not answered yet: mtflow deploy status ${name}\n`)
      if (answered.taken) return void context.stdout.write(`deployment ${name} placed ${answered.orders} order${answered.orders === 1 ? '' : 's'}: ${answered.clientOrderIds?.join(', ') ?? ''}\n`)
      context.stdout.write(`deployment ${name} did not take the whole file: ${answered.reason}${answered.orders > 0 ? `; placed ${answered.clientOrderIds?.join(', ')}` : ''}\n`)
    })

  for (const verb of ['stop', 'pause', 'resume'] as const) {
    const cmd = deploy
      .command(verb)
      .description(
        verb === 'stop'
          ? 'stop a deployment (working orders and brackets stay; --flatten closes positions and cancels orders: the kill switch)'
          : verb === 'pause'
            ? 'pause a deployment: no new orders; working orders and brackets stay'
            : 'resume a paused deployment',
      )
      .argument('<name>', 'the deployment')
      .option('--json', 'print the status JSON afterwards')
    if (verb === 'stop') cmd.option('--flatten', 'close every position and cancel every order first (kill switch)')
    cmd.action((name: string, o: { flatten?: boolean }, self: Command) => control(context, name, verb === 'stop' && o.flatten === true ? 'flatten' : verb, wantsJson(self)))
  }
  return deploy
}

/** --json given to the verb, or (as commander parses `deploy status NAME --json`) to `deploy` itself. */
function wantsJson(cmd: Command): boolean {
  return cmd.optsWithGlobals<{ json?: boolean }>().json === true
}

// ---------------------------------------------------------------------------------------------------------
// Checking the command line

function number(option: string, value: string | undefined, check: (n: number) => boolean, expected: string): number | undefined {
  return numberFlag(value, option, expected, check)
}

/** What every deployment of the command shares, checked (a weights file's rows add strategy, symbols, weight, params). */
function sharedOptions(o: DeployOptions): SharedDeploymentOptions {
  if (o.paper === true && o.live === true) throw new ConfigError('give one of --paper and --live, not both')
  if (o.paper !== true && o.live !== true) throw new ConfigError('give --paper (simulated exchange) or --live (orders sent to the exchange)')
  const mode = o.live === true ? 'live' : 'paper'
  if (o.timeframe === undefined) throw new ConfigError('--timeframe is required (e.g. 1m, 1h, 1d)')
  try {
    timeframeMs(o.timeframe)
  } catch (error) {
    throw new ConfigError(`--timeframe must be a number and a unit m, h, d or w, e.g. 1m, 1h, 1d (received ${JSON.stringify(o.timeframe)})`, { cause: error })
  }
  if (o.exchange === undefined) throw new ConfigError('--exchange is required: a ccxt exchange id such as binance (live: where orders go; paper: where live bars come from)')
  // Checked for a paper replay too (it reads no bars from the exchange, but its config names one): a typo
  // was recorded in the deployment as given, and met only when it went live.
  ;(lazy('../data/sources/ccxt-source.js') as typeof import('../data/sources/ccxt-source.js')).checkExchangeId(o.exchange)
  const feed = o.feed ?? (mode === 'live' ? 'poll' : 'replay')
  if (feed !== 'replay' && feed !== 'poll' && feed !== 'ws') throw new ConfigError(`--feed must be replay, poll or ws (received ${JSON.stringify(feed)})`)
  if (mode === 'live' && feed === 'replay') throw new ConfigError('--feed replay is for --paper deployments; --live trades on live bars: --feed poll or ws')
  if (feed !== 'replay') {
    for (const [flag, value] of [['--start', o.start], ['--end', o.end], ['--source', o.source], ['--pace-ms', o.paceMs]] as const) {
      if (value !== undefined) throw new ConfigError(`${flag} applies to a replay feed only (a ${feed} feed starts from the lake's last bar)`)
    }
  }
  if (mode === 'paper' && o.credentials !== undefined) throw new ConfigError('--credentials is for --live deployments; a paper deployment reads no credentials')
  if (o.sizeQty !== undefined && o.sizePct !== undefined) throw new ConfigError('give one of --size-qty and --size-pct')
  const cash = number('--cash', o.cash, (n) => n > 0, 'an amount > 0')
  const qty = number('--size-qty', o.sizeQty, (n) => n > 0, 'a number of units > 0')
  const pct = number('--size-pct', o.sizePct, (n) => n > 0 && n <= 1000, 'a percentage of equity in (0, 1000]')
  const commission = number('--commission', o.commission, (n) => n >= 0 && n < 1, 'a rate on notional in [0, 1), e.g. 0.0005 for 0.05 %')
  const slippageBps = number('--slippage-bps', o.slippageBps, (n) => n >= 0, 'basis points ≥ 0')
  number('--pace-ms', o.paceMs, (n) => n >= 0, 'milliseconds ≥ 0')
  const maxDailyLoss = number('--max-daily-loss', o.maxDailyLoss, (n) => n > 0, 'an amount > 0')
  const maxPositionNotional = number('--max-position-notional', o.maxPositionNotional, (n) => n > 0, 'an amount > 0')
  const maxOrdersPerMinute = number('--max-orders-per-minute', o.maxOrdersPerMinute, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1')
  const staleAfterBars = number('--stale-after-bars', o.staleAfterBars, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1')
  const guards = {
    ...(maxDailyLoss === undefined ? {} : { maxDailyLoss }),
    ...(maxPositionNotional === undefined ? {} : { maxPositionNotional }),
    ...(maxOrdersPerMinute === undefined ? {} : { maxOrdersPerMinute }),
    ...(staleAfterBars === undefined ? {} : { staleAfterBars }),
  }
  return {
    timeframe: o.timeframe,
    mode,
    venue: { exchange: o.exchange, sandbox: o.sandbox === true, ...(o.apiUrl === undefined ? {} : { apiUrl: o.apiUrl }), ...(o.fsyncBeforeSend === true ? { fsyncBeforeSend: true } : {}) },
    ...(cash === undefined ? {} : { cash }),
    // Left out, the backtest's defaults apply (sizing 100 % of equity, no costs): a paper deployment and its backtest agree.
    ...(qty !== undefined ? { sizing: { qty } } : pct !== undefined ? { sizing: { percent: pct / 100 } } : {}),
    ...(commission === undefined && slippageBps === undefined ? {} : { fills: { ...(commission === undefined ? {} : { takerRate: commission }), ...(slippageBps === undefined ? {} : { slippageBps }) } }),
    ...(Object.keys(guards).length === 0 ? {} : { guards }),
    feed: { kind: feed, ...(o.start === undefined ? {} : { start: o.start }), ...(o.end === undefined ? {} : { end: o.end }), ...(o.source === undefined ? {} : { source: o.source }) },
  }
}

/**
 * Checks a plan against the registry and the workspace without writing anything: the strategy version
 * (pinned), its module, the params, the whole config, and that the name is not running now.
 */
async function checkPlan(context: DeployContext, plan: Plan): Promise<{ config: DeploymentConfig; strategy: Strategy<any> }> {
  const { pinStrategy, validateDeploymentConfig, validateDeploymentDraft } = liveLib()
  const registry = new (track().Registry)(context.home)
  const checked = validateDeploymentDraft(plan.draft)
  const version = pinStrategy(registry, checked.strategy, `deployment ${checked.name}`)
  const pin = { name: version.name, version: version.version, sha256: version.sha256 }
  const strategy = await launch().deploymentStrategy(registry, pin, (path) => lazy(path))
  // The version's registered params, then the draft's, checked against the strategy's parameter space.
  const given: Record<string, unknown> = { ...(version.params ?? {}), ...checked.params }
  const params = strategies().resolveParams(`strategy ${strategy.name}`, strategy.params, given) as Record<string, number>
  const problem = strategy.validate?.(params)
  if (problem !== undefined) throw new ConfigError(`strategy ${strategy.name}: ${problem}`)
  const config = validateDeploymentConfig({ ...checked, strategy: pin, params })
  // A replay's bars are found in the lake before anything is registered or started (a symbol in two
  // sources without --source, or none: the one-line reason, and no deployment version left behind).
  if (config.feed.kind === 'replay') for (const symbol of config.symbols) replaySource(context.home, config, symbol)
  const running = launch().runningDeployment(context.home, config.name)
  if (running !== undefined) throw new ConfigError(`deployment ${config.name} is already running (pid ${running.pid}, ${running.state}); stop it first (mtflow deploy stop ${config.name}) or give another --name`)
  return { config, strategy }
}

/** The lake source of a replay's bars of one symbol, or the one-line reason there is none (several, or not that one). */
function replaySource(home: string, config: DeploymentConfig, symbol: string): void {
  const data = lazy('../data/index.js') as typeof import('../data/index.js')
  const query = liveLib().replayQuery(config, symbol)
  if (query.source === undefined) return void data.resolveKey(home, query)
  const missing = data.missingSource(home, query)
  if (missing !== undefined) throw new ConfigError(missing)
}

/**
 * A paper deployment fed by the exchange (poll or WebSocket): its markets read once and its symbols found there,
 * before anything is registered — an unreachable exchange registered the version, then failed (a new user's pass).
 */
async function checkPaperFeed(config: DeploymentConfig): Promise<void> {
  if (config.mode !== 'paper' || config.feed.kind === 'replay') return
  const { createExchange } = lazy('../data/sources/ccxt-source.js') as typeof import('../data/sources/ccxt-source.js')
  const { exchange: id, apiUrl, sandbox } = config.venue
  const exchange = createExchange(id, apiUrl, 15_000, sandbox)
  let markets: Record<string, unknown>
  try {
    markets = (await exchange.loadMarkets()) as Record<string, unknown>
  } catch (error) {
    const text = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200)
    throw new ConfigError(`the paper deployment's feed cannot read ${id}'s markets (${text}); nothing registered or started`)
  }
  const missing = config.symbols.filter((symbol) => markets[symbol] === undefined)
  if (missing.length > 0) throw new ConfigError(`${id} has no market ${missing.join(', ')}; nothing registered or started`)
}

/** A live deployment's credentials, and its exchange checked for what trading needs (no order is sent). */
async function checkLive(context: DeployContext, config: DeploymentConfig, o: DeployOptions): Promise<Credentials> {
  const { credentialsFor } = lazy('../live/credentials.js') as typeof import('../live/credentials.js')
  const credentials = credentialsFor(config, { env: process.env, ...(o.credentials === undefined ? {} : { file: o.credentials }) })
  const { CcxtVenue } = lazy('../live/ccxt-venue.js') as typeof import('../live/ccxt-venue.js')
  // Capabilities (has.*) are checked before anything is asked of the exchange; then its markets (a public read).
  const probe = new CcxtVenue(config.venue.exchange, { credentials, sandbox: config.venue.sandbox, pollMs: 0, ...(config.venue.apiUrl === undefined ? {} : { apiUrl: config.venue.apiUrl }), ...(context.clock === undefined ? {} : { clock: context.clock }) })
  probe.events(() => undefined)
  try {
    await probe.start({ symbols: config.symbols, kinds: new Set(['market', 'limit', 'stop']) })
  } finally {
    await probe.close()
  }
  return credentials
}

// ---------------------------------------------------------------------------------------------------------
// Starting

async function startOne(context: DeployContext, ref: string | undefined, o: DeployOptions): Promise<void> {
  if (ref === undefined) throw new ConfigError('give the strategy to deploy (NAME, NAME@VERSION or NAME@ALIAS of a registered strategy), or --weights FILE; mtflow deploy --help')
  const shared = sharedOptions(o)
  const symbols = (o.symbols ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (symbols.length === 0) throw new ConfigError('--symbols is required: one or more symbols, comma-separated (BTC/USDT,ETH/USDT)')
  const weight = number('--weight', o.weight, (n) => n > 0 && n <= 1, 'a share of the capital in (0, 1]')
  const params: Record<string, string> = {}
  for (const text of o.param) {
    const [k, v] = strategies().parseParamArg(text)
    params[k] = v
  }
  const strategyName = ref.split('@')[0]!
  const name = o.name ?? liveLib().deploymentName(strategyName, symbols)
  const draft: DeploymentDraft = { ...shared, name, strategy: ref, symbols, params, ...(weight === undefined ? {} : { weight }) }
  const plan: Plan = { draft, ref, params: o.param }
  const { config, strategy } = await checkPlan(context, plan)
  const credentials = config.mode === 'live' ? await checkLive(context, config, o) : undefined
  await checkPaperFeed(config)

  if (o.detach === true) {
    // The child runs the version checked here, whatever NAME or NAME@ALIAS points at by the time it starts.
    const pinned = { ...plan, ref: `${config.strategy.name}@${config.strategy.version}` }
    const started = await detach(context, [await startChild(context, pinned, config, o)], o.json === true)
    if (o.json === true) return printJson(context, started[0])
    return
  }
  const { registerDeployment } = liveLib()
  const registered = registerDeployment(new (track().Registry)(context.home), { ...plan.draft, strategy: config.strategy, params: config.params })
  const { version, created } = registered
  note(context, o, `${created ? 'registered' : 'unchanged config:'} deployment ${config.name}@${version.version} (${config.mode}, strategy ${config.strategy.name}@${config.strategy.version})`)
  const status = await runForeground(context, registered.config, strategy, credentials, o)
  if (o.json === true) return printJson(context, { name: config.name, version: version.version, created, status })
  context.stdout.write(`deployment ${config.name} ${status.state}${status.reason === undefined ? '' : ` (${status.reason})`}: ${status.bars} bars, equity ${money(status.equity)}, ${status.tradeCount} trades, ${status.fills} fills; mtflow deploy status ${config.name}\n`)
}

/** `deploy --weights FILE`: every row checked first (a bad one starts nothing), then one detached deployment each. */
async function startWeights(context: DeployContext, ref: string | undefined, o: DeployOptions): Promise<void> {
  if (ref !== undefined) throw new ConfigError(`give a strategy or --weights FILE, not both (received ${JSON.stringify(ref)} and --weights)`)
  for (const [flag, value] of [['--symbols', o.symbols], ['--weight', o.weight], ['--name', o.name]] as const) {
    if (value !== undefined) throw new ConfigError(`${flag} comes from the weights file's rows; leave it out with --weights`)
  }
  if (o.param.length > 0) throw new ConfigError('--param comes from the weights file (JSON rows may carry params); leave it out with --weights')
  const shared = sharedOptions(o)
  const { readWeightsFile, weightedDrafts } = liveLib()
  const registry = new (track().Registry)(context.home)
  const entries = readWeightsFile(o.weights!, registry)
  const drafts = weightedDrafts(entries, shared)
  const plans: { plan: Plan; config: DeploymentConfig }[] = []
  const json = /\.json$/i.test(o.weights!) || readFileSync(o.weights!, 'utf8').replace(/^\uFEFF/, '').trimStart().startsWith('[')
  for (const [k, draft] of drafts.entries()) {
    const pin = draft.strategy as { name: string; version: number }
    const params = Object.entries(draft.params ?? {}).map(([key, v]) => `${key}=${v}`)
    const plan: Plan = { draft, ref: `${pin.name}@${pin.version}`, params }
    try {
      plans.push({ plan, config: (await checkPlan(context, plan)).config })
    } catch (error) {
      throw new ConfigError(`weights file ${o.weights} ${json ? 'entry' : 'line'} ${entries[k]!.row}: ${(error as Error).message}`, { cause: error })
    }
  }
  // Credentials and the exchange once, for every row's symbols: the rows trade on the same venue.
  if (shared.mode === 'live') await checkLive(context, { ...plans[0]!.config, symbols: [...new Set(plans.flatMap((p) => p.config.symbols))] }, o)
  else await checkPaperFeed({ ...plans[0]!.config, symbols: [...new Set(plans.flatMap((p) => p.config.symbols))] })
  const children = []
  for (const { plan, config } of plans) children.push(await startChild(context, plan, config, o))
  const started = await detach(context, children, o.json === true)
  if (o.json === true) printJson(context, started)
}

/** Runs a checked deployment in this process until it finishes, is stopped (Ctrl-C, SIGTERM, deploy stop) or fails. */
async function runForeground(context: DeployContext, config: DeploymentConfig, strategy: Strategy<any>, credentials: Credentials | undefined, o: DeployOptions): Promise<DeploymentStatus> {
  const { runDeployment } = deployments()
  const owned = context.clock === undefined ? new CliClock() : undefined
  const clock: Clock = context.clock ?? owned!
  const redact = credentials === undefined ? (text: string) => text : (text: string) => (lazy('../live/credentials.js') as typeof import('../live/credentials.js')).redact(text, credentials)
  const log = (line: string) => {
    clearProgress()
    context.stderr.write(`${redact(line)}\n`)
  }

  // Ctrl-C or SIGTERM: the deployment's own stop (orders and brackets left in place, status "stopped"), taken
  // directly, not through the control folder (a request file there that cannot be read held it up); twice: exit now.
  let signalled = false
  const stop = new AbortController()
  let running = false
  const onSignal = (signal: NodeJS.Signals) => {
    // Before the deployment runs (its exchange still being reached) there is nothing to stop: exit now.
    if (signalled || !running) process.exit(130)
    signalled = true
    log(`${signal}: stopping deployment ${config.name} (again to exit at once)`)
    stop.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let progress: Progress | undefined
  let timer: NodeJS.Timeout | undefined
  const clearProgress = () => {
    if (progress !== undefined && context.stderr.isTTY === true) context.stderr.write('\r\x1b[2K')
  }
  let live: LiveParts | undefined
  try {
    const paceMs = number('--pace-ms', o.paceMs, (n) => n >= 0, 'milliseconds ≥ 0')
    if (config.feed.kind === 'replay' && context.stderr.isTTY === true && o.json !== true) {
      const total = await replayTotal(context.home, config)
      progress = new Progress({ label: config.name, total, sink: streamProgressSink(context.stderr) })
      timer = setInterval(() => {
        try {
          progress!.set(deployments().readStatus(context.home, config.name).bars)
        } catch {
          /* not written yet */
        }
      }, 250)
      timer.unref()
    }
    if (config.feed.kind !== 'replay') live = await liveParts(context, config, strategy, clock, credentials, log)
    running = true
    const status = await runDeployment({
      home: context.home,
      config,
      strategy,
      clock,
      log,
      redact,
      track: o.track,
      stop: stop.signal,
      ...(paceMs === undefined ? {} : { paceMs }),
      ...(live === undefined ? {} : { feed: live.feed, history: live.history }),
      ...(live?.venue === undefined ? {} : { venue: live.venue }),
    })
    if (progress !== undefined) {
      progress.set(status.bars)
      progress.finish(status.state)
    }
    return status
  } catch (error) {
    clearProgress()
    if (credentials !== undefined && error instanceof Error) {
      error.message = redact(error.message)
      if (error.stack !== undefined) error.stack = redact(error.stack)
    }
    throw error
  } finally {
    if (timer !== undefined) clearInterval(timer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (live !== undefined) await live.close()
    owned?.close()
  }
}

/** Bars a replay will step (the progress bar's total). */
async function replayTotal(home: string, config: DeploymentConfig): Promise<number> {
  const { loadBars } = lazy('../data/index.js') as typeof import('../data/index.js')
  let total = 0
  for (const symbol of config.symbols) {
    const bars = await loadBars(home, liveLib().replayQuery(config, symbol))
    total += bars.time.length
  }
  return total
}

interface LiveParts {
  feed: MarketFeed
  history: Record<string, Bars>
  venue?: import('../live/ccxt-venue.js').CcxtVenue
  close(): Promise<void>
}

/**
 * A live feed (poll or ws) on the exchange, after the lake is caught up to its newest closed bar, with every
 * closed bar it yields written to the lake, the lake's last bars as warm-up history, and for --live the venue.
 * The feed's exchange client is public (no key): only the venue holds credentials.
 */
async function liveParts(context: DeployContext, config: DeploymentConfig, strategy: Strategy<any>, clock: Clock, credentials: Credentials | undefined, log: (line: string) => void): Promise<LiveParts> {
  const { catchUp, LakeBarWriter, recordToLake } = lazy('../live/live-bars.js') as typeof import('../live/live-bars.js')
  const ccxtFeed = lazy('../live/ccxt-feed.js') as typeof import('../live/ccxt-feed.js')
  const { createExchange, replaceOrigins } = lazy('../data/sources/ccxt-source.js') as typeof import('../data/sources/ccxt-source.js')
  const { exchange: id, apiUrl, sandbox } = config.venue
  // A testnet's candles are its own (thin books, other prices): kept under a lake source of their own, so
  // the exchange's real history is never mixed with them.
  const source = sandbox ? `${id}-sandbox` : id
  const subs = strategy.universe(config.params as never, { symbols: config.symbols, timeframe: config.timeframe })
  const warm = Math.max(HISTORY_BARS, strategy.warmup(config.params as never) + 1)
  const widest = Math.max(...subs.map((s) => timeframeMs(s.timeframe)))
  log(`deployment ${config.name}: catching the lake up from ${id}${sandbox ? "'s sandbox" : ''} (lake source ${source})`)
  const reports = await catchUp(context.home, { exchange: id, source, ...(sandbox ? { sandbox: true } : {}), ...(apiUrl === undefined ? {} : { apiUrl }), subscriptions: subs, since: clock.now() - (warm + 1) * widest })
  for (const r of reports) log(`  ${r.symbol} ${r.timeframe}: ${r.added} bars added${r.quarantined > 0 ? `, ${r.quarantined} quarantined` : ''}; live bars from ${isoTime(r.from)}`)
  const history = await launch().warmupHistory(context.home, reports.map((r) => ({ symbol: r.symbol, timeframe: r.timeframe, before: r.from })), { source, bars: warm })

  // The sandbox's URLs first, then the replaced origins (setSandboxMode swaps the URL table).
  const exchange = config.feed.kind === 'ws' ? ccxtFeed.createStreamingExchange(id) : createExchange(id)
  if (sandbox) exchange.setSandboxMode(true)
  if (apiUrl !== undefined) replaceOrigins(exchange, apiUrl)
  const feedOptions = {
    exchange,
    subscriptions: reports.map((r) => ({ symbol: r.symbol, timeframe: r.timeframe, from: r.from })),
    clock,
    from: Math.min(...reports.map((r) => r.from)),
    onEvent: (e: import('../live/ccxt-feed.js').FeedEvent) => log(`feed: ${feedEventLine(e)}`),
  }
  const feed = config.feed.kind === 'ws' ? new ccxtFeed.CcxtWsFeed(feedOptions) : new ccxtFeed.CcxtPollFeed(feedOptions)
  const writer = new LakeBarWriter(context.home, { source, clock })
  let venue: LiveParts['venue']
  if (config.mode === 'live') {
    const { CcxtVenue } = lazy('../live/ccxt-venue.js') as typeof import('../live/ccxt-venue.js')
    venue = new CcxtVenue(id, { credentials: credentials!, sandbox, clock, onAlert: (line) => log(`venue: ${line}`), ...(apiUrl === undefined ? {} : { apiUrl }) })
  }
  return {
    feed: recordToLake(feed, writer),
    history,
    ...(venue === undefined ? {} : { venue }),
    async close() {
      // The feed may be asleep until the next close: stopped, it wakes; the waiting bars go to the lake.
      feed.stop()
      await writer.flush()
    },
  }
}

function feedEventLine(e: import('../live/ccxt-feed.js').FeedEvent): string {
  const series = 'symbol' in e ? `${e.symbol} ${e.timeframe} ` : ''
  switch (e.type) {
    case 'invalid':
      return `${series}bar ${isoTime(e.time)} refused (${e.reason})`
    case 'stale':
      return `${series}late past its close ${isoTime(e.due)}: stale`
    case 'fresh':
      return `${series}delivering again (${e.late} late bars)`
    case 'retry':
      return `${series}${e.error}; retry ${e.attempt} in ${e.waitMs} ms`
    case 'error':
      return `${series}${e.message}`
    case 'fallback':
      return e.message
    case 'disconnect':
      return `${series}stream dropped: ${e.message}`
    case 'reconnect':
      return `${series}stream back; gap filled over REST`
  }
}

/** The same deployment as a command line for a detached child (`deploy … ` without --detach). */
function childArgs(context: DeployContext, plan: Plan, o: DeployOptions): string[] {
  const d = plan.draft
  const args = ['--home', context.home, 'deploy', plan.ref, '--symbols', d.symbols.join(','), '--timeframe', d.timeframe, d.mode === 'live' ? '--live' : '--paper', '--exchange', d.venue.exchange, '--name', d.name]
  if (d.weight !== undefined) args.push('--weight', String(d.weight))
  for (const p of plan.params) args.push('--param', p)
  if (o.feed !== undefined) args.push('--feed', o.feed)
  if (o.sandbox === true) args.push('--sandbox')
  if (o.fsyncBeforeSend === true) args.push('--fsync-before-send')
  if (o.track === false) args.push('--no-track')
  const flags: [string, string | undefined][] = [
    ['--api-url', o.apiUrl],
    ['--cash', o.cash],
    ['--size-qty', o.sizeQty],
    ['--size-pct', o.sizePct],
    ['--commission', o.commission],
    ['--slippage-bps', o.slippageBps],
    ['--start', o.start],
    ['--end', o.end],
    ['--pace-ms', o.paceMs],
    ['--max-daily-loss', o.maxDailyLoss],
    ['--max-position-notional', o.maxPositionNotional],
    ['--max-orders-per-minute', o.maxOrdersPerMinute],
    ['--stale-after-bars', o.staleAfterBars],
    ['--credentials', o.credentials],
  ]
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, value)
  return args
}

interface Child {
  name: string
  child: ChildProcess
  log: string
  exit?: number | null
}

/** Starts `deploy …` (without --detach) as a detached process, its output appended to deployments/NAME/deploy.log. */
async function startChild(context: DeployContext, plan: Plan, config: DeploymentConfig, o: DeployOptions): Promise<Child> {
  const dir = deployments().deploymentDir(context.home, config.name)
  makeDirs(dir)
  // The deployment's folder is its user's alone from the first file written in it (lib/live/deployment.ts claim).
  chmodSync(dir, 0o700)
  const log = join(dir, 'deploy.log')
  const fd = openSync(log, 'a', 0o600)
  let child: ChildProcess
  try {
    child = spawn(process.execPath, [join(PROJECT_ROOT, 'lib', 'cli', 'bin.cjs'), ...childArgs(context, plan, o)], { detached: true, stdio: ['ignore', fd, fd], env: process.env, cwd: process.cwd() })
  } finally {
    closeSync(fd)
  }
  const started: Child = { name: config.name, child, log }
  child.on('exit', (code) => (started.exit = code))
  child.unref()
  return started
}

/** Waits until each child says it runs (or ran: a short replay may finish first), or exited with an error. */
async function detach(context: DeployContext, children: Child[], json: boolean): Promise<{ name: string; pid: number; state: string; log: string }[]> {
  const { readStatus } = deployments()
  const out: { name: string; pid: number; state: string; log: string }[] = []
  const failures: string[] = []
  for (const c of children) {
    const deadline = Date.now() + DETACH_WAIT_MS
    let state: string | undefined
    while (Date.now() < deadline) {
      const file = join(deployments().deploymentDir(context.home, c.name), 'status.json')
      if (existsSync(file)) {
        try {
          const s = readStatus(context.home, c.name)
          if (s.pid === c.child.pid && s.state !== 'starting' && s.state !== 'failed') state = s.state
        } catch {
          /* being written */
        }
      }
      if (state !== undefined) break
      if (c.exit !== undefined) break
      await new Promise((r) => setTimeout(r, 100))
    }
    if (state === undefined) {
      const last = lastLine(c.log)
      failures.push(c.exit === undefined ? `deployment ${c.name} did not start within ${DETACH_WAIT_MS / 1000} s (see ${c.log})` : last.startsWith('mtflow: ') ? last.slice(8) : `deployment ${c.name} exited (code ${c.exit}): ${last}`)
      continue
    }
    out.push({ name: c.name, pid: c.child.pid!, state, log: c.log })
    if (!json) {
      context.stdout.write(`deployment ${c.name} ${state} in the background (pid ${c.child.pid}); follow it: mtflow deploy status ${c.name} · tail -f ${c.log} · stop: mtflow deploy stop ${c.name}\n`)
    }
  }
  if (failures.length > 0) throw new ConfigError(failures.join('; '))
  return out
}

function lastLine(file: string): string {
  if (!existsSync(file)) return '(no output)'
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return lines[lines.length - 1] ?? '(no output)'
}

// ---------------------------------------------------------------------------------------------------------
// Steering and reading

async function control(context: DeployContext, name: string, command: 'stop' | 'pause' | 'resume' | 'flatten', json: boolean): Promise<void> {
  const { readStatus, requestControl } = deployments()
  const before = readStatus(context.home, name)
  if (command === 'resume' && before.state !== 'paused') throw new ConfigError(`deployment ${name} is ${before.state}, not paused: nothing to resume`)
  if (command === 'pause' && before.state !== 'running') throw new ConfigError(`deployment ${name} is ${before.state}; only a running deployment pauses`)
  requestControl(context.home, name, command)
  const wanted = command === 'pause' ? ['paused'] : command === 'resume' ? ['running'] : ['stopped', 'finished', 'failed']
  const deadline = Date.now() + (command === 'flatten' ? 3 * CONTROL_WAIT_MS : CONTROL_WAIT_MS)
  let status = readStatus(context.home, name)
  while (!wanted.includes(status.state) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    status = readStatus(context.home, name)
  }
  if (json) return printJson(context, status)
  if (!wanted.includes(status.state)) {
    context.stdout.write(`asked deployment ${name} to ${command === 'flatten' ? 'stop --flatten' : command}; it still reads ${status.state} (it checks every second: mtflow deploy status ${name})\n`)
    return
  }
  context.stdout.write(`deployment ${name} ${status.state}${status.reason === undefined ? '' : ` (${status.reason})`}\n`)
}

function writeStatus(context: DeployContext, s: DeploymentStatus): void {
  const rows: [string, string][] = [
    ['state', `${s.state}${s.reason === undefined ? '' : ` (${s.reason})`}`],
    ['mode', s.mode],
    ['strategy', s.strategy],
    ['symbols', `${s.symbols.join(', ')} ${s.timeframe}`],
    ['pid', String(s.pid)],
    ['started', s.startedAt.slice(0, 19)],
    ['updated', s.updatedAt.slice(0, 19)],
    ['last bar closed at', s.lastBar?.slice(0, 19) ?? '—'],
    ['bars', String(s.bars)],
    ['equity', money(s.equity)],
    ['cash', money(s.cash)],
    ['trades', `${s.tradeCount} (${s.fills} fills)`],
    ...(s.runId === undefined ? [] : [['run', s.runId] as [string, string]]),
    ['journal', s.journal],
  ]
  context.stdout.write(`deployment ${s.name}\n${formatTable(['', ''], rows.map(([k, v]) => [k, v]))}`)
  context.stdout.write(`\npositions\n${s.positions.length === 0 ? 'none\n' : formatTable(['symbol', 'qty', 'avg price', 'value', 'unrealized'], s.positions.map((p) => [p.symbol, String(p.qty), money(p.avgPrice), money(p.value), money(p.unrealized)]))}`)
  // Below the least amount an order can trade: not a position, but in the equity (lib/live/README.md).
  if (s.dust !== undefined && s.dust.length > 0) context.stdout.write(`\ndust (below the market's least order amount: flat for the strategy, in the equity)\n${formatTable(['symbol', 'qty', 'value'], s.dust.map((d) => [d.symbol, String(d.qty), money(d.value)]))}`)
  context.stdout.write(
    `\nopen orders\n${s.openOrders.length === 0 ? 'none\n' : formatTable(['cid', 'symbol', 'side', 'type', 'role', 'qty', 'filled', 'limit', 'stop', 'status'], s.openOrders.map((o) => [o.cid, o.symbol, o.side, o.type, o.role, String(o.qty), String(o.filled), o.limit === undefined ? '' : String(o.limit), o.stop === undefined ? '' : String(o.stop), o.status]))}`,
  )
  const last = s.trades.slice(-10)
  context.stdout.write(
    `\ntrades${s.tradeCount > last.length ? ` (last ${last.length} of ${s.tradeCount})` : ''}\n${last.length === 0 ? 'none\n' : formatTable(['symbol', 'direction', 'entry', 'price', 'exit', 'price', 'qty', 'pnl'], last.map((t) => [t.symbol, t.direction, t.entryTime.slice(0, 19), money(t.entryPrice), t.open ? 'open' : t.exitTime.slice(0, 19), t.open ? '' : money(t.exitPrice), String(t.qty), money(t.pnl)]))}`,
  )
}

function note(context: DeployContext, o: DeployOptions, line: string): void {
  if (o.json !== true) context.stderr.write(`${line}\n`)
}

const money = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x))

/** The wall clock, with every pending sleep cancellable: a stopped deployment's process exits without waiting for a bar. */
class CliClock implements Clock {
  private readonly pending = new Map<NodeJS.Timeout, () => void>()

  now(): number {
    return Date.now()
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer)
        resolve()
      }, Math.max(0, ms))
      this.pending.set(timer, resolve)
    })
  }

  close(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer)
      resolve()
    }
    this.pending.clear()
  }
}
