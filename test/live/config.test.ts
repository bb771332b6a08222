// The deployment config (issue 19, points 5 and bad input): a full config comes back typed with its keys in
// one order and nothing defaulted that the backtest defaults; the few defaults of its own (weight 1,
// staleAfterBars 2, sandbox false, params {}) are filled; every bad field is one ConfigError line naming
// the field, what was expected and what was received.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../lib/core/index.js'
import { validateDeploymentConfig, validateDeploymentDraft } from '../../lib/live/config.js'

const SHA = 'ab'.repeat(32)
const base = () => ({
  name: 'sma-btc',
  strategy: { name: 'sma-cross', version: 3, sha256: SHA },
  symbols: ['BTC/USDT'],
  timeframe: '1h',
  mode: 'paper',
  venue: { exchange: 'binance' },
  feed: { kind: 'replay' },
})

describe('validateDeploymentConfig', () => {
  it('returns the minimal config with its own defaults only; backtest options stay absent', () => {
    const config = validateDeploymentConfig(base())
    expect(config).toEqual({
      name: 'sma-btc',
      strategy: { name: 'sma-cross', version: 3, sha256: SHA },
      params: {},
      symbols: ['BTC/USDT'],
      timeframe: '1h',
      mode: 'paper',
      venue: { exchange: 'binance', sandbox: false },
      weight: 1,
      guards: { staleAfterBars: 2 },
      feed: { kind: 'replay' },
    })
    // Exactly these keys: no cash, sizing, fills, limits or lotSize copied from the backtest's defaults.
    expect(Object.keys(config)).toEqual(['name', 'strategy', 'params', 'symbols', 'timeframe', 'mode', 'venue', 'weight', 'guards', 'feed'])
  })

  it('keeps every given field, in one key order, params sorted by name', () => {
    const raw = {
      feed: { end: '2024-02-01', kind: 'replay', start: 1_704_067_200_000 },
      guards: { staleAfterBars: 3, maxOrdersPerMinute: 10, maxPositionNotional: 5000, maxDailyLoss: 250 },
      weight: 0.25,
      lotSize: 0.001,
      limits: { maxGrossExposure: 1, allowShort: false },
      fills: { takerRate: 0.0005, slippageBps: 5 },
      sizing: { percent: 0.5 },
      cash: 20_000,
      venue: { apiUrl: 'http://127.0.0.1:8080', sandbox: true, exchange: 'okx' },
      mode: 'paper',
      timeframe: '15m',
      symbols: ['ETH/USDT', 'BTC/USDT'],
      params: { slow: 30, fast: 10, kind: 'ema' },
      strategy: { sha256: SHA, version: 1, name: 'sma-cross' },
      name: 'A.b_c-1',
    }
    const config = validateDeploymentConfig(raw)
    expect(JSON.stringify(config)).toBe(
      JSON.stringify({
        name: 'A.b_c-1',
        strategy: { name: 'sma-cross', version: 1, sha256: SHA },
        params: { fast: 10, kind: 'ema', slow: 30 },
        symbols: ['ETH/USDT', 'BTC/USDT'],
        timeframe: '15m',
        mode: 'paper',
        venue: { exchange: 'okx', sandbox: true, apiUrl: 'http://127.0.0.1:8080' },
        cash: 20_000,
        sizing: { percent: 0.5 },
        fills: { takerRate: 0.0005, slippageBps: 5 },
        limits: { maxGrossExposure: 1, allowShort: false },
        lotSize: 0.001,
        weight: 0.25,
        guards: { staleAfterBars: 3, maxDailyLoss: 250, maxPositionNotional: 5000, maxOrdersPerMinute: 10 },
        feed: { kind: 'replay', start: 1_704_067_200_000, end: '2024-02-01' },
      }),
    )
    // The input is not changed.
    expect(raw.guards.staleAfterBars).toBe(3)
    expect(Object.keys(raw)[0]).toBe('feed')
  })

  it('accepts weight 1 and a live deployment on a ws feed', () => {
    expect(validateDeploymentConfig({ ...base(), mode: 'live', weight: 1, feed: { kind: 'ws' } }).weight).toBe(1)
  })

  const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['not an object', () => {}, /^deployment config: the config must be an object \(received \[1\]\)$/],
    ['unknown field', (c) => (c.gaurds = {}), /the config has no field "gaurds" \(fields: name, strategy/],
    ['name with a slash', (c) => (c.name = 'a/b'), /name must be 1–64 letters, digits, "\.", "_" or "-", starting with a letter or digit \(received "a\/b"\)/],
    ['name of 65 characters', (c) => (c.name = 'a'.repeat(65)), /name must be 1–64/],
    ['name starting with a dot', (c) => (c.name = '.x'), /name must be/],
    ['strategy as a ref string', (c) => (c.strategy = 'sma-cross@3'), /strategy must be an object \(received "sma-cross@3"\)/],
    ['strategy version 0', (c) => ((c.strategy as { version: number }).version = 0), /strategy\.version must be an integer ≥ 1 \(received 0\)/],
    ['strategy sha256 short', (c) => ((c.strategy as { sha256: string }).sha256 = 'abc'), /strategy\.sha256 must be 64 lowercase hex digits \(received "abc"\)/],
    ['params not finite', (c) => (c.params = { fast: Number.NaN }), /params\.fast must be a finite number or a string \(received NaN\)/],
    ['params an array', (c) => (c.params = [1]), /params must be an object \(received \[1\]\)/],
    ['no symbols', (c) => (c.symbols = []), /symbols must be a non-empty list of symbols \(received \[\]\)/],
    ['a bad symbol', (c) => (c.symbols = ['BTC/USDT', 'BTC USDT']), /symbols\[1\] must be a symbol such as BTC\/USDT .*\(received "BTC USDT"\)/],
    ['a repeated symbol', (c) => (c.symbols = ['A', 'B', 'A']), /symbols\[2\] must be a symbol not listed before \(received "A"\)/],
    ['timeframe', (c) => (c.timeframe = '1x'), /timeframe must be a number and a unit m, h, d or w \(e\.g\. 1m, 1h, 1d\) \(received "1x"\)/],
    ['timeframe not in its largest unit', (c) => (c.timeframe = '24h'), /timeframe must be written in its largest whole unit, as the lake keeps it \(give 1d\) \(received "24h"\)/],
    ['mode', (c) => (c.mode = 'real'), /mode must be "paper" or "live" \(received "real"\)/],
    ['exchange', (c) => (c.venue = { exchange: 'Binance!' }), /venue\.exchange must be a ccxt exchange id .*\(received "Binance!"\)/],
    ['sandbox', (c) => (c.venue = { exchange: 'binance', sandbox: 'yes' }), /venue\.sandbox must be true or false \(received "yes"\)/],
    ['apiUrl', (c) => (c.venue = { exchange: 'binance', apiUrl: 'ftp://x' }), /venue\.apiUrl must be an http\(s\) URL/],
    ['cash 0', (c) => (c.cash = 0), /cash must be an amount > 0 \(received 0\)/],
    ['two sizings', (c) => (c.sizing = { qty: 1, percent: 0.5 }), /sizing must be exactly one of qty, notional, percent, risk/],
    ['sizing negative', (c) => (c.sizing = { notional: -5 }), /sizing\.notional must be a number > 0 \(received -5\)/],
    ['sizing unknown', (c) => (c.sizing = { pct: 1 }), /sizing has no field "pct"/],
    ['fills misspelt (the backtest\'s own check)', (c) => (c.fills = { commission: 0.001 }), /^deployment config: fills: fills has no option "commission"/],
    ['fills negative slippage', (c) => (c.fills = { slippageBps: -1 }), /fills: slippageBps must be a number ≥ 0 \(received -1\)/],
    ['limits unknown', (c) => (c.limits = { maxLeverage: 2 }), /limits has no field "maxLeverage"/],
    ['limits 0', (c) => (c.limits = { maxPositionNotional: 0 }), /limits: maxPositionNotional must be a number > 0 \(received 0\)/],
    ['lotSize', (c) => (c.lotSize = -1), /lotSize must be a number ≥ 0 \(received -1\)/],
    ['weight 0', (c) => (c.weight = 0), /weight must be a number in \(0, 1\] \(received 0\)/],
    ['weight 1.5', (c) => (c.weight = 1.5), /weight must be a number in \(0, 1\] \(received 1\.5\)/],
    ['maxDailyLoss', (c) => (c.guards = { maxDailyLoss: -10 }), /guards\.maxDailyLoss must be an amount > 0 \(in the markets' quote currency\) \(received -10\)/],
    ['maxOrdersPerMinute', (c) => (c.guards = { maxOrdersPerMinute: 2.5 }), /guards\.maxOrdersPerMinute must be an integer ≥ 1 \(received 2\.5\)/],
    ['staleAfterBars', (c) => (c.guards = { staleAfterBars: 0 }), /guards\.staleAfterBars must be an integer ≥ 1 \(received 0\)/],
    ['feed kind', (c) => (c.feed = { kind: 'socket' }), /feed\.kind must be "replay", "poll" or "ws" \(received "socket"\)/],
    ['feed start bad', (c) => (c.feed = { kind: 'replay', start: 'yesterday' }), /feed\.start must be an epoch-ms number or an ISO date\/time .*\(received "yesterday"\)/],
    ['feed start after end', (c) => (c.feed = { kind: 'replay', start: '2024-02-02', end: '2024-02-01' }), /feed\.start "2024-02-02" is after feed\.end "2024-02-01"/],
    ['feed start on a poll feed', (c) => (c.feed = { kind: 'poll', start: '2024-01-01' }), /feed\.start applies to a replay feed only/],
    ['live on a replay', (c) => (c.mode = 'live'), /mode "live" needs a live feed \("poll" or "ws"\); a replay feed is for paper deployments/],
  ]
  for (const [label, mutate, message] of cases) {
    it(`refuses ${label} in one line`, () => {
      const raw = base() as Record<string, unknown>
      mutate(raw)
      const input = label === 'not an object' ? [1] : raw
      let error: unknown
      try {
        validateDeploymentConfig(input)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toMatch(message)
      expect((error as Error).message).toMatch(/^deployment config: /)
      expect((error as Error).message).not.toContain('\n')
    })
  }

  it('never quotes a user or password given in the apiUrl', () => {
    for (const apiUrl of ['http://alice:s3cr3t-pw@127.0.0.1:8080', 'gopher://alice:s3cr3t-pw@x']) {
      let message = ''
      try {
        validateDeploymentConfig({ ...base(), venue: { exchange: 'binance', apiUrl } })
      } catch (e) {
        message = (e as Error).message
      }
      expect(message).toMatch(/venue\.apiUrl must/)
      expect(message).not.toContain('s3cr3t-pw')
    }
  })

  it('venue.fsyncBeforeSend is true or false, kept only when true', () => {
    const venue = (v: unknown) => ({ ...base(), venue: { exchange: 'binance', fsyncBeforeSend: v } })
    expect(validateDeploymentConfig(venue(true)).venue).toEqual({ exchange: 'binance', sandbox: false, fsyncBeforeSend: true })
    expect(validateDeploymentConfig(venue(false)).venue).toEqual({ exchange: 'binance', sandbox: false })
    expect(() => validateDeploymentConfig(venue('yes'))).toThrow(/venue\.fsyncBeforeSend must be true or false \(received "yes"\)/)
  })

  it('names the config it checks', () => {
    expect(() => validateDeploymentConfig({ ...base(), weight: 2 }, 'deployment prod@4 (deployment.json)')).toThrow(/^deployment prod@4 \(deployment\.json\): weight must be/)
  })
})

describe('validateDeploymentDraft', () => {
  it('takes the strategy by reference, checked as a registry reference', () => {
    expect(validateDeploymentDraft({ ...base(), strategy: 'sma-cross@champion' }).strategy).toBe('sma-cross@champion')
    expect(() => validateDeploymentDraft({ ...base(), strategy: 'sma-cross@Bad!' })).toThrow(/strategy must be NAME, NAME@VERSION or NAME@ALIAS \(received "sma-cross@Bad!"\)/)
    expect(() => validateDeploymentDraft({ ...base(), strategy: 7 })).toThrow(/strategy must be a reference NAME@VERSION or NAME@ALIAS, or an object \(received 7\)/)
  })
})
