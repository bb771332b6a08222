// Job kinds of lib/pipeline, run by lib/exec on local threads or `mtflow worker` processes:
// `pipeline.trainDataset` — one dataset of a train step: its CV folds, the final fit and its package;
// `pipeline.gatedBacktest` — one model-gated backtest of a batch, recorded as the batch's child run.

import type { JobHandler } from '../exec/types.js'
import { gatedRow, type GatedBatchRow, type GatedInputs, type GatedJobContext } from './gated.js'
import { trainDataset, type TrainContext, type TrainDone, type TrainItem } from './train.js'

const trainDatasetJob: JobHandler<TrainContext, undefined, TrainItem, TrainDone> = {
  run: (_state, item, context) => trainDataset(context, item),
}

/**
 * One model-gated backtest of a batch, tracked as the batch parent's child. A worker reads the lake and
 * records into the workspace it was started on (--home, or MTFLOW_TRACKING_URI's server): the submitter's
 * path is only a default for threads of the submitter's own process.
 */
const gatedBacktestJob: JobHandler<GatedJobContext, undefined, { ref: string; expected?: GatedInputs }, GatedBatchRow> = {
  run: (_state, item, context) => gatedRow(process.env.MTFLOW_WORKER_HOME ?? context.home, { ...context.options, ref: item.ref }, item.expected),
}

export const jobs: Record<string, JobHandler> = { trainDataset: trainDatasetJob, gatedBacktest: gatedBacktestJob }
