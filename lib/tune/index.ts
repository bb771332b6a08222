// lib/tune: an Optuna-class tuner — parameter spaces (declared or define-by-run), samplers (grid,
// random, TPE, NSGA-II), pruners (median/percentile, successive halving), Pareto fronts and
// hypervolumes, and studies in memory or in the workspace, resumable, with trials in worker threads.

export * from './types.js'
export * from './space.js'
export { trialRandom, randomSampler, type RandomSamplerOptions } from './random.js'
export { gridSampler, gridPoints, type GridOptions } from './grid.js'
export { tpeSampler, tpeSplit, defaultGamma, type TpeOptions, type TpeSplit } from './tpe.js'
export { ParzenEstimator, defaultWeights, PARZEN_DEFAULTS, type ParzenOptions } from './parzen.js'
export { nsga2Sampler, elite, type Nsga2Options } from './nsga2.js'
export { dominates, nonDominatedSort, crowdingDistance, paretoFront, hypervolume, lossVector } from './pareto.js'
export { medianPruner, percentilePruner, successiveHalvingPruner, nopPruner, type PercentileOptions, type SuccessiveHalvingOptions } from './pruners.js'
export { Trial, TrialPruned, type TrialHost } from './trial.js'
export { createStudy, loadStudy, Study, type CreateStudyOptions, type LoadStudyOptions, type Objective, type ObjectiveResult, type OptimizeOptions, type StudyStorage, type TellResult } from './study.js'
export { studyFile, type StudyEvent, type StudyHeader } from './storage.js'
export type { ObjectiveFile } from './workers.js'
export * from './meta-label.js'
export * from './walk-forward.js'
export * from './select.js'
export * from './entry-features.js'
export * from './automl.js'
