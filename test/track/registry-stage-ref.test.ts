// Model references by stage (MLflow's models:/NAME/Staging): NAME@Staging is the newest active version in
// that stage; an alias never shadows a stage (aliases are lowercase, stages capitalised); a stage with no
// version is one line naming the stages there are.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Registry } from '../../lib/track/index.js'

describe('stage references', () => {
  it('resolve to the newest active version in the stage', () => {
    const reg = new Registry(mkdtempSync(join(tmpdir(), 'mtflow-stage-ref-')))
    for (const k of [1, 2, 3]) reg.register('models', 'm', { files: { 'model.json': `{"v":${k}}` } })
    reg.transitionStage('m', 1, 'Staging')
    reg.transitionStage('m', 2, 'Staging')
    reg.transitionStage('m', 3, 'Production')
    expect(reg.resolve('models', 'm@Staging').version).toBe(2)
    expect(reg.resolve('models', 'm@Production').version).toBe(3)
    expect(() => reg.resolve('models', 'm@None')).toThrow('model m has no active version in stage None')
    reg.retire('models', 'm', 2, 'bad')
    expect(reg.resolve('models', 'm@Staging').version).toBe(1)
    expect(() => reg.resolve('models', 'm@Archived')).toThrow('model m has no active version in stage Archived (stages: v1 Staging, v2 Staging, v3 Production)')
    expect(() => reg.resolve('models', 'm@staging')).toThrow('model m has no alias "staging"')
  })
})
