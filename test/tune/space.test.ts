// Space definitions: stepped ranges moved onto their last step, membership, the transformed bounds
// samplers share, the internal form of categories, and lib/tune's names not clashing with lib's.

import { describe, expect, it } from 'vitest'
import { checkDistribution, choice, contains, defineSpace, floatRange, intRange, isActive, transformBounds, untransform } from '../../lib/tune/index.js'
import * as tune from '../../lib/tune/index.js'

describe('distributions', () => {
  it('moves a stepped range’s high end down onto its last step (as Optuna)', () => {
    expect(checkDistribution('n', intRange(0, 10, { step: 3 }))).toEqual({ kind: 'int', low: 0, high: 9, step: 3, log: false })
    expect(checkDistribution('x', floatRange(0, 1, { step: 0.3 }))).toEqual({ kind: 'float', low: 0, high: 0.9, step: 0.3, log: false })
    // 10 steps of 0.1 make 1.0000000000000002 in binary: 1 after rounding, so the range keeps its end.
    expect(checkDistribution('x', floatRange(0, 1, { step: 0.1 }))).toEqual(floatRange(0, 1, { step: 0.1 }))
  })

  it('knows its members', () => {
    expect(contains(intRange(2, 10, { step: 2 }), 6)).toBe(true)
    expect(contains(intRange(2, 10, { step: 2 }), 7)).toBe(false)
    expect(contains(floatRange(0, 1, { step: 0.1 }), 0.7000000000000001)).toBe(true)
    expect(contains(floatRange(0, 1, { step: 0.25 }), 0.3)).toBe(false)
    expect(contains(floatRange(0, 1), 1)).toBe(true)
    expect(contains(floatRange(0, 1), 1.0001)).toBe(false)
    expect(contains(choice([true, 'x', 3]), true)).toBe(true)
    expect(contains(choice([true, 'x', 3]), '3')).toBe(false)
  })

  it('transformed bounds: half a step beyond stepped ends, logs for log ranges', () => {
    expect(transformBounds(intRange(1, 5))).toEqual([0.5, 5.5])
    expect(transformBounds(intRange(0, 10, { step: 5 }))).toEqual([-2.5, 12.5])
    expect(transformBounds(intRange(1, 100, { log: true }))).toEqual([Math.log(0.5), Math.log(100.5)])
    expect(transformBounds(floatRange(1e-3, 1, { log: true }))).toEqual([Math.log(1e-3), 0])
    expect(untransform(intRange(0, 10, { step: 5 }), 7.4)).toBe(5)
    expect(untransform(intRange(0, 10, { step: 5 }), 12.4)).toBe(10)
    expect(untransform(intRange(1, 100, { log: true }), Math.log(100.4))).toBe(100)
    expect(untransform(floatRange(0, 1, { step: 0.1 }), 0.26)).toBe(0.3)
  })

  it('a condition holds when every parent has one of its values', () => {
    const space = defineSpace({ a: choice(['x', 'y']), b: intRange(1, 3), c: floatRange(0, 1, { when: { a: 'x', b: [2, 3] } }) })
    expect(isActive(space.params.c!, { a: 'x', b: 2 })).toBe(true)
    expect(isActive(space.params.c!, { a: 'x', b: 1 })).toBe(false)
    expect(isActive(space.params.c!, { a: 'y', b: 3 })).toBe(false)
    expect(isActive(space.params.c!, { b: 3 })).toBe(false)
    expect(space.names).toEqual(['a', 'b', 'c'])
  })

  it('refuses an empty space and unknown kinds', () => {
    expect(() => defineSpace({})).toThrow(/a space needs at least one parameter/)
    expect(() => defineSpace({ a: { kind: 'normal' } as never })).toThrow(/param a: unknown distribution kind "normal"; expected int, float or categorical/)
    expect(() => defineSpace({ a: choice([1, 1]) })).toThrow(/param a: choices must be distinct/)
    expect(() => defineSpace({ a: choice([null as never]) })).toThrow(/param a: choices must be numbers, strings or booleans \(received null\)/)
  })
})

describe('the public names', () => {
  it('reach lib/index.ts unambiguously (a name two folders export would be dropped from it)', async () => {
    const lib = (await import('../../lib/index.js')) as Record<string, unknown>
    const own = tune as Record<string, unknown>
    expect(Object.keys(own).filter((name) => lib[name] !== own[name])).toEqual([])
  })
})
