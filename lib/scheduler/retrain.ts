// The retrain job: refit a registered model's family on the latest window. For a model a `train` step
// made, its lineage (train → dataset → features, and the screen or symbols before that) is replayed with
// the same params on the lake's bars as they are at the run (features end = now), the new package of the
// same pair or symbol is registered under the same name, and the alias `challenger` points at it (with a
// reason in the audit log). The champion is left alone: promoting is the champion/challenger rules' call.

import { ConfigError } from '../core/index.js'
import { readPackage } from '../ml/index.js'
import { datasetStep, featuresStep, modelOrigin, readStepTable, trainStep, type FeatureSet, type LabelKind } from '../pipeline/index.js'
import { trainChain, openTracker, openRegistry } from '../track/index.js'

export interface RetrainOptions {
  /** The registered model name. */
  model: string
  /** The alias refitted (default champion). */
  from?: string
  /** The alias the new version gets (default challenger). */
  alias?: string
  /** The end of the window (epoch ms): the run's start. */
  now: number
  /** Who asked, for the audit log ("job nightly"). */
  by?: string
}

export interface RetrainResult {
  model: string
  /** The refitted version and the new one (the same number when the refit is byte for byte the same model). */
  fromVersion: number
  version: number
  created: boolean
  alias: string
  target: string
  runs: { features: string; dataset: string; train: string }
}

const nullToUndefined = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v)

export async function retrainModel(home: string, o: RetrainOptions): Promise<RetrainResult> {
  const from = o.from ?? 'champion'
  const alias = o.alias ?? 'challenger'
  const registry = openRegistry(home)
  const tracker = openTracker(home)
  const current = registry.resolve('models', `${o.model}@${from}`)
  const { trainRun, target } = await modelOrigin(home, current)
  const { train, dataset, features } = trainChain(tracker, trainRun, `model ${o.model}@${current.version}'s train run`)
  const fp = features.manifest.params
  const timeframe = String(fp.timeframe)
  const screen = features.manifest.inputs.find((i) => i.kind === 'run')?.ref
  // The lake source of the data the features read (one source for all: else let the lake pick, as before).
  const sources = [...new Set(features.manifest.inputs.filter((i) => i.kind === 'data').map((i) => i.ref.split('/')[0]!))]
  const end = new Date(o.now).toISOString()
  const common = {
    timeframe,
    ...(sources.length === 1 ? { source: sources[0]! } : {}),
    ...(typeof fp.start === 'string' ? { start: fp.start } : {}),
    end,
    sets: fp.sets as FeatureSet[],
    window: fp.window as number,
    windows: fp.windows as number[],
  }
  const newFeatures = screen !== undefined ? await featuresStep(home, { pairs: screen, ...common }) : await featuresStep(home, { symbols: [target], ...common })
  const dp = dataset.manifest.params
  const newDataset = await datasetStep(home, {
    features: newFeatures.runId,
    label: dp.label as LabelKind,
    horizon: nullToUndefined(dp.horizon as number | null),
    entry: nullToUndefined(dp.entry as number | null),
    exit: nullToUndefined(dp.exit as number | null),
    profit: nullToUndefined(dp.profit as number | null),
    stop: nullToUndefined(dp.stop as number | null),
  })
  const tp = train.manifest.params
  const newTrain = await trainStep(home, {
    dataset: newDataset.runId,
    model: String(tp.model),
    cv: tp.cv as 'purged' | 'walk-forward' | 'cpcv',
    folds: nullToUndefined(tp.folds as number | null),
    embargo: tp.embargo as number,
    hyper: (tp.hyper ?? {}) as Record<string, unknown>,
  })
  const summary = await readStepTable(home, newTrain.runId, newTrain.manifest, 'summary')
  const at = (summary.name as string[]).indexOf(target)
  if (at < 0) throw new ConfigError(`retrain of ${o.model}: the refit has no model for ${target} (the screen ${screen ?? ''} no longer selects it?); tables: ${(summary.name as string[]).join(', ')}`)
  const file = (summary.model as string[])[at]!
  const check = (bytes: Buffer, path: string) => void readPackage(bytes.toString('utf8'), `artifact ${JSON.stringify(path)} of run ${newTrain.runId}`)
  const { version, created } = registry.registerModel(tracker, o.model, newTrain.runId, file, { description: `${tp.model} on ${target}, refitted on bars to ${end} (from ${o.model}@${current.version})`, check })
  registry.setAlias('models', o.model, alias, version.version, `${o.by ?? 'retrain'}: ${o.model}@${from} (v${current.version}) refitted on the lake's bars to ${end}, train run ${newTrain.runId}`)
  return { model: o.model, fromVersion: current.version, version: version.version, created, alias, target, runs: { features: newFeatures.runId, dataset: newDataset.runId, train: newTrain.runId } }
}
