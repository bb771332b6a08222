// lib/data: the columnar Bars type, CSV reading and conversions to tables.

export * from './bars.js'
export * from './csv.js'
export * from './table.js'
export * from './convert.js'
export * from './lake.js'
export * from './lake-write.js'
export * from './ingest.js'
export * from './resample.js'
export * from './synthetic.js'
export * from './samples.js'
export * from './export.js'
export { lakeDebris, lakePointerProblems, removeLakeDebris, type LakeDebris } from './generations.js'
