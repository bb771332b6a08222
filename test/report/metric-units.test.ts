// Metrics with units: each unit on hand-worked values (0.1234 → "12.34 %", 1234 trades → "1,234", an equity
// of 10980 → "10,980.00"), keys recognised by their last dotted part, unknown keys as plain numbers.

import { describe, expect, it } from 'vitest'
import { fmtMetric, fmtMetricDelta, fmtSpan, metricDirection, metricUnit } from '../../lib/report/index.js'

describe('metric units', () => {
  it('fractions as percentages with two decimals', () => {
    expect(fmtMetric('totalReturn', 0.1234)).toBe('12.34 %')
    expect(fmtMetric('maxDrawdown', -0.2)).toBe('-20.00 %')
    expect(fmtMetric('cagr', 0.05)).toBe('5.00 %')
    expect(fmtMetric('volatility', 1.5)).toBe('150.00 %')
    expect(fmtMetric('winRate', 0.5)).toBe('50.00 %')
    // 123.456789 as a fraction: 12,345.68 %, grouped.
    expect(fmtMetric('totalReturn', 123.456789)).toBe('12,345.68 %')
    // A rounding to zero of a negative fraction is not "-0.00 %".
    expect(fmtMetric('totalReturn', -0.00001)).toBe('0.00 %')
  })

  it('ratios with two decimals, counts grouped, money with cents', () => {
    expect(fmtMetric('sharpe', 1.23456)).toBe('1.23')
    expect(fmtMetric('sortino', -0.255)).toBe('-0.26')
    expect(fmtMetric('profitFactor', 2)).toBe('2.00')
    expect(fmtMetric('trades', 1234)).toBe('1,234')
    expect(fmtMetric('trades', 7)).toBe('7')
    expect(fmtMetric('endEquity', 10980)).toBe('10,980.00')
    expect(fmtMetric('fees', 1234567.891)).toBe('1,234,567.89')
    expect(fmtMetric('maxDrawdownDuration', 42)).toBe('42 bars')
  })

  it('durations readable', () => {
    expect(fmtSpan(850)).toBe('850 ms')
    expect(fmtSpan(12_500)).toBe('12.5 s')
    expect(fmtSpan(4 * 60_000 + 5_000)).toBe('4 min 5 s')
    expect(fmtSpan(3 * 3_600_000 + 20 * 60_000)).toBe('3 h 20 min')
    // 2 days 3 hours = 51 h = 183,600,000 ms.
    expect(fmtMetric('holdMs', 183_600_000)).toBe('2 d 3 h')
    expect(fmtSpan(3 * 86_400_000)).toBe('3 d')
    expect(fmtSpan(-90 * 60_000)).toBe('-1 h 30 min')
  })

  it('knows a key by its last dotted part; unknown keys are plain numbers (4 significant digits, grouped)', () => {
    expect(metricUnit('test.sharpe')).toBe('ratio')
    expect(metricUnit('fold_3.totalReturn')).toBe('percent')
    expect(metricUnit('loss')).toBe('number')
    expect(fmtMetric('loss', 0.123456)).toBe('0.1235')
    expect(fmtMetric('desk_score', 12345.678)).toBe('12,345.68')
    expect(fmtMetric('desk_score', 1234567)).toBe('1,234,567')
  })

  it("a prefixed name of a known metric has its unit: the gated backtests' ungated_totalReturn is a fraction as totalReturn is", () => {
    // lib/pipeline/gated.ts logs ungated_trades, ungated_totalReturn, ungated_cagr, ungated_sharpe, ungated_maxDrawdown,
    // ungated_winRate, ungated_exposure beside the gated run's own metrics. Hand-worked: 0.1234 → 12.34 %.
    expect(fmtMetric('ungated_totalReturn', 0.1234)).toBe('12.34 %')
    expect(fmtMetric('ungated_maxDrawdown', 0.2)).toBe('20.00 %')
    expect(fmtMetric('ungated_winRate', 0.5)).toBe('50.00 %')
    expect(fmtMetric('ungated_sharpe', 1.23456)).toBe('1.23')
    expect(fmtMetric('ungated_trades', 1234)).toBe('1,234')
    // 0.15 − 0.1234 = 2.66 percentage points.
    expect(fmtMetricDelta('ungated_totalReturn', 0.1234, 0.15)).toBe('+2.66 pp')
    expect(metricDirection('ungated_totalReturn')).toBe('higher')
    // Unknown tails stay what they were.
    expect(metricUnit('desk_score')).toBe('number')
    expect(metricUnit('elapsed_ms')).toBe('duration')
    expect(metricDirection('val_loss')).toBe('lower')
  })

  it('NaN, infinities and missing values', () => {
    expect(fmtMetric('profitFactor', Infinity)).toBe('∞')
    expect(fmtMetric('sharpe', NaN)).toBe('NaN')
    expect(fmtMetric('totalReturn', -Infinity)).toBe('-∞')
    expect(fmtMetric('sharpe', undefined)).toBe('')
  })
})

describe('metric directions and differences', () => {
  it('knows which way is better', () => {
    expect(metricDirection('sharpe')).toBe('higher')
    expect(metricDirection('maxDrawdown')).toBe('lower')
    expect(metricDirection('val_loss')).toBe('lower')
    expect(metricDirection('trades')).toBeUndefined()
    // One rule for the compare page and the sweep page: costs and errors lower, avgLoss (a negative mean) higher.
    expect(metricDirection('fees')).toBe('lower')
    expect(metricDirection('test.fees')).toBe('lower')
    expect(metricDirection('errorCount')).toBe('lower')
    expect(metricDirection('val_rmse')).toBe('lower')
    expect(metricDirection('avgLoss')).toBe('higher')
  })

  it('differences in the unit, signed: percentage points for fractions', () => {
    // 0.15 − 0.1234 = 0.0266 → 2.66 percentage points.
    expect(fmtMetricDelta('totalReturn', 0.1234, 0.15)).toBe('+2.66 pp')
    expect(fmtMetricDelta('sharpe', 1.5, 1.15)).toBe('-0.35')
    expect(fmtMetricDelta('endEquity', 10_000, 11_234)).toBe('+1,234.00')
    expect(fmtMetricDelta('trades', 7, 7)).toBe('±0')
    expect(fmtMetricDelta('profitFactor', 2, Infinity)).toBe('')
  })
})
