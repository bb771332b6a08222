// lib/pipeline: the research-to-orders pipeline as steps (issue 20) — each a library call and a CLI verb
// whose output is a tracked run with its tables as Parquet artifacts and a manifest, whose input is the
// previous step's run id, and which is reused when its inputs and params are unchanged. It sits above the
// domain folders (data, features, ml, portfolio) and track, below server and cli.

export * from './step.js'
export * from './screen.js'
export * from './features.js'
export * from './dataset.js'
export * from './train.js'
export * from './register.js'
export * from './infer.js'
export * from './router.js'
export * from './gated.js'
