// Job kinds of lib/pipeline, run by lib/exec on local threads or `mtflow worker` processes:
// `pipeline.trainDataset` — one dataset of a train step: its CV folds, the final fit and its package.

import type { JobHandler } from '../exec/types.js'
import { trainDataset, type TrainContext, type TrainDone, type TrainItem } from './train.js'

const trainDatasetJob: JobHandler<TrainContext, undefined, TrainItem, TrainDone> = {
  run: (_state, item, context) => trainDataset(context, item),
}

export const jobs: Record<string, JobHandler> = { trainDataset: trainDatasetJob }
