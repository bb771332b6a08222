// After training: every model of a train run into the registry at once — one model name per dataset
// (`<prefix>.<pair or symbol>`, e.g. "pairs-tree.dax-smi"), each package checked whole before it enters, all
// moved to a stage. Models a minimum ROC AUC leaves out are listed with why.

import { ConfigError } from '../core/index.js'
import { readPackage } from '../ml/index.js'
import { stepRun, openTracker, openRegistry } from '../track/index.js'
import { readStepTable } from './step.js'

export type Stage = 'None' | 'Staging' | 'Production' | 'Archived'
const STAGES: readonly Stage[] = ['None', 'Staging', 'Production', 'Archived']

export interface RegisterModelsOptions {
  /** A train run. */
  from: string
  /** Model name prefix (default "<family>" of the train run, e.g. "tree"). */
  prefix?: string
  stage?: Stage
  /** Leave out models whose cross-validated ROC AUC is below this. */
  minRocAuc?: number
  reason?: string
}

export interface RegisteredModel {
  dataset: string
  name: string
  version?: number
  created?: boolean
  stage?: string
  rocAuc: number
  /** Why it was left out. */
  skipped?: string
}

/** A dataset's name as part of a model name: lowercase, anything but letters, digits, . _ - becomes "-". */
export function modelSlug(dataset: string): string {
  return dataset.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model'
}

export async function registerModels(home: string, options: RegisterModelsOptions): Promise<RegisteredModel[]> {
  const stage = options.stage ?? 'Staging'
  if (!STAGES.includes(stage)) throw new ConfigError(`--stage must be one of ${STAGES.join(', ')} (received ${JSON.stringify(stage)})`)
  if (options.minRocAuc !== undefined && !(options.minRocAuc >= 0 && options.minRocAuc <= 1)) throw new ConfigError(`--min-roc-auc must be in [0, 1] (received ${options.minRocAuc})`)
  const tracker = openTracker(home)
  const train = stepRun(tracker, options.from, ['train'], '--from')
  const prefix = options.prefix ?? String(train.manifest.params.model)
  const summary = await readStepTable(home, options.from, train.manifest, 'summary')
  const names = summary.name as string[]
  const files = summary.model as string[]
  const auc = summary.rocAuc as Float64Array
  const registry = openRegistry(home)
  const out: RegisteredModel[] = []
  for (let i = 0; i < names.length; i++) {
    const name = `${prefix}.${modelSlug(names[i]!)}`
    if (options.minRocAuc !== undefined && !(auc[i]! >= options.minRocAuc)) {
      out.push({ dataset: names[i]!, name, rocAuc: auc[i]!, skipped: `ROC AUC ${auc[i]!.toFixed(3)} < ${options.minRocAuc}` })
      continue
    }
    const check = (bytes: Buffer, path: string) => void readPackage(bytes.toString('utf8'), `artifact ${JSON.stringify(path)} of run ${options.from}`)
    const { version, created } = registry.registerModel(tracker, name, options.from, files[i]!, { description: `${train.manifest.params.model} on ${names[i]} (train run ${options.from})`, check })
    const after = stage === 'None' ? version : registry.transitionStage(name, version.version, stage, { reason: options.reason ?? `registered in bulk from train run ${options.from}` })
    out.push({ dataset: names[i]!, name, version: version.version, created, stage: (after as { stage?: string }).stage ?? stage, rocAuc: auc[i]! })
  }
  return out
}
