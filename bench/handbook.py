"""The HANDBOOK's reference experiment at book size, beside the book's figures.

Simulates 5,000 customers, 10,000 terminals, 183 days from 2018-04-01; builds the feature table; trains
logreg, rf and hgb on the book's test week protocol (train 2018-07-25 .. 07-31, 7 delay days, test
08-08 .. 08-14) and prints counts, AUC / AP / CP@100, timings and the single-row score_one latency.

    .venv/bin/python bench/handbook.py [--seed 0] [--latency-rows 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_package.artifacts import load_artifact, save_artifact  # noqa: E402
from model_package.features import FEATURE_NAMES, feature_table  # noqa: E402
from model_package.simulate import simulate  # noqa: E402
from model_package.train import train_model  # noqa: E402

BOOK_SIZE = {"customers": 5_000, "terminals": 10_000, "days": 183, "start": date(2018, 4, 1)}
BOOK_TRAIN_START = date(2018, 7, 25)
BOOK_COUNTS = {"transactions": 1_754_155, "frauds": 14_681}
BOOK_WINDOWS = {"train": (67_240, 598), "test": (58_264, 385)}
BOOK_RESULTS = {"logreg": (0.871, 0.606, 0.291), "rf": (0.867, 0.658, 0.287), "hgb": None}
TARGETS = {"rf": (0.02, 0.04, 0.03), "logreg": (0.02, 0.04, 0.03)}  # "within noise" of the book's row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0, the book's random_state)")
    parser.add_argument("--latency-rows", type=int, default=2000, help="test rows timed one by one in score_one")
    parser.add_argument("--algorithms", default="logreg,rf,hgb")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    began = time.perf_counter()
    transactions = simulate(**BOOK_SIZE, seed=args.seed)
    simulate_seconds = time.perf_counter() - began
    began = time.perf_counter()
    features = feature_table(transactions)
    feature_seconds = time.perf_counter() - began
    _print_counts(transactions, simulate_seconds, feature_seconds, seed=args.seed)

    rows = []
    for algorithm in args.algorithms.split(","):
        result = train_model(transactions, algorithm=algorithm, train_start=BOOK_TRAIN_START, features=features)
        latency = _latency(result, transactions, features, rows=args.latency_rows)
        rows.append((algorithm, result, latency))
        if algorithm == args.algorithms.split(",")[0]:
            _print_windows(result.metrics)
    _print_results(rows)
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _print_counts(transactions, simulate_seconds: float, feature_seconds: float, *, seed: int) -> None:
    n, frauds = len(transactions), int(transactions["is_fraud"].sum())
    book_n, book_frauds = BOOK_COUNTS["transactions"], BOOK_COUNTS["frauds"]
    print(f"\nbook-size simulation (seed {seed})        ours          book     difference")
    print(f"transactions                  {n:>14,}{book_n:>14,}{100 * (n / book_n - 1):>+13.2f} %")
    print(f"frauds                        {frauds:>14,}{book_frauds:>14,}{100 * (frauds / book_frauds - 1):>+13.2f} %")
    rate, book_rate = 100 * frauds / n, 100 * book_frauds / book_n
    print(f"fraud rate                    {rate:>12.3f} %{book_rate:>12.3f} %{rate - book_rate:>+10.3f} point")
    days = transactions["timestamp"].dt.floor("D")
    per_day = transactions.groupby(days)["is_fraud"].agg(["size", "sum"]).mean()
    print(f"per day: {per_day['size']:,.0f} transactions, {per_day['sum']:.1f} frauds (book: about 10,000 and 85)")
    scenarios = transactions["fraud_scenario"].value_counts().sort_index().to_dict()
    print(f"fraud scenarios (0 none, 1 amount, 2 terminal, 3 customer): {scenarios}")
    print(f"simulation {simulate_seconds:.1f} s, feature table {feature_seconds:.1f} s ({n:,} rows)")


def _print_windows(metrics: dict) -> None:
    train, test = metrics["train"], metrics["test"]
    print("\nprotocol windows                      ours (tx / frauds)      book (tx / frauds)")
    for name, ours in (("train 07-25 .. 07-31", train), ("test 08-08 .. 08-14, known cards out", test)):
        book = BOOK_WINDOWS["train" if name.startswith("train") else "test"]
        print(f"{name:38}{ours['transactions']:>9,} / {ours['frauds']:<8,}{book[0]:>9,} / {book[1]:<8,}")


def _latency(result, transactions, features, *, rows: int) -> tuple[float, float, float]:
    """p50 / p99 / max milliseconds of score_one over test-week rows, on the artifact as loaded from disk."""
    with tempfile.TemporaryDirectory() as tmp:
        model = load_artifact(save_artifact(result, Path(tmp) / result.version))
    day = transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_test = ((day >= result.windows["test_start"]) & (day <= result.windows["test_end"])).to_numpy()
    test_rows = features.loc[in_test, list(FEATURE_NAMES)].to_numpy()
    sample = test_rows[np.linspace(0, len(test_rows) - 1, rows).astype(int)]
    timings = []
    for row in sample:
        began = time.perf_counter()
        model.score_one(row)
        timings.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99)), float(np.max(timings))


def _print_results(rows) -> None:
    print("\ntest week        AUC (book)      AP (book)   CP@100 (book)   fit s  predict s   score_one ms p50/p99")
    for algorithm, result, (p50, p99, _) in rows:
        m, book = result.metrics, BOOK_RESULTS.get(algorithm)
        ours = (m["auc"], m["average_precision"], m["card_precision_at_k"])
        cells = "".join(
            f"{value:>8.3f} ({'  -  ' if book is None else f'{book[i]:.3f}'})" for i, value in enumerate(ours)
        )
        seconds = m["seconds"]
        print(f"{algorithm:8}{cells}{seconds['fit']:>9.1f}{seconds['predict']:>10.2f}{p50:>11.2f} / {p99:.2f}")
    for algorithm, result, _ in rows:
        if algorithm in TARGETS:
            m, book, tolerance = result.metrics, BOOK_RESULTS[algorithm], TARGETS[algorithm]
            ours = (m["auc"], m["average_precision"], m["card_precision_at_k"])
            verdict = [
                f"{name} {'ok' if abs(value - ref) <= tol else 'MISS'} ({value - ref:+.3f}, tolerance {tol})"
                for name, value, ref, tol in zip(("AUC", "AP", "CP@100"), ours, book, tolerance, strict=True)
            ]
            print(f"{algorithm} against the book: {', '.join(verdict)}")
    for algorithm, result, _ in rows:
        t = result.thresholds
        test = result.metrics["test"]
        print(
            f"{algorithm} thresholds review {t.review:.4f} (test precision {_fmt(test['review']['precision'])}, "
            f"recall {_fmt(test['review']['recall'])}, {test['review']['alerts_per_day']:.0f} alerts/day), "
            f"decline {t.decline:.4f} (precision {_fmt(test['decline']['precision'])}, "
            f"recall {_fmt(test['decline']['recall'])})"
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
