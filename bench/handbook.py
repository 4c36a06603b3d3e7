"""The HANDBOOK's reference experiment at book size, beside the book's figures.

Simulates 5,000 customers, 10,000 terminals, 183 days from 2018-04-01; builds the feature table; trains
logreg, rf and hgb on the book's test week protocol (train 2018-07-25 .. 07-31, 7 delay days, test
08-08 .. 08-14) and prints counts, AUC / AP / CP@100, fit and predict times and the single-row
score_one latency of the saved-and-loaded artifact.

    .venv/bin/python bench/handbook.py                      # seed 0, the full report
    .venv/bin/python bench/handbook.py --spread 0,1,2,3,4   # counts and logreg / rf metrics per seed

One simulated test week is one draw: --spread shows how much the figures move from seed to seed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from model_package.artifacts import load_artifact, save_artifact
from model_package.features import FEATURE_NAMES, feature_table
from model_package.simulate import simulate
from model_package.train import TrainResult, train_model

BOOK_SIZE = {"customers": 5_000, "terminals": 10_000, "days": 183, "start": date(2018, 4, 1)}
BOOK_TRAIN_START = date(2018, 7, 25)
BOOK_COUNTS = {"transactions": 1_754_155, "frauds": 14_681}
BOOK_WINDOWS = {"train": (67_240, 598), "test": (58_264, 385)}
BOOK_RESULTS = {"logreg": (0.871, 0.606, 0.291), "rf": (0.867, 0.658, 0.287)}
TOLERANCES = (0.02, 0.04, 0.03)  # the "within noise" for AUC, AP, CP@100
METRICS = ("auc", "average_precision", "card_precision_at_k")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument("--algorithms", default="logreg,rf,hgb")
    parser.add_argument("--latency-rows", type=int, default=2000, help="test rows timed one by one in score_one")
    parser.add_argument("--spread", help="comma-separated seeds: one line of counts and metrics per seed")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {_load()}")
    if args.spread:
        _spread([int(seed) for seed in args.spread.split(",")])
    else:
        _report(args.seed, args.algorithms.split(","), latency_rows=args.latency_rows)
    print(f"load average at the end: {_load()}")
    return 0


def _report(seed: int, algorithms: list[str], *, latency_rows: int) -> None:
    transactions, features, simulate_seconds, feature_seconds = _data(seed)
    _print_counts(transactions, simulate_seconds, feature_seconds, seed=seed)
    results = {algorithm: _train(transactions, features, algorithm) for algorithm in algorithms}
    _print_windows(transactions, next(iter(results.values())))
    print("\ntest week    AUC (book)       AP (book)        CP@100 (book)     fit s  predict s  score_one ms p50 / p99")
    for algorithm, result in results.items():
        p50, p99 = _latency(result, transactions, features, rows=latency_rows)
        seconds = result.metrics["seconds"]
        print(
            f"{algorithm:8}{_cells(result, algorithm)}{seconds['fit']:>8.1f}{seconds['predict']:>10.2f}"
            f"{p50:>12.2f} / {p99:.2f}"
        )
    for algorithm, result in results.items():
        if algorithm in BOOK_RESULTS:
            print(f"{algorithm} against the book: {_verdict(result, algorithm)}")
    for algorithm, result in results.items():
        print(f"{algorithm} {_thresholds(result)}")


def _spread(seeds: list[int]) -> None:
    print(
        "\nseed  transactions (vs book)  fraud %   logreg AUC / AP / CP@100   rf AUC / AP / CP@100     test tx / frauds"
    )
    per_metric: dict[str, list[float]] = {}
    for seed in seeds:
        transactions, features, _, _ = _data(seed)
        n, frauds = len(transactions), int(transactions["is_fraud"].sum())
        cells = []
        for algorithm in ("logreg", "rf"):
            result = _train(transactions, features, algorithm)
            values = [result.metrics[name] for name in METRICS]
            cells.append(" / ".join(f"{value:.3f}" for value in values))
            for name, value in zip(METRICS, values, strict=True):
                per_metric.setdefault(f"{algorithm} {name}", []).append(value)
        test = result.metrics["test"]
        print(
            f"{seed:>4}{n:>14,} ({100 * (n / BOOK_COUNTS['transactions'] - 1):+.1f} %){100 * frauds / n:>8.3f}"
            f"   {cells[0]:<27}{cells[1]:<25}{test['transactions']:>7,} / {test['frauds']}"
        )
    print("\nmean +/- sd over the seeds, beside the book:")
    for key, values in per_metric.items():
        algorithm, name = key.split(" ")
        book = BOOK_RESULTS[algorithm][METRICS.index(name)]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {key:32}{statistics.mean(values):.3f} +/- {sd:.3f}   (book {book:.3f})")


def _data(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    began = time.perf_counter()
    transactions = simulate(**BOOK_SIZE, seed=seed)
    simulate_seconds = time.perf_counter() - began
    began = time.perf_counter()
    features = feature_table(transactions)
    return transactions, features, simulate_seconds, time.perf_counter() - began


def _train(transactions: pd.DataFrame, features: pd.DataFrame, algorithm: str) -> TrainResult:
    return train_model(transactions, algorithm=algorithm, train_start=BOOK_TRAIN_START, features=features)


def _print_counts(transactions: pd.DataFrame, simulate_seconds: float, feature_seconds: float, *, seed: int) -> None:
    n, frauds = len(transactions), int(transactions["is_fraud"].sum())
    book_n, book_frauds = BOOK_COUNTS["transactions"], BOOK_COUNTS["frauds"]
    rate, book_rate = 100 * frauds / n, 100 * book_frauds / book_n
    print(f"\nbook-size simulation, seed {seed}          ours          book     difference")
    print(f"transactions                 {n:>14,}{book_n:>14,}{100 * (n / book_n - 1):>+13.2f} %")
    print(f"frauds                       {frauds:>14,}{book_frauds:>14,}{100 * (frauds / book_frauds - 1):>+13.2f} %")
    print(f"fraud rate                   {rate:>12.3f} %{book_rate:>12.3f} %{rate - book_rate:>+9.3f} point")
    per_day = transactions.groupby(transactions["timestamp"].dt.floor("D"))["is_fraud"].agg(["size", "sum"]).mean()
    print(f"per day: {per_day['size']:,.0f} transactions, {per_day['sum']:.1f} frauds (book: about 10,000 and 85)")
    print(f"frauds by scenario (1 amount, 2 terminal, 3 customer): {_scenarios(transactions)}")
    print(f"simulation {simulate_seconds:.1f} s, feature table {feature_seconds:.1f} s ({n:,} rows, 15 features)")


def _print_windows(transactions: pd.DataFrame, result: TrainResult) -> None:
    train, test = result.metrics["train"], result.metrics["test"]
    day = transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_test = transactions[(day >= result.windows["test_start"]) & (day <= result.windows["test_end"])]
    print("\nprotocol windows                       ours (tx / frauds)    book (tx / frauds)")
    for name, ours, book in (
        (f"train {result.windows['train_start']} .. {result.windows['train_end']}", train, BOOK_WINDOWS["train"]),
        (f"test {result.windows['test_start']} .. {result.windows['test_end']}*", test, BOOK_WINDOWS["test"]),
    ):
        print(f"{name:39}{ours['transactions']:>8,} / {ours['frauds']:<9,}{book[0]:>8,} / {book[1]:,}")
    print(f"* known compromised cards left out; the whole test week's frauds by scenario: {_scenarios(in_test)}")


def _scenarios(transactions: pd.DataFrame) -> dict[int, int]:
    counts = transactions.loc[transactions["is_fraud"] == 1, "fraud_scenario"].value_counts().sort_index()
    return {int(scenario): int(count) for scenario, count in counts.items()}


def _cells(result: TrainResult, algorithm: str) -> str:
    book = BOOK_RESULTS.get(algorithm)
    return "".join(
        f"{result.metrics[name]:>7.3f} ({'  -  ' if book is None else f'{book[i]:.3f}'})   "
        for i, name in enumerate(METRICS)
    )


def _verdict(result: TrainResult, algorithm: str) -> str:
    parts = []
    for name, label, book, tolerance in zip(
        METRICS, ("AUC", "AP", "CP@100"), BOOK_RESULTS[algorithm], TOLERANCES, strict=True
    ):
        difference = result.metrics[name] - book
        parts.append(
            f"{label} {difference:+.3f} ({'within' if abs(difference) <= tolerance else 'OUTSIDE'} +/-{tolerance})"
        )
    return ", ".join(parts)


def _thresholds(result: TrainResult) -> str:
    review, decline = result.metrics["test"]["review"], result.metrics["test"]["decline"]
    return (
        f"thresholds: review {result.thresholds.review:.4f} (test: precision {_fmt(review['precision'])}, "
        f"recall {_fmt(review['recall'])}, {review['alerts_per_day']:.0f} alerts/day), "
        f"decline {result.thresholds.decline:.4f} (precision {_fmt(decline['precision'])}, "
        f"recall {_fmt(decline['recall'])}, {decline['alerts_per_day']:.0f}/day)"
    )


def _latency(result: TrainResult, transactions: pd.DataFrame, features: pd.DataFrame, *, rows: int):
    """p50 / p99 milliseconds of score_one over test-week rows, on the artifact as loaded from disk."""
    with tempfile.TemporaryDirectory() as tmp:
        model = load_artifact(save_artifact(result, Path(tmp) / result.version))
    day = transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_test = ((day >= result.windows["test_start"]) & (day <= result.windows["test_end"])).to_numpy()
    test_rows = features.loc[in_test, list(FEATURE_NAMES)].to_numpy()
    timings = []
    for row in test_rows[np.linspace(0, len(test_rows) - 1, rows).astype(int)]:
        began = time.perf_counter()
        model.score_one(row)
        timings.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
