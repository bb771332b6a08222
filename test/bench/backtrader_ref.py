"""backtrader reference figure for test/bench/backtest-cli.ts: SMA-cross 10/30 on the same 1m bars.

Reads a CSV (time in epoch ms, open, high, low, close, volume) that the bench wrote from the same seeded
walk the mtflow run reads, runs backtrader's SMA cross (buy one unit when the 10-bar SMA crosses above the
30-bar SMA, sell when it crosses below; market orders fill at the next bar's open, commission 0.0005 on
notional) and prints one JSON object: backtrader's version, bars, orders and the wall time of
cerebro.run() (reading the CSV included, as the mtflow run includes reading the lake).

backtrader is not on Debian; PyPI is not reachable here. The bench puts its source on PYTHONPATH when
BACKTRADER_PATH names a folder holding the `backtrader` package (e.g. a checkout of mementum/backtrader).

usage: python3 test/bench/backtrader_ref.py BARS.csv
"""

import json
import sys
import time
from datetime import datetime, timezone

import backtrader as bt


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self):
        self.cross = bt.ind.CrossOver(bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow))
        self.orders = 0

    def notify_order(self, order):
        if order.status == order.Completed:
            self.orders += 1

    def next(self):
        if self.cross > 0 and self.position.size <= 0:
            self.buy(size=1)
        elif self.cross < 0 and self.position.size > 0:
            self.sell(size=1)


class EpochMsCsv(bt.feeds.GenericCSVData):
    params = (
        ("dtformat", lambda ms: datetime.fromtimestamp(int(ms) / 1000, timezone.utc).replace(tzinfo=None)),
        ("datetime", 0),
        ("open", 1),
        ("high", 2),
        ("low", 3),
        ("close", 4),
        ("volume", 5),
        ("openinterest", -1),
        ("timeframe", bt.TimeFrame.Minutes),
    )


def main():
    path = sys.argv[1]
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(EpochMsCsv(dataname=path, headers=True))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(1e9)
    cerebro.broker.setcommission(commission=0.0005)
    started = time.perf_counter()
    strategy = cerebro.run()[0]
    seconds = time.perf_counter() - started
    bars = len(strategy.data)
    print(json.dumps({"version": bt.__version__, "bars": bars, "orders": strategy.orders, "seconds": seconds}))


if __name__ == "__main__":
    main()
