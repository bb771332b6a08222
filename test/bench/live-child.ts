// The live-deployment latency benchmark in a process of its own (through require-child.cjs, as the CLI
// loads TypeScript): the rows as JSON. Arguments: bars warmup [throttles, comma-separated].
import { benchLive, type Throttle } from './live.js'

export async function main(args: string[]): Promise<string> {
  const throttles = args[2] === undefined ? undefined : (args[2].split(',') as Throttle[])
  const rows = await benchLive((text) => process.stderr.write(`${text}\n`), { bars: Number(args[0] ?? 2000), warmup: Number(args[1] ?? 1000), ...(throttles === undefined ? {} : { throttles }) })
  return JSON.stringify(rows)
}
