// The server benchmark's load generator in a process of its own (the server is a third process): prints
// the rows as JSON. Environment: BENCH_SERVER_SECONDS (measured window per page kind, default 5),
// BENCH_SERVER_PROF (a folder: the server runs with --cpu-prof and leaves its profile there),
// BENCH_SERVER_HOME (a folder: the workspace is made there once and reused), BENCH_SERVER_KINDS (some of
// home,runs,run,sweep,compare,registry).
import { benchServer } from './server.js'

const seconds = Number(process.env.BENCH_SERVER_SECONDS ?? 5)
const rows = await benchServer((text) => process.stderr.write(`${text}\n`), {
  durationMs: seconds * 1000,
  cpuProfDir: process.env.BENCH_SERVER_PROF || undefined,
  home: process.env.BENCH_SERVER_HOME || undefined,
  kinds: process.env.BENCH_SERVER_KINDS ? process.env.BENCH_SERVER_KINDS.split(',') : undefined,
})
process.stdout.write(JSON.stringify(rows))
