// Model families by name — what the CLI, AutoML and notebooks ask for ("tree", "forest", "gbt",
// "logistic"; "ridge" for regression) — and the hyperparameter space the tuner searches for each.

import { ConfigError } from '../core/index.js'
import { RandomForestClassifier, RandomForestRegressor } from './forest.js'
import { GradientBoostingClassifier, GradientBoostingRegressor } from './gbt.js'
import { LogisticRegression, RidgeRegression } from './linear.js'
import type { Model, Task } from './model.js'
import { DecisionTreeClassifier, DecisionTreeRegressor } from './tree.js'

export const MODEL_FAMILIES = ['tree', 'forest', 'gbt', 'logistic', 'ridge'] as const
export type ModelFamily = (typeof MODEL_FAMILIES)[number]

/** A hyperparameter's range for tuning: integers, floats (optionally log-scaled) or choices. */
export type HyperRange = { int: [number, number]; log?: boolean } | { float: [number, number]; log?: boolean } | { choice: readonly (string | number | boolean)[] }

/** The ranges AutoML searches per family (names are the model options). */
export const FAMILY_SPACES: Record<ModelFamily, Record<string, HyperRange>> = {
  tree: { maxDepth: { int: [2, 12] }, minSamplesLeaf: { int: [1, 100], log: true } },
  forest: { nEstimators: { int: [50, 200] }, maxDepth: { int: [3, 16] }, minSamplesLeaf: { int: [1, 50], log: true }, maxFeatures: { float: [0.2, 1] } },
  gbt: { nEstimators: { int: [30, 300], log: true }, learningRate: { float: [0.01, 0.3], log: true }, maxDepth: { int: [2, 6] }, subsample: { float: [0.5, 1] } },
  logistic: { C: { float: [1e-3, 1e2], log: true } },
  ridge: { alpha: { float: [1e-3, 1e3], log: true } },
}

export function checkFamily(name: string): ModelFamily {
  if (!(MODEL_FAMILIES as readonly string[]).includes(name)) throw new ConfigError(`unknown model family ${JSON.stringify(name)} (known: ${MODEL_FAMILIES.join(', ')})`)
  return name as ModelFamily
}

/** A new, unfitted model of a family for a task, with options (unknown option names are refused). */
export function createModel(family: string, task: Task, options: Record<string, unknown> = {}): Model {
  const f = checkFamily(family)
  if (task !== 'classification' && task !== 'regression') throw new ConfigError(`task must be classification or regression (received ${JSON.stringify(task)})`)
  const known = KNOWN_OPTIONS[f]
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new ConfigError(`${f} has no option ${JSON.stringify(k)} (options: ${known.join(', ')})`)
  const o = options as never
  switch (f) {
    case 'tree':
      return task === 'classification' ? new DecisionTreeClassifier(o) : new DecisionTreeRegressor(o)
    case 'forest':
      return task === 'classification' ? new RandomForestClassifier(o) : new RandomForestRegressor(o)
    case 'gbt':
      return task === 'classification' ? new GradientBoostingClassifier(o) : new GradientBoostingRegressor(o)
    case 'logistic':
      if (task !== 'classification') throw new ConfigError('logistic is a classifier: use ridge for regression')
      return new LogisticRegression(o)
    case 'ridge':
      if (task !== 'regression') throw new ConfigError('ridge is a regressor: use logistic for classification')
      return new RidgeRegression(o)
  }
}

const TREE = ['maxDepth', 'minSamplesLeaf', 'minSamplesSplit', 'maxFeatures', 'seed', 'maxBins']
const KNOWN_OPTIONS: Record<ModelFamily, string[]> = {
  tree: TREE,
  forest: [...TREE, 'nEstimators', 'bootstrap', 'maxSamples', 'workers', 'oob'],
  gbt: [...TREE, 'nEstimators', 'learningRate', 'subsample', 'earlyStopping'],
  logistic: ['C', 'fitIntercept', 'standardize', 'maxIter', 'tol'],
  ridge: ['alpha', 'fitIntercept', 'standardize'],
}
