// ml-cart ships no types: the part the tests use (the small-data reference for lib/ml/tree.ts).
declare module 'ml-cart' {
  export class DecisionTreeClassifier {
    constructor(options?: { gainFunction?: string; maxDepth?: number; minNumSamples?: number })
    train(X: number[][], y: number[]): void
    predict(X: number[][]): number[]
  }
  export class DecisionTreeRegression {
    constructor(options?: { maxDepth?: number; minNumSamples?: number })
    train(X: number[][], y: number[]): void
    predict(X: number[][]): number[]
  }
}
