// Model metrics over typed or plain arrays: classification (accuracy, precision, recall, F1, ROC AUC,
// PR AUC as average precision, log loss), regression (RMSE, MAE) and directional accuracy for return
// forecasts. Binary labels are 0/1; scores are probabilities of class 1. Definitions follow
// scikit-learn's (roc_auc_score with ties averaged, average_precision_score, log_loss with clipping).

import { ConfigError } from '../core/index.js'

type Values = ArrayLike<number>

/** Share of predictions equal to the label. */
export function accuracy(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred, 'accuracy')
  let hit = 0
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++
  return hit / yTrue.length
}

export interface BinaryCounts {
  tp: number
  fp: number
  tn: number
  fn: number
}

/** The confusion counts of 0/1 predictions against 0/1 labels. */
export function confusion(yTrue: Values, yPred: Values): BinaryCounts {
  checkPair(yTrue, yPred, 'confusion')
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 }
  for (let i = 0; i < yTrue.length; i++) {
    const t = binary(yTrue[i]!, 'label', i)
    const p = binary(yPred[i]!, 'prediction', i)
    if (p === 1) t === 1 ? c.tp++ : c.fp++
    else t === 1 ? c.fn++ : c.tn++
  }
  return c
}

/** tp / (tp + fp); 0 when nothing is predicted positive (scikit-learn's zero_division=0). */
export function precision(yTrue: Values, yPred: Values): number {
  const c = confusion(yTrue, yPred)
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp)
}

/** tp / (tp + fn); 0 when there are no positives. */
export function recall(yTrue: Values, yPred: Values): number {
  const c = confusion(yTrue, yPred)
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn)
}

/** The harmonic mean of precision and recall: 2tp / (2tp + fp + fn). */
export function f1(yTrue: Values, yPred: Values): number {
  const c = confusion(yTrue, yPred)
  const d = 2 * c.tp + c.fp + c.fn
  return d === 0 ? 0 : (2 * c.tp) / d
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting one half (the Mann–Whitney statistic over average ranks).
 */
export function rocAuc(yTrue: Values, score: Values): number {
  checkPair(yTrue, score, 'rocAuc')
  const n = yTrue.length
  const order = sortedBy(score)
  const ranks = new Float64Array(n)
  for (let i = 0; i < n; ) {
    let j = i
    while (j + 1 < n && score[order[j + 1]!] === score[order[i]!]) j++
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) ranks[order[k]!] = rank
    i = j + 1
  }
  let pos = 0
  let rankSum = 0
  for (let i = 0; i < n; i++) {
    if (binary(yTrue[i]!, 'label', i) === 1) {
      pos++
      rankSum += ranks[i]!
    }
  }
  const neg = n - pos
  if (pos === 0 || neg === 0) throw new ConfigError('rocAuc needs both classes among the labels')
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg)
}

/**
 * Area under the precision–recall curve as average precision: Σ (Rₖ − Rₖ₋₁) Pₖ over the distinct
 * score thresholds, highest first (scikit-learn's average_precision_score).
 */
export function prAuc(yTrue: Values, score: Values): number {
  checkPair(yTrue, score, 'prAuc')
  const n = yTrue.length
  const order = sortedBy(score).reverse()
  let positives = 0
  for (let i = 0; i < n; i++) positives += binary(yTrue[i]!, 'label', i)
  if (positives === 0) throw new ConfigError('prAuc needs at least one positive label')
  let tp = 0
  let seen = 0
  let lastRecall = 0
  let ap = 0
  for (let i = 0; i < n; ) {
    let j = i
    while (j + 1 < n && score[order[j + 1]!] === score[order[i]!]) j++
    for (let k = i; k <= j; k++) tp += yTrue[order[k]!]!
    seen = j + 1
    const r = tp / positives
    ap += (r - lastRecall) * (tp / seen)
    lastRecall = r
    i = j + 1
  }
  return ap
}

/** Mean negative log-likelihood of 0/1 labels under probabilities clipped to [eps, 1 − eps]. */
export function logLoss(yTrue: Values, prob: Values, eps = 1e-15): number {
  checkPair(yTrue, prob, 'logLoss')
  let sum = 0
  for (let i = 0; i < yTrue.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, prob[i]!))
    if (!(prob[i]! >= 0 && prob[i]! <= 1)) throw new ConfigError(`logLoss: probability ${i} must be in [0, 1] (received ${prob[i]})`)
    sum -= binary(yTrue[i]!, 'label', i) === 1 ? Math.log(p) : Math.log(1 - p)
  }
  return sum / yTrue.length
}

export function rmse(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred, 'rmse')
  let s = 0
  for (let i = 0; i < yTrue.length; i++) s += (yTrue[i]! - yPred[i]!) ** 2
  return Math.sqrt(s / yTrue.length)
}

export function mae(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred, 'mae')
  let s = 0
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i]! - yPred[i]!)
  return s / yTrue.length
}

/**
 * Share of forecasts whose sign matches the realised value's, over the rows where both are non-zero
 * (a zero forecast takes no position; a zero return has no direction).
 */
export function directionalAccuracy(yTrue: Values, yPred: Values): number {
  checkPair(yTrue, yPred, 'directionalAccuracy')
  let counted = 0
  let hit = 0
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 0 || yPred[i] === 0) continue
    counted++
    if (Math.sign(yTrue[i]!) === Math.sign(yPred[i]!)) hit++
  }
  return counted === 0 ? NaN : hit / counted
}

function sortedBy(score: Values): number[] {
  const order = Array.from({ length: score.length }, (_, i) => i)
  for (let i = 0; i < score.length; i++) if (Number.isNaN(score[i]!)) throw new ConfigError(`score ${i} is NaN`)
  return order.sort((a, b) => score[a]! - score[b]!)
}

function binary(v: number, what: string, i: number): 0 | 1 {
  if (v !== 0 && v !== 1) throw new ConfigError(`${what} ${i} must be 0 or 1 (received ${v})`)
  return v
}

function checkPair(a: Values, b: Values, fn: string): void {
  if (a.length !== b.length) throw new ConfigError(`${fn}: ${a.length} labels but ${b.length} predictions`)
  if (a.length === 0) throw new ConfigError(`${fn}: no rows`)
}
