// `mtflow deploy submit NAME --orders FILE` (lib/live/deployment.ts submitOrdersFile): the orders file
// `portfolio targets --positions NAME --out FILE` writes for a running paper deployment is taken at once —
// each order journaled under exactly the file's client id, filled at the next bar's open (read from the lake
// here), the position the strategy (which never trades) holds afterwards. The same file again is refused (the
// journal has moved on: its ids would be reused), as is a file for another deployment; a paused deployment
// refuses a valid file with an alert and status.ordersFile saying why.

import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pidAlive } from '../../lib/core/index.js'
import { loadBars } from '../../lib/data/index.js'
import { ROOT, runCli, waitFor, type CliResult } from '../helpers.js'

let home: string
const cli = (args: string[]) => runCli(['--home', home, ...args])
const json = (r: CliResult) => {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}
const started: number[] = []

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-orders-submit-'))
  json(await cli(['data', 'samples', '--json']))
  const file = join(home, 'hold.ts')
  writeFileSync(
    file,
    `import { defineStrategy } from '${join(ROOT, 'lib/strategy/index.js')}'
export default defineStrategy({
  name: 'hold',
  params: {},
  universe: (_p, r) => r.symbols.map((symbol) => ({ symbol, timeframe: r.timeframe })),
  warmup: () => 1,
  onBar() {},
})
`,
  )
  json(await cli(['strategy', 'register', file, '--no-parity', '--json']))
}, 90_000)

afterAll(() => {
  for (const pid of started) if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
})

const journal = (name: string) =>
  readFileSync(join(home, 'deployments', name, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
const status = async (name: string) => json(await cli(['deploy', 'status', name, '--json']))

describe('deploy submit', () => {
  it('places an orders file at once under its client ids; the same file again, or one made for another deployment, is refused', async () => {
    const start = async (name: string) => {
      const d = json(await cli(['deploy', 'hold@1', '--symbols', 'SPX', '--timeframe', '1d', '--paper', '--exchange', 'binance', '--start', '2012-01-01', '--end', '2016-12-31', '--pace-ms', '60', '--name', name, '--detach', '--json']))
      started.push(d.pid)
      expect(await waitFor(() => existsSync(join(home, 'deployments', name, 'status.json')) && JSON.parse(readFileSync(join(home, 'deployments', name, 'status.json'), 'utf8')).bars > 3, 30_000)).toBe(true)
      return d.pid as number
    }
    const pid = await start('book')
    const other = await start('other')
    const signals = join(home, 'signals.jsonl')
    writeFileSync(signals, `${JSON.stringify({ time: '2012-01-10T00:00:00.000Z', target: 'SPX', model: 'm@1', probability: 0.9, side: 'long', confidence: 0.8 })}\n`)
    const caps = join(home, 'caps.json')
    writeFileSync(caps, JSON.stringify({ capital: 100000, maxWeightPerAsset: 0.5 }))
    const orders = join(home, 'orders.json')
    const made = json(await cli(['portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1d', '--positions', 'book', '--out', orders, '--json']))
    // Priced as the deployment sees the market: a close of a bar it has stepped (2012…), not the lake's last (2020).
    const spx = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    const price = (made as { positions: { symbol: string; price: number }[] }).positions.find((x) => x.symbol === 'SPX')!.price
    const at = Array.from(spx.close).indexOf(price)
    expect(at).toBeGreaterThanOrEqual(0)
    expect(new Date(spx.time[at]!).getUTCFullYear()).toBe(2012)
    expect(price).not.toBe(spx.close[spx.close.length - 1])
    const file = JSON.parse(readFileSync(orders, 'utf8')) as { deployment: string; deploymentId: string; firstSeq: number; orders: { clientOrderId: string; symbol: string; side: string; qty: number }[] }
    expect(file.deployment).toBe('book')
    expect(file.orders).toHaveLength(1)
    expect(file.orders[0]).toMatchObject({ symbol: 'SPX', side: 'buy' })
    expect(file.orders[0]!.qty).toBeGreaterThan(0)

    const handed = json(await cli(['deploy', 'submit', 'book', '--orders', orders, '--json']))
    expect(handed).toMatchObject({ name: 'book', orders: 1, firstSeq: file.firstSeq, outcome: { taken: true, clientOrderIds: [file.orders[0]!.clientOrderId] } })
    expect(await waitFor(() => JSON.parse(readFileSync(join(home, 'deployments', 'book', 'status.json'), 'utf8')).ordersFile !== undefined, 10_000)).toBe(true)
    const after = await status('book')
    expect(after.ordersFile).toMatchObject({ taken: true, orders: 1, clientOrderIds: [file.orders[0]!.clientOrderId] })
    // Journaled under the file's id, for the file's quantity; filled at the open of the bar after it was placed.
    expect(await waitFor(() => journal('book').some((e) => e.type === 'fill' && e.clientOrderId === file.orders[0]!.clientOrderId), 10_000)).toBe(true)
    const events = journal('book')
    const intent = events.find((e) => e.type === 'intent' && e.clientOrderId === file.orders[0]!.clientOrderId)!
    expect(intent).toMatchObject({ seq: file.firstSeq, symbol: 'SPX', side: 'buy', qty: file.orders[0]!.qty })
    const fill = events.find((e) => e.type === 'fill' && e.clientOrderId === file.orders[0]!.clientOrderId)!
    const bars = await loadBars(home, { symbol: 'SPX', timeframe: '1d' })
    // Placed at the close of the last bar stepped (the journal's time in a replay): filled at the open of the next bar there is.
    const next = Array.from(bars.time).findIndex((t) => t >= (intent.time as number))
    expect(fill.qty).toBe(file.orders[0]!.qty)
    expect(fill.price).toBe(bars.open[next])
    expect(await waitFor(() => JSON.parse(readFileSync(join(home, 'deployments', 'book', 'status.json'), 'utf8')).positions.some((p: { symbol: string; qty: number }) => p.symbol === 'SPX' && p.qty === file.orders[0]!.qty), 10_000)).toBe(true)

    // The same file again: its first sequence number is used, so its ids would be sent twice.
    const again = await cli(['deploy', 'submit', 'book', '--orders', orders])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/^mtflow: orders file .* (has sent orders since|sequence)[^\n]*\n$/)
    // Made for "book": another deployment refuses it.
    const elsewhere = await cli(['deploy', 'submit', 'other', '--orders', orders])
    expect(elsewhere.code).toBe(2)
    expect(elsewhere.stderr).toMatch(/^mtflow: orders file .* was made for deployment id "?book#[0-9a-f]{16}"?, not "?other#[0-9a-f]{16}"?\n$/)
    expect(journal('other').some((e) => e.type === 'intent')).toBe(false)

    // A paused deployment takes no orders file: refused there, with an alert, nothing journaled.
    json(await cli(['deploy', 'pause', 'other', '--json']))
    const forOther = join(home, 'orders-other.json')
    json(await cli(['portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1d', '--positions', 'other', '--out', forOther, '--json']))
    const pausedSubmit = await cli(['deploy', 'submit', 'other', '--orders', forOther, '--json'])
    expect(pausedSubmit.code).toBe(1)
    expect(JSON.parse(pausedSubmit.stdout).outcome).toMatchObject({ taken: false, orders: 0 })
    const refused = (await status('other')).ordersFile
    expect(refused).toMatchObject({ taken: false, orders: 0 })
    expect(refused.reason).toMatch(/^the deployment is paused/)
    expect(readFileSync(join(home, 'deployments', 'other', 'alerts.jsonl'), 'utf8')).toMatch(/orders file [0-9a-f]{64}\.json refused: the deployment is paused/)
    expect(journal('other').some((e) => e.type === 'intent')).toBe(false)

    // A file made before a fill: the position it assumed is no longer the book's, so it is refused whole.
    json(await cli(['deploy', 'resume', 'other', '--json']))
    const stale = join(home, 'orders-stale.json')
    json(await cli(['portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1d', '--positions', 'other', '--out', stale, '--json']))
    const staleFile = JSON.parse(readFileSync(stale, 'utf8')) as { assumed: Record<string, number> }
    expect(staleFile.assumed).toEqual({ SPX: 0 })
    staleFile.assumed.SPX = 3
    // Saved by an editor that writes a byte-order mark: read as the same orders, named by the sha256 of its bytes
    // (what `sha256sum` says) and copied byte for byte.
    writeFileSync(stale, `\uFEFF${JSON.stringify(staleFile)}`)
    const refusedStale = await cli(['deploy', 'submit', 'other', '--orders', stale, '--json'])
    expect(refusedStale.code).toBe(1)
    expect(JSON.parse(refusedStale.stdout).outcome.reason).toBe('it was made for a position of 3 SPX; the deployment holds 0 now (make it again)')
    const staleHash = createHash('sha256').update(readFileSync(stale)).digest('hex')
    expect(JSON.parse(refusedStale.stdout).sha256).toBe(staleHash)
    expect(readFileSync(join(home, 'deployments', 'other', 'orders', `${staleHash}.json`)).equals(readFileSync(stale))).toBe(true)

    for (const name of ['book', 'other']) json(await cli(['deploy', 'stop', name, '--flatten', '--json']))
    expect(await waitFor(() => !pidAlive(pid) && !pidAlive(started[1]!), 20_000)).toBe(true)
    expect(other).toBeGreaterThan(0)
  }, 120_000)

  it('an order a guard refuses gives up its sequence number (the next keeps its own id); a pause sent with a file loses neither', async () => {
    json(await cli(['data', 'synthetic', '--kind', 'pair', '--pairs', '1', '--bars', '3000', '--timeframe', '1h', '--json']))
    const d = json(await cli(['deploy', 'hold@1', '--symbols', 'SYN-Y1,SYN-X1', '--timeframe', '1h', '--paper', '--exchange', 'binance', '--start', '2024-01-10T00:00:00Z', '--pace-ms', '40', '--max-orders-per-minute', '1', '--name', 'capped', '--detach', '--json']))
    started.push(d.pid)
    expect(await waitFor(() => existsSync(join(home, 'deployments', 'capped', 'status.json')) && JSON.parse(readFileSync(join(home, 'deployments', 'capped', 'status.json'), 'utf8')).bars > 3, 30_000)).toBe(true)
    const signals = join(home, 'pair-signals.jsonl')
    writeFileSync(signals, `${JSON.stringify({ time: '2024-01-02T00:00:00.000Z', target: 'SYN-Y1~SYN-X1', model: 'm@1', probability: 0.9, side: 'long spread', confidence: 0.8 })}\n`)
    const caps = join(home, 'caps-pair.json')
    writeFileSync(caps, JSON.stringify({ capital: 100000, maxWeightPerAsset: 0.5 }))
    const orders = join(home, 'orders-pair.json')
    json(await cli(['portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1h', '--hedge-window', '60', '--positions', 'capped', '--out', orders, '--json']))
    const file = JSON.parse(readFileSync(orders, 'utf8')) as { firstSeq: number; orders: { clientOrderId: string; symbol: string; qty: number }[] }
    expect(file.orders).toHaveLength(2)
    // At most one order a minute: the first leg goes out, the guard refuses the second (placed at the same bar).
    const r = await cli(['deploy', 'submit', 'capped', '--orders', orders, '--json'])
    expect(r.code).toBe(1)
    const outcome = JSON.parse(r.stdout).outcome as { taken: boolean; clientOrderIds: string[]; refused?: { clientOrderId: string; reason: string }[] }
    expect(outcome.clientOrderIds).toEqual([file.orders[0]!.clientOrderId])
    expect(outcome.refused!.map((x) => x.clientOrderId)).toEqual([file.orders[1]!.clientOrderId])
    const events = journal('capped')
    for (const id of outcome.clientOrderIds) {
      const intent = events.find((e) => e.type === 'intent' && e.clientOrderId === id)!
      const k = file.orders.findIndex((o) => o.clientOrderId === id)
      expect(k).toBeGreaterThanOrEqual(0)
      expect([intent.symbol, intent.seq]).toEqual([file.orders[k]!.symbol, file.firstSeq + k])
    }
    for (const x of outcome.refused ?? []) {
      const k = file.orders.findIndex((o) => o.clientOrderId === x.clientOrderId)
      expect(events.some((e) => e.type === 'skip' && e.seq === file.firstSeq + k)).toBe(true)
      expect(events.some((e) => e.clientOrderId === x.clientOrderId)).toBe(false)
    }
    expect(outcome.clientOrderIds.length + (outcome.refused?.length ?? 0)).toBe(2)

    // A pause and an orders file sent at the same moment: both are taken, in the order they were queued.
    const again = join(home, 'orders-pair-2.json')
    json(await cli(['portfolio', 'targets', '--signals', signals, '--caps', caps, '--timeframe', '1h', '--hedge-window', '60', '--positions', 'capped', '--out', again, '--json']))
    const [submitted, paused] = await Promise.all([cli(['deploy', 'submit', 'capped', '--orders', again, '--json']), cli(['deploy', 'pause', 'capped', '--json'])])
    expect(paused.code, paused.stderr).toBe(0)
    expect(await waitFor(() => JSON.parse(readFileSync(join(home, 'deployments', 'capped', 'status.json'), 'utf8')).state === 'paused', 10_000)).toBe(true)
    const seen = (await status('capped')).ordersFile as { file: string }
    expect(seen.file).toBe(`${JSON.parse(submitted.stdout).sha256}.json`)
    // A hostile request written straight into the control folder: a file outside the orders folder is not read.
    json(await cli(['deploy', 'resume', 'capped', '--json']))
    const control = join(home, 'deployments', 'capped', 'control')
    const next = Math.max(...readdirSync(control).map((f) => Number(f.slice(0, 12)))) + 1
    const outside = join(home, 'secret.json')
    writeFileSync(outside, '{}')
    writeFileSync(join(control, `${String(next).padStart(12, '0')}.json`), JSON.stringify({ seq: next, command: 'orders', at: new Date().toISOString(), file: '../../../secret.json', sha256: 'a'.repeat(64) }))
    expect(await waitFor(() => JSON.parse(readFileSync(join(home, 'deployments', 'capped', 'status.json'), 'utf8')).ordersFile?.file === '../../../secret.json', 10_000)).toBe(true)
    expect((await status('capped')).ordersFile).toMatchObject({ taken: false, orders: 0, reason: 'the request does not name a file of the orders folder by its sha256' })
    json(await cli(['deploy', 'stop', 'capped', '--json']))
  }, 120_000)
})
