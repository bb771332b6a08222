"""Optuna reference figures for test/bench/tune.ts (run with Debian's /usr/bin/python3 and python3-optuna).

Prints one JSON object: Optuna's version, TPE's best value after 100 trials on Branin and on the
10-d sphere for seeds 0..9, and the sampler overhead per trial (ms) at 1,000 trials of a trivial
objective (random and TPE, in-memory storage, median of `runs`). The workloads mirror the
TypeScript side exactly: same domains, same trial counts, same objective shapes.

usage: /usr/bin/python3 test/bench/optuna_ref.py [--runs N] [--seeds N]
"""

import argparse
import json
import math
import statistics
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x, y):
    a, b, c = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (y - b * x * x + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def best_branin(seed):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), n_trials=100)
    return study.best_value


def best_sphere(seed, dims=10):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda t: sum(t.suggest_float(f"x{i}", -5.12, 5.12) ** 2 for i in range(dims)), n_trials=100)
    return study.best_value


def overhead_ms(sampler_factory, trials=1000):
    """Milliseconds per trial of a study whose objective is trivial: the tuner's own cost."""
    study = optuna.create_study(sampler=sampler_factory())
    started = time.perf_counter()
    study.optimize(lambda t: t.suggest_float("x", -10, 10) ** 2 + t.suggest_float("y", -10, 10) ** 2, n_trials=trials)
    return (time.perf_counter() - started) * 1000 / trials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tpe-runs", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    seeds = range(args.seeds)
    out = {
        "optuna": optuna.__version__,
        "branin": [best_branin(s) for s in seeds],
        "sphere10": [best_sphere(s) for s in seeds],
        "randomMsPerTrial": statistics.median(overhead_ms(lambda: optuna.samplers.RandomSampler(seed=r)) for r in range(args.runs)),
        "tpeMsPerTrial": statistics.median(overhead_ms(lambda: optuna.samplers.TPESampler(seed=r)) for r in range(args.tpe_runs)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
