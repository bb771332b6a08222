// `mtflow champion`: a model's champion and challenger — status (aliases, serving mode, ages and expiry, the
// last moves), promote (only by the out-of-sample rules, with the evidence recorded), rollback (with a
// reason), and serve-mode (writes <home>/serving/NAME.json: single, shadow or ab, the split and expireAfter).

import { Command } from 'commander'
import { ConfigError } from '../core/index.js'
import { openRegistry } from '../track/index.js'
import { parseDuration, promoteChallenger, promotionLog, readServingConfig, rollback, writeServingConfig, type ServingConfig } from '../track/promotion.js'
import { formatTable, printJson, type CliContext } from './context.js'

export function championCommand(context: CliContext): Command {
  const champion = new Command('champion').description('champion and challenger models: status, promote, rollback, serving mode')
  champion
    .command('status')
    .description("a model's aliases, serving mode, each version's age and expiry, and its last promotions and rollbacks")
    .argument('<name>', 'registered model name')
    .option('--json', 'print the status as JSON')
    .action((name: string, o: { json?: boolean }) => {
      const status = championStatus(context.home, name, Date.now())
      if (o.json === true) return printJson(context, status)
      const c = status.config
      context.stdout.write(`${name}: ${c.mode}${c.mode === 'ab' ? ` (${c.split! * 100} % to ${c.challenger})` : c.mode === 'shadow' ? ` (${c.challenger} shadows ${c.champion})` : ''}${c.expireAfter === undefined ? '' : `, versions expire after ${c.expireAfter}`}${status.configured ? '' : ' (no serving config: the defaults)'}\n`)
      if (status.aliases.length === 0) context.stdout.write('no aliases\n')
      else context.stdout.write(formatTable(['alias', 'version', 'registered', 'age (days)', 'expired'], status.aliases.map((a) => [a.alias, String(a.version), new Date(a.registeredAt).toISOString(), a.ageDays.toFixed(1), a.expired === null ? '—' : a.expired ? 'yes' : 'no'])))
      for (const e of status.history) context.stdout.write(`${new Date(e.time as number).toISOString()}  ${String(e.action)}: ${String(e.reason)}\n`)
    })
  champion
    .command('promote')
    .description('move champion to the challenger only if its out-of-sample figure beats the champion’s by the rules (exit 1 when refused)')
    .argument('<name>', 'registered model name')
    .requiredOption('--evidence-champion <run>', "the champion's walk-forward (or holdout) run")
    .requiredOption('--evidence-challenger <run>', "the challenger's walk-forward (or holdout) run")
    .option('--metric <name>', 'metric compared, higher is better; its out-of-sample form is read (oosSharpe, oos_sharpe, holdout_sharpe…)', 'sharpe')
    .option('--margin <x>', "the challenger must reach the champion's figure + this", '0')
    .option('--min-observations <n>', "out-of-sample observations under the challenger's figure, at least (oosObservations, oosBars…)", '30')
    .option('--json', 'print the decision as JSON')
    .action((name: string, o: { evidenceChampion: string; evidenceChallenger: string; metric: string; margin: string; minObservations: string; json?: boolean }) => {
      const margin = parseNumber(o.margin, '--margin', (x) => x >= 0, 'a number ≥ 0')
      const minObservations = parseNumber(o.minObservations, '--min-observations', (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1')
      const result = promoteChallenger(context.home, name, { rules: { metric: o.metric, margin, minObservations }, evidence: { champion: { runId: o.evidenceChampion }, challenger: { runId: o.evidenceChallenger } } })
      if (!result.promoted) context.exitCode = 1
      if (o.json === true) return printJson(context, result)
      context.stdout.write(`${result.reason}\n`)
    })
  champion
    .command('rollback')
    .description('move champion back to previous-champion, with the reason in the audit log')
    .argument('<name>', 'registered model name')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'print the result as JSON')
    .action((name: string, o: { reason: string; json?: boolean }) => {
      const result = rollback(context.home, name, o.reason)
      if (o.json === true) return printJson(context, result)
      context.stdout.write(`${result.reason}\n`)
    })
  champion
    .command('serve-mode')
    .description('how the model is served (serving/NAME.json): single, shadow (challenger scored and logged, never returned) or ab (a share to the challenger)')
    .argument('<name>', 'registered model name')
    .argument('<mode>', 'single | shadow | ab')
    .option('--split <f>', 'ab: the share of requests the challenger answers, between 0 and 1 (default 0.1)')
    .option('--expire-after <duration>', 'a version older than this since registration answers 503 (30d, 12h, 90m, 2w)')
    .option('--champion <alias>', 'the alias that answers', 'champion')
    .option('--challenger <alias>', 'the alias scored beside it (shadow, ab)', 'challenger')
    .option('--json', 'print the config as JSON')
    .action((name: string, mode: string, o: { split?: string; expireAfter?: string; champion: string; challenger: string; json?: boolean }) => {
      const split = o.split === undefined ? undefined : parseNumber(o.split, '--split', (x) => x > 0 && x < 1, 'a number between 0 and 1, exclusive')
      if (split !== undefined && mode !== 'ab') throw new ConfigError(`--split applies to mode ab only (received mode ${JSON.stringify(mode)})`)
      const config = writeServingConfig(context.home, name, { mode: mode as 'single', champion: o.champion, ...(mode === 'single' ? {} : { challenger: o.challenger }), ...(split === undefined ? {} : { split }), ...(o.expireAfter === undefined ? {} : { expireAfter: o.expireAfter }) })
      // Allowed (a retrain job may set the challenger later), but said: until then the champion answers every request.
      const aliases = openRegistry(context.home).entry('models', name).aliases
      if (config.challenger !== undefined && aliases[config.challenger] === undefined) context.stderr.write(`mtflow: note: model ${name} has no alias ${config.challenger} yet: ${config.champion} answers every request until it is set (mtflow registry alias models ${name}@VERSION ${config.challenger})\n`)
      if (o.json === true) return printJson(context, config)
      context.stdout.write(`${name} is served in mode ${config.mode}${config.split === undefined ? '' : ` (${config.split * 100} % to ${config.challenger})`}${config.expireAfter === undefined ? '' : `, versions expire after ${config.expireAfter}`}\n`)
    })
  return champion
}

export interface ChampionStatus {
  name: string
  configured: boolean
  config: ServingConfig
  aliases: { alias: string; version: number; registeredAt: number; ageDays: number; expired: boolean | null }[]
  /** The last 5 promotions, refusals and rollbacks. */
  history: Record<string, unknown>[]
}

/** The status of a model's champion and challenger at `now`. */
export function championStatus(home: string, name: string, now: number): ChampionStatus {
  const entry = openRegistry(home).entry('models', name)
  const stored = readServingConfig(home, name)
  const config = stored ?? { champion: 'champion', mode: 'single' as const }
  const expireMs = config.expireAfter === undefined ? undefined : parseDuration(config.expireAfter)
  const aliases = Object.entries(entry.aliases)
    .sort(([, a], [, b]) => b - a)
    .map(([alias, version]) => {
      const registeredAt = entry.versions.find((v) => v.version === version)?.createdAt ?? NaN
      return { alias, version, registeredAt, ageDays: (now - registeredAt) / 86_400_000, expired: expireMs === undefined ? null : now - registeredAt >= expireMs }
    })
  return { name, configured: stored !== undefined, config, aliases, history: promotionLog(home, name).slice(-5) }
}

function parseNumber(text: string, option: string, ok: (x: number) => boolean, expected: string): number {
  const x = Number(text)
  if (text.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new ConfigError(`${option} must be ${expected} (received ${JSON.stringify(text)})`)
  return x
}
