"""The HANDBOOK's reference experiment at book size, beside the book's figures, and the default model.

Simulates 5,000 customers, 10,000 terminals, 183 days from 2018-04-01; builds the feature table; trains
the book's rows (logreg, rf and hgb with library defaults on the 15 features, train 2018-07-25 .. 07-31)
and train_model's default model (its features and its training days, ending 07-31), each with 7 delay
days and the book's test week 08-08 .. 08-14 with the book's known-card rule; prints counts, AUC / AP /
CP@100, fit and predict times and the single-row score_one latency (with reasons) of the saved-and-loaded
artifact. Everything runs in one thread (rf n_jobs=1, OpenMP limited): the machine is shared.

    .venv/bin/python bench/handbook.py                      # seed 0, the full report
    .venv/bin/python bench/handbook.py --spread 0,1,2,3,4   # counts, default and logreg / rf metrics per seed
    .venv/bin/python bench/handbook.py --spread 0,1,2,3,4,5 --algorithms rf --json   # JSON lines

--json prints one JSON object per seed and model (seed, model, algorithm, auc, average_precision,
card_precision_at_k, fit and score_one times) instead of the tables. One simulated test week is one draw:
--spread shows how much the figures move from seed to seed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from model_package.artifacts import load_artifact, save_artifact
from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES, feature_table, transaction_features
from model_package.predict import _boosting_scorer
from model_package.simulate import simulate
from model_package.train import DEFAULT_ALGORITHM, DEFAULT_TRAIN_DAYS, TrainResult, train_model

BOOK_SIZE = {"customers": 5_000, "terminals": 10_000, "days": 183, "start": date(2018, 4, 1)}
BOOK_TRAIN_START = date(2018, 7, 25)
BOOK_TRAIN_DAYS = 7
BOOK_COUNTS = {"transactions": 1_754_155, "frauds": 14_681}
BOOK_WINDOWS = {"train": (67_240, 598), "test": (58_264, 385)}
BOOK_RESULTS = {"logreg": (0.871, 0.606, 0.291), "rf": (0.867, 0.658, 0.287)}
TOLERANCES = (0.02, 0.04, 0.03)  # the "within noise" for AUC, AP, CP@100
METRICS = ("auc", "average_precision", "card_precision_at_k")
DEFAULT = "default"  # the name of train_model's default model among the algorithms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument(
        "--algorithms",
        help="the book's rows to train beside the default model, comma-separated, or 'none' "
        "(default: logreg,rf,hgb; with --spread logreg,rf)",
    )
    parser.add_argument("--latency-rows", type=int, default=2000, help="test rows timed one by one in score_one")
    parser.add_argument("--spread", help="comma-separated seeds: one line of counts and metrics per seed")
    parser.add_argument("--json", action="store_true", help="one JSON object per seed and model instead of tables")
    args = parser.parse_args()
    chosen = args.algorithms or ("logreg,rf" if args.spread else "logreg,rf,hgb")
    algorithms = [DEFAULT] + ([] if chosen == "none" else chosen.split(","))
    report = sys.stderr if args.json else sys.stdout
    print(f"machine: {os.cpu_count()} cores, load average {_load()}", file=report)
    with threadpool_limits(1):
        if args.spread or args.json:
            seeds = [int(seed) for seed in args.spread.split(",")] if args.spread else [args.seed]
            _spread(seeds, algorithms, latency_rows=args.latency_rows, as_json=args.json)
        else:
            _report(args.seed, algorithms, latency_rows=args.latency_rows)
    print(f"load average at the end: {_load()}", file=report)
    return 0


def _report(seed: int, algorithms: list[str], *, latency_rows: int) -> None:
    transactions, features, simulate_seconds, feature_seconds = _data(seed)
    _print_counts(transactions, simulate_seconds, feature_seconds, seed=seed)
    results = {algorithm: _train(transactions, features, algorithm) for algorithm in algorithms}
    _print_windows(transactions, results.get("rf") or next(iter(results.values())))
    print("\ntest week    AUC (book)       AP (book)        CP@100 (book)     fit s  predict s  score_one ms p50 / p99")
    for algorithm, result in results.items():
        p50, p99 = _latency(result, transactions, features, rows=latency_rows)
        seconds = result.metrics["seconds"]
        print(
            f"{algorithm:8}{_cells(result, algorithm)}{seconds['fit']:>8.1f}{seconds['predict']:>10.2f}"
            f"{p50:>12.2f} / {p99:.2f}"
        )
    print(f"{DEFAULT}: {_describe(results[DEFAULT])}")
    p50, p99 = _latency(results[DEFAULT], transactions, features, rows=latency_rows, through_scikit_learn=True)
    print(f"{DEFAULT} score_one through scikit-learn's own tree loop (as before issue 14): {p50:.2f} / {p99:.2f} ms")
    print(_online_features_cost())
    for algorithm, result in results.items():
        if algorithm in BOOK_RESULTS:
            print(f"{algorithm} against the book: {_verdict(result, algorithm)}")
    for algorithm, result in results.items():
        print(f"{algorithm} {_thresholds(result)}")


def _spread(seeds: list[int], algorithms: list[str], *, latency_rows: int, as_json: bool) -> None:
    if not as_json:
        print(
            "\nseed  transactions (vs book)  fraud %   "
            + "".join(f"{algorithm + ' AUC / AP / CP@100':<27}" for algorithm in algorithms)
            + "test tx / frauds"
        )
    per_metric: dict[str, list[float]] = {}
    for seed in seeds:
        transactions, features, _, _ = _data(seed)
        n, frauds = len(transactions), int(transactions["is_fraud"].sum())
        cells = []
        for algorithm in algorithms:
            result = _train(transactions, features, algorithm)
            values = [result.metrics[name] for name in METRICS]
            cells.append(" / ".join(f"{value:.3f}" for value in values))
            for name, value in zip(METRICS, values, strict=True):
                per_metric.setdefault(f"{algorithm} {name}", []).append(value)
            if as_json:
                p50, p99 = _latency(result, transactions, features, rows=latency_rows)
                print(json.dumps(_json_row(seed, algorithm, result, p50, p99)), flush=True)
        if not as_json:
            test = result.metrics["test"]
            print(
                f"{seed:>4}{n:>14,} ({100 * (n / BOOK_COUNTS['transactions'] - 1):+.1f} %){100 * frauds / n:>8.3f}   "
                + "".join(f"{cell:<27}" for cell in cells)
                + f"{test['transactions']:>7,} / {test['frauds']}",
                flush=True,
            )
    out = sys.stderr if as_json else sys.stdout
    print("\nmean +/- sd over the seeds, beside the book:", file=out)
    for key, values in per_metric.items():
        algorithm, name = key.split(" ")
        book = BOOK_RESULTS.get(algorithm)
        beside = f"   (book {book[METRICS.index(name)]:.3f})" if book else ""
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {key:32}{statistics.mean(values):.3f} +/- {sd:.3f}{beside}", file=out)


def _json_row(seed: int, algorithm: str, result: TrainResult, p50: float, p99: float) -> dict:
    return {
        "seed": seed,
        "model": DEFAULT if algorithm == DEFAULT else "book",
        "algorithm": result.algorithm,
        "features": len(result.feature_names),
        "train_days": result.parameters["protocol"]["train_days"],
        **{name: result.metrics[name] for name in METRICS},
        "test_transactions": result.metrics["test"]["transactions"],
        "test_frauds": result.metrics["test"]["frauds"],
        "fit_s": result.metrics["seconds"]["fit"],
        "score_one_p50_ms": round(p50, 3),
        "score_one_p99_ms": round(p99, 3),
    }


def _data(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    began = time.perf_counter()
    transactions = simulate(**BOOK_SIZE, seed=seed)
    simulate_seconds = time.perf_counter() - began
    began = time.perf_counter()
    features = feature_table(transactions, ALL_FEATURE_NAMES)
    return transactions, features, simulate_seconds, time.perf_counter() - began


def _train(transactions: pd.DataFrame, features: pd.DataFrame, algorithm: str) -> TrainResult:
    if algorithm == DEFAULT:
        test_start = BOOK_TRAIN_START + timedelta(days=BOOK_TRAIN_DAYS + 7)
        start = test_start - timedelta(days=7 + DEFAULT_TRAIN_DAYS)
        return train_model(transactions, train_start=start, features=features)
    # The book's row: library defaults (one job), the 15 features, the book's training week.
    return train_model(
        transactions,
        algorithm=algorithm,
        train_start=BOOK_TRAIN_START,
        train_days=BOOK_TRAIN_DAYS,
        model_params={"n_jobs": 1} if algorithm == "rf" else {},
        features=features,
        feature_names=FEATURE_NAMES,
    )


def _online_features_cost(calls: int = 2000) -> str:
    """p50 / p99 of transaction_features (serving) with the book's mean history: 72 customer rows in 30 days and
    27 terminal rows in the delayed 30-day window, for the 15 features and for every feature."""
    rng = np.random.default_rng(0)
    t = datetime(2018, 8, 8, 12, tzinfo=UTC)
    customer = [
        (t - timedelta(seconds=int(s)), round(float(a), 2))
        for s, a in zip(rng.integers(1, 30 * 86_400, 72), rng.uniform(5, 100, 72), strict=True)
    ]
    terminal = [
        (t - timedelta(days=7, seconds=int(s)), bool(f))
        for s, f in zip(rng.integers(1, 30 * 86_400, 27), rng.random(27) < 0.05, strict=True)
    ]
    cells = []
    for label, names in (("15 features", FEATURE_NAMES), (f"{len(ALL_FEATURE_NAMES)} features", ALL_FEATURE_NAMES)):
        timings = []
        for i in range(calls + 100):
            began = time.perf_counter()
            transaction_features(
                timestamp=t, amount=50.0, customer_history=customer, terminal_history=terminal, names=names
            )
            if i >= 100:  # warm-up
                timings.append((time.perf_counter() - began) * 1e6)
        cells.append(f"{label} {np.percentile(timings, 50):.0f} / {np.percentile(timings, 99):.0f} us")
    return "transaction_features p50 / p99 (72 customer rows, 27 terminal rows): " + ", ".join(cells)


def _describe(result: TrainResult) -> str:
    model = result.parameters["pipeline"]["model"]
    params = ", ".join(f"{k} {v}" for k, v in model.items() if k not in ("class", "random_state", "verbose"))
    windows = result.windows
    return (
        f"{DEFAULT_ALGORITHM} ({model['class']}: {params}), {len(result.feature_names)} features, trained on "
        f"{windows['train_start']} .. {windows['train_end']}"
    )


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
    print(
        f"simulation {simulate_seconds:.1f} s, feature table {feature_seconds:.1f} s "
        f"({n:,} rows, {len(ALL_FEATURE_NAMES)} features)"
    )


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


def _latency(
    result: TrainResult, transactions: pd.DataFrame, features: pd.DataFrame, *, rows: int, through_scikit_learn=False
):
    """p50 / p99 milliseconds of score_one over test-week rows, on the artifact as loaded from disk.

    through_scikit_learn: gradient boosting scored by scikit-learn's tree loop, the row and its occluded copies
    in one call, as score_one did before issue 14 (the same numbers, bit for bit).
    """
    with tempfile.TemporaryDirectory() as tmp:
        model = load_artifact(save_artifact(result, Path(tmp) / result.version))
    if through_scikit_learn:
        model._score = _boosting_scorer(model.pipeline.named_steps["model"])
        model._occluded_scores = model._occluded_scores_by_scoring
    day = transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_test = ((day >= result.windows["test_start"]) & (day <= result.windows["test_end"])).to_numpy()
    test_rows = features.loc[in_test, list(result.feature_names)].to_numpy()
    chosen = test_rows[np.linspace(0, len(test_rows) - 1, rows).astype(int)]
    for row in chosen[:50]:  # warm-up: first calls pay for lazy imports and caches
        model.score_one(row)
    timings = []
    for row in chosen:
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
