// Deployments in the registry (issue 19, point 5): kind `deployments`, versioned and audited like the
// other kinds, one deployment.json per version; registerDeployment resolves NAME@VERSION / NAME@ALIAS and
// pins the strategy version's number and content hash (computed here with node:crypto), so a deployment
// version always names one exact strategy version; loadDeployment refuses a pin the registry no longer has.

import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, DataError, NotFoundError } from '../../lib/core/index.js'
import { loadDeployment, registerDeployment, type DeploymentDraft } from '../../lib/live/config.js'
import { REGISTRY_KINDS, Registry } from '../../lib/track/index.js'

const homes: string[] = []
function workspace(): string {
  const home = mkdtempSync(join(tmpdir(), 'mtflow-registry-dep-'))
  homes.push(home)
  return home
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true })
})
const sha = (data: string) => createHash('sha256').update(data).digest('hex')

const draft = (strategy: DeploymentDraft['strategy'], extra: Partial<DeploymentDraft> = {}): DeploymentDraft => ({
  name: 'sma-btc',
  strategy,
  symbols: ['BTC/USDT'],
  timeframe: '1h',
  mode: 'paper',
  venue: { exchange: 'binance' },
  feed: { kind: 'replay', start: '2024-01-01' },
  ...extra,
})

/** Two versions of sma-cross: v1 one file; v2 a source and params.json (the hash of the sorted "name sha" lines). */
function withStrategies(reg: Registry): { v1: string; v2: string } {
  reg.register('strategies', 'sma-cross', { files: { 'source.ts': 'export const v = 1\n' }, params: { fast: 10, slow: 30 } })
  const params = '{"fast":5,"slow":20}\n'
  reg.register('strategies', 'sma-cross', { files: { 'source.ts': 'export const v = 2\n', 'params.json': params }, params: { fast: 5, slow: 20 } })
  reg.setAlias('strategies', 'sma-cross', 'champion', 1, 'best Sharpe')
  return { v1: sha('export const v = 1\n'), v2: sha(`params.json ${sha(params)}\nsource.ts ${sha('export const v = 2\n')}\n`) }
}

describe('registry kind deployments', () => {
  it('is a registry kind, holding exactly one deployment.json with a JSON object', () => {
    expect(REGISTRY_KINDS).toContain('deployments')
    const reg = new Registry(workspace())
    expect(() => reg.register('deployments', 'd', { files: { 'config.json': '{}' } })).toThrow(/a deployment version holds one file, deployment\.json \(received "config\.json"\)/)
    expect(() => reg.register('deployments', 'd', { files: { 'deployment.json': '{}', 'x.txt': '' } })).toThrow(/holds one file/)
    expect(() => reg.register('deployments', 'd', { files: { 'deployment.json': '[1]' } })).toThrow(/deployment\.json must hold a JSON object/)
    expect(() => reg.register('deployments', 'd', { files: { 'deployment.json': '{nope' } })).toThrow(/deployment\.json must hold a JSON object/)
    expect(reg.list('deployments')).toEqual([])
  })
})

describe('registerDeployment', () => {
  it('pins NAME@ALIAS to the version number and content hash, with the version\'s params under the draft\'s', () => {
    const reg = new Registry(workspace())
    const { v1 } = withStrategies(reg)
    const { config, version, created } = registerDeployment(reg, draft('sma-cross@champion', { params: { slow: 50 } }), { reason: 'first paper run' })
    expect(created).toBe(true)
    expect(config.strategy).toEqual({ name: 'sma-cross', version: 1, sha256: v1 })
    expect(config.params).toEqual({ fast: 10, slow: 50 })
    expect(version).toMatchObject({ kind: 'deployments', name: 'sma-btc', version: 1, status: 'active', files: [{ name: 'deployment.json' }] })
    // The stored file is the config, and the version's hash is that file's sha256.
    const text = readFileSync(reg.file('deployments', 'sma-btc@1'), 'utf8')
    expect(JSON.parse(text)).toEqual(config)
    expect(version.sha256).toBe(sha(text))
    expect(reg.auditLog('deployments', 'sma-btc')).toMatchObject([{ action: 'register', version: 1, reason: 'first paper run' }])
    // Moving the alias later does not move the deployment: it names version 1 for good.
    reg.setAlias('strategies', 'sma-cross', 'champion', 2)
    expect(loadDeployment(reg, 'sma-btc@1').config.strategy).toEqual({ name: 'sma-cross', version: 1, sha256: v1 })
  })

  it('pins NAME@VERSION and a bare NAME (the newest active version); a changed config is a new version, the same one is not', () => {
    const reg = new Registry(workspace())
    const { v2 } = withStrategies(reg)
    const a = registerDeployment(reg, draft('sma-cross@2'))
    expect(a.config.strategy).toEqual({ name: 'sma-cross', version: 2, sha256: v2 })
    expect(a.config.params).toEqual({ fast: 5, slow: 20 })
    const same = registerDeployment(reg, draft('sma-cross'))
    expect(same.created).toBe(false)
    expect(same.version.version).toBe(1)
    const b = registerDeployment(reg, draft('sma-cross@2', { weight: 0.5 }))
    expect(b.version.version).toBe(2)
    expect(reg.list('deployments').map((e) => `${e.name}:${e.versions.map((v) => v.version).join(',')}`)).toEqual(['sma-btc:1,2'])
    expect(loadDeployment(reg, 'sma-btc').config.weight).toBe(0.5)
    expect(loadDeployment(reg, 'sma-btc@1').config.weight).toBe(1)
  })

  it('accepts a pin that matches the registry and refuses one that does not', () => {
    const reg = new Registry(workspace())
    const { v1 } = withStrategies(reg)
    expect(registerDeployment(reg, draft({ name: 'sma-cross', version: 1, sha256: v1 })).config.strategy.version).toBe(1)
    expect(() => registerDeployment(reg, draft({ name: 'sma-cross', version: 1, sha256: 'f'.repeat(64) }))).toThrow(DataError)
    expect(() => registerDeployment(reg, draft({ name: 'sma-cross', version: 9, sha256: v1 }))).toThrow(/pinned strategy sma-cross@9 is not in the registry/)
  })

  it('refuses an unknown strategy, version or alias, a retired version and a bad draft, registering nothing', () => {
    const reg = new Registry(workspace())
    withStrategies(reg)
    expect(() => registerDeployment(reg, draft('nope@1'))).toThrow(NotFoundError)
    expect(() => registerDeployment(reg, draft('nope@1'))).toThrow(/no strategy named "nope"/)
    expect(() => registerDeployment(reg, draft('sma-cross@7'))).toThrow(/sma-cross has no version 7/)
    expect(() => registerDeployment(reg, draft('sma-cross@challenger'))).toThrow(/has no alias "challenger"/)
    reg.retire('strategies', 'sma-cross', 2)
    expect(() => registerDeployment(reg, draft('sma-cross@2'))).toThrow(/strategy sma-cross@2 is retired/)
    expect(() => registerDeployment(reg, draft('sma-cross@1', { weight: 1.2 }))).toThrow(ConfigError)
    expect(() => registerDeployment(reg, draft('sma-cross@1', { weight: 1.2 }))).toThrow(/^deployment config: weight must be a number in \(0, 1\]/)
    expect(reg.list('deployments')).toEqual([])
  })
})

describe('loadDeployment', () => {
  it('refuses a stored config whose pin names content the registry does not hold, or that is not a valid config', () => {
    const reg = new Registry(workspace())
    withStrategies(reg)
    const stored = { ...draft({ name: 'sma-cross', version: 1, sha256: '0'.repeat(64) }), params: {}, weight: 1, guards: { staleAfterBars: 2 }, venue: { exchange: 'binance', sandbox: false } }
    reg.register('deployments', 'forged', { files: { 'deployment.json': JSON.stringify(stored) } })
    expect(() => loadDeployment(reg, 'forged@1')).toThrow(/^deployment forged@1 \(deployment\.json\): strategy sma-cross@1 has content [0-9a-f]{12}…, the deployment pinned 000000000000…/)
    reg.register('deployments', 'bad', { files: { 'deployment.json': JSON.stringify({ ...stored, mode: 'yolo' }) } })
    expect(() => loadDeployment(reg, 'bad')).toThrow(/^deployment bad@1 \(deployment\.json\): mode must be "paper" or "live" \(received "yolo"\)/)
    expect(() => loadDeployment(reg, 'missing')).toThrow(/no deployment named "missing"/)
  })

  it('refuses a deployment.json changed on disk after registration (the registry\'s recorded sha256)', () => {
    const reg = new Registry(workspace())
    withStrategies(reg)
    registerDeployment(reg, draft('sma-cross@1'))
    const file = reg.file('deployments', 'sma-btc@1')
    writeFileSync(file, readFileSync(file, 'utf8').replace('"weight": 1', '"weight": 0.9'))
    expect(() => loadDeployment(reg, 'sma-btc@1')).toThrow(/sha256/)
  })
})
