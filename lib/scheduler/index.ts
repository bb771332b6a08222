// lib/scheduler: scheduled jobs (issue 21) — the jobs file (<home>/scheduler/jobs.json), the Scheduler
// (when jobs run: cron in a time zone, missed runs, overlap, triggers) apart from runJob (how one runs:
// retries with backoff, a time limit, a tracked run and a history line), and the code of each job kind.

export * from './args.js'
export * from './jobs.js'
export * from './state.js'
export * from './runner.js'
export * from './scheduler.js'
export * from './kinds.js'
export * from './retrain.js'
export * from './reoptimise.js'
