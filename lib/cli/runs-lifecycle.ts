// `mtflow runs delete|restore|gc`: runs' lifecycle (lib/track/lifecycle.ts). Delete is soft (the run is
// tagged deleted and leaves listings; restore brings it back), gc removes deleted runs' folders for good.
// Bad input — an unknown id, a run already deleted or not deleted, a referenced run — is one line, exit 2,
// and nothing changed.

import type { Command } from 'commander'
import { ConfigError, isoTime } from '../core/index.js'
import type { GcResult, LifecycleChange } from '../track/index.js'
import { formatTable, lazy, printJson, type CliContext } from './context.js'

const track = () => lazy('../track/index.js') as typeof import('../track/index.js')

/** Add delete, restore and gc to the `runs` command. */
export function addRunsLifecycle(runs: Command, context: CliContext): void {
  runs
    .command('delete')
    .description("soft-delete runs: they leave listings and searches (--deleted shows them) until restored or removed by gc; a sweep's child runs follow their parent")
    .argument('<runs...>', 'run ids')
    .option('--reason <text>', 'why (kept as the tag mtflow.deleteReason)')
    .option('--force', 'delete even runs a registry version or a deployment references, and RUNNING runs')
    .option('--json', 'print JSON')
    .action((ids: string[], o: { reason?: string; force?: boolean; json?: boolean }) => {
      const changes = new (track().Tracker)(context.home).deleteRuns(ids, { reason: o.reason, force: o.force === true })
      if (o.json === true) return printJson(context, { deleted: changes })
      printChanges(context, 'deleted', changes)
    })

  runs
    .command('restore')
    .description('bring deleted runs back (and the child runs deleted with them)')
    .argument('<runs...>', 'run ids')
    .option('--json', 'print JSON')
    .action((ids: string[], o: { json?: boolean }) => {
      const changes = new (track().Tracker)(context.home).restoreRuns(ids)
      if (o.json === true) return printJson(context, { restored: changes })
      printChanges(context, 'restored', changes)
    })

  runs
    .command('gc')
    .description("remove deleted runs' folders and artifacts for good (referenced, RUNNING and parents of kept runs are kept, and said why)")
    .option('--older-than <age>', 'only runs deleted at least this long ago: 30d, 12h, 90m, 45s, 2w')
    .option('--dry-run', 'list what would be removed; change nothing')
    .option('--force', 'remove even runs a registry version, a deployment or an active run’s lineage references')
    .option('--json', 'print JSON')
    .action((o: { olderThan?: string; dryRun?: boolean; force?: boolean; json?: boolean }) => {
      const olderThanMs = o.olderThan === undefined ? undefined : track().parseDuration(o.olderThan, '--older-than')
      const result = new (track().Tracker)(context.home).gc({ olderThanMs, dryRun: o.dryRun === true, force: o.force === true })
      if (o.json === true) return printJson(context, result)
      printGc(context, result)
    })
}

/** `runs list|search` --deleted / --all → the lifecycle view of the listing (default: active runs). */
export function lifecycleView(o: { deleted?: boolean; all?: boolean }): 'active' | 'deleted' | 'all' {
  if (o.deleted === true && o.all === true) throw new ConfigError('--deleted and --all cannot be used together (--all already shows the deleted runs)')
  return o.all === true ? 'all' : o.deleted === true ? 'deleted' : 'active'
}

function printChanges(context: CliContext, verb: string, changes: LifecycleChange[]): void {
  for (const c of changes) context.stdout.write(`${verb} run ${c.runId} (${c.experimentId})${c.with === undefined ? '' : `, with its parent ${c.with}`}\n`)
}

function printGc(context: CliContext, r: GcResult): void {
  const verb = r.dryRun ? 'would remove' : 'removed'
  if (r.finished.length > 0) context.stdout.write(`${r.dryRun ? 'would finish' : 'finished'} the removal of ${r.finished.length} run(s) an interrupted gc left in the trash: ${r.finished.join(', ')}\n`)
  if (r.removed.length > 0) context.stdout.write(formatTable(['run', 'experiment', 'deleted'], r.removed.map((x) => [x.runId, x.experimentId, x.deletedTime > 0 ? isoTime(x.deletedTime).slice(0, 19) : '—'])))
  for (const s of r.skipped) context.stdout.write(`kept ${s.runId}: ${s.reason}\n`)
  context.stdout.write(`${verb} ${r.removed.length} run(s)${r.skipped.length > 0 ? `; kept ${r.skipped.length}` : ''}\n`)
}
