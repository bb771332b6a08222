// What the benchmark children share: the row shape, medians, and a timed run with a full collection
// before each measurement (the children run with --expose-gc: one workload's garbage is not the next
// one's pause).

export interface BenchRow {
  workload: string
  median: number
  throughput: string
  reference: string
  ratio: string
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const collect = (globalThis as { gc?: () => void }).gc ?? (() => {})

/** Median milliseconds of `runs` timed calls after `warmups` untimed ones (JIT tiers, allocation paths). */
export function time(fn: () => unknown, runs: number, warmups = 1): number {
  for (let i = 0; i < warmups; i++) fn()
  const ms: number[] = []
  for (let i = 0; i < runs; i++) {
    collect()
    const t = performance.now()
    fn()
    ms.push(performance.now() - t)
  }
  return median(ms)
}
