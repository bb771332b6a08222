// The order state machine: every transition the table allows works, every other one throws.

import { describe, expect, it } from 'vitest'
import { Order, OrderStateError, TRANSITIONS } from '../../lib/backtest/index.js'
import type { OrderStatus } from '../../lib/strategy/index.js'

const STATUSES: OrderStatus[] = ['NEW', 'SUBMITTED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED']

/** An order brought to `status` along allowed transitions. */
function orderIn(status: OrderStatus): Order {
  const o = new Order(1, 's', 'A', 'buy', 'market', 'entry', 10, NaN, NaN, 0, '', 0)
  const path: Record<OrderStatus, OrderStatus[]> = {
    NEW: [],
    SUBMITTED: ['SUBMITTED'],
    PARTIALLY_FILLED: ['SUBMITTED', 'PARTIALLY_FILLED'],
    FILLED: ['SUBMITTED', 'FILLED'],
    CANCELLED: ['SUBMITTED', 'CANCELLED'],
    REJECTED: ['REJECTED'],
    EXPIRED: ['SUBMITTED', 'EXPIRED'],
  }
  for (const s of path[status]) o.transition(s, 0)
  return o
}

describe('order state machine', () => {
  it('matches DESIGN.md: NEW → SUBMITTED → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED | EXPIRED', () => {
    expect(TRANSITIONS.NEW).toEqual(['SUBMITTED', 'REJECTED'])
    for (const terminal of ['FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED'] as const) expect(TRANSITIONS[terminal]).toEqual([])
  })

  for (const from of STATUSES) {
    for (const to of STATUSES) {
      const allowed = TRANSITIONS[from].includes(to)
      it(`${from} → ${to} ${allowed ? 'is allowed' : 'throws'}`, () => {
        const o = orderIn(from)
        if (allowed) {
          o.transition(to, 5)
          expect(o.status).toBe(to)
        } else {
          expect(() => o.transition(to, 5)).toThrow(OrderStateError)
          expect(() => o.transition(to, 5)).toThrow(`order 1 (A buy market): illegal transition ${from} → ${to}`)
        }
      })
    }
  }

  it('fills average their prices and complete the order', () => {
    const o = orderIn('SUBMITTED')
    o.fill(4, 100, 0.4, 1)
    expect(o.status).toBe('PARTIALLY_FILLED')
    o.fill(6, 110, 0.66, 2)
    expect(o.status).toBe('FILLED')
    expect(o.avgPrice).toBeCloseTo((4 * 100 + 6 * 110) / 10, 12)
    expect(o.fees).toBeCloseTo(1.06, 12)
    expect(o.doneAt).toBe(2)
    expect(() => o.fill(1, 100, 0, 3)).toThrow(OrderStateError)
  })
})
