"""Issue 14's model selection: named configurations on the validation week or on the book's test week.

Each seed simulates the book's data set (5,000 customers, 10,000 terminals, 183 days from 2018-04-01) and
builds one feature table with every feature. A configuration is an algorithm, its parameters, its features
and its number of training days; it is trained with train_model, the 7-day delay gap after the training
days, then the 7 test days, with the book's known-card rule (cards with a fraud in the last 7 training days,
or on a test day T, by T-8). The two weeks:

- validation: test 2018-08-01 .. 08-07 (the book's protocol 7 days earlier); the configurations are chosen
  here, never on the test week;
- test: the book's test week, 2018-08-08 .. 08-14.

One JSON object per line and configuration and seed (seed, week, config, algorithm, auc, average_precision,
card_precision_at_k, fit and score_one times), then a table of mean and sd over the seeds. Single-threaded
(the machine is shared): rf with n_jobs=1, OpenMP limited to one thread.

    .venv/bin/python bench/model_selection.py --week validation --seeds 0,1,2,3,4,5
    .venv/bin/python bench/model_selection.py --week test --seeds 0,1,2,3,4,5 --configs rf-15f-7d,default
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from handbook import _latency as handbook_latency  # bench/ is on sys.path when run as a script
from threadpoolctl import threadpool_limits

from model_package.features import (
    ALL_FEATURE_NAMES,
    CUSTOMER_AMOUNT_NAMES,
    FEATURE_NAMES,
    TERMINAL_FRAUD_NAMES,
    feature_table,
)
from model_package.simulate import simulate
from model_package.train import DEFAULT_ALGORITHM, DEFAULT_PARAMS, DEFAULT_TRAIN_DAYS, TrainResult, train_model

BOOK_SIZE = {"customers": 5_000, "terminals": 10_000, "days": 183, "start": date(2018, 4, 1)}
TEST_STARTS = {"validation": date(2018, 8, 1), "test": date(2018, 8, 8)}
DELAY_DAYS = 7
LONGEST_TRAINING = 28
METRICS = ("auc", "average_precision", "card_precision_at_k")
TUNED = dict(DEFAULT_PARAMS["hgb"])
FEWER_DEEPER = {**TUNED, "learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15}


@dataclass(frozen=True)
class Config:
    algorithm: str
    params: dict[str, Any]
    features: tuple[str, ...] = ALL_FEATURE_NAMES
    train_days: int = 7
    note: str = ""


CONFIGS: dict[str, Config] = {
    "rf-15f-7d": Config("rf", {"n_jobs": 1}, FEATURE_NAMES, note="the old default: the book's rf, 15 features"),
    "rf-7d": Config("rf", {"n_jobs": 1}, note="rf, every feature"),
    "rf-28d": Config("rf", {"n_jobs": 1}, train_days=28),
    "hgb-library-7d": Config("hgb", {}, note="library defaults (early stopping on a random 10 %)"),
    "hgb-tuned-7d": Config("hgb", TUNED),
    "hgb-tuned-15f-28d": Config("hgb", TUNED, FEATURE_NAMES, 28, "features ablation"),
    "hgb-tuned-customer-28d": Config("hgb", TUNED, FEATURE_NAMES + CUSTOMER_AMOUNT_NAMES, 28, "features ablation"),
    "hgb-tuned-terminal-28d": Config("hgb", TUNED, FEATURE_NAMES + TERMINAL_FRAUD_NAMES, 28, "features ablation"),
    "hgb-tuned-14d": Config("hgb", TUNED, train_days=14),
    "hgb-tuned-28d": Config("hgb", TUNED, train_days=28),
    "hgb-fewer-deeper-28d": Config("hgb", FEWER_DEEPER, train_days=28, note="100 iterations of 15 leaves, lr 0.1"),
    "hgb-lr0.05-28d": Config("hgb", {**TUNED, "learning_rate": 0.05}, train_days=28),
    "hgb-15leaves-28d": Config("hgb", {**TUNED, "max_leaf_nodes": 15}, train_days=28),
    "default": Config(DEFAULT_ALGORITHM, dict(DEFAULT_PARAMS[DEFAULT_ALGORITHM]), train_days=DEFAULT_TRAIN_DAYS),
}


@dataclass
class Data:
    transactions: pd.DataFrame
    features: pd.DataFrame
    notes: dict[str, float] = field(default_factory=dict)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", choices=tuple(TEST_STARTS), default="validation")
    parser.add_argument("--seeds", default="0,1,2,3,4,5")
    parser.add_argument("--configs", default=",".join(name for name in CONFIGS if name != "default"))
    parser.add_argument("--latency-rows", type=int, default=500, help="test rows timed one by one in score_one")
    parser.add_argument("--cache", type=Path, help="directory to keep each seed's feature table in")
    args = parser.parse_args()
    names = args.configs.split(",")
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    print(f"# machine: {os.cpu_count()} cores, load average {_load()}", file=sys.stderr)
    rows: list[dict] = []
    with threadpool_limits(1):
        for seed in (int(seed) for seed in args.seeds.split(",")):
            data = _data(seed, args.cache)
            for name in names:
                row = _run(data, seed, args.week, name, CONFIGS[name], latency_rows=args.latency_rows)
                print(json.dumps(row), flush=True)
                rows.append(row)
    _summary(rows, names)
    print(f"# load average at the end: {_load()}", file=sys.stderr)
    return 0


def _data(seed: int, cache: Path | None) -> Data:
    """The seed's transactions from the first day any configuration trains on, with every feature."""
    path = cache / f"book-seed{seed}.pkl" if cache else None
    if path is not None and path.is_file():
        return pd.read_pickle(path)
    began = time.perf_counter()
    transactions = simulate(**BOOK_SIZE, seed=seed)
    simulated = time.perf_counter() - began
    began = time.perf_counter()
    features = feature_table(transactions, ALL_FEATURE_NAMES)
    notes = {"simulate_s": simulated, "features_s": time.perf_counter() - began}
    first = pd.Timestamp(min(TEST_STARTS.values()) - timedelta(days=DELAY_DAYS + LONGEST_TRAINING), tz="UTC")
    last = pd.Timestamp(max(TEST_STARTS.values()) + timedelta(days=7), tz="UTC")
    kept = ((transactions["timestamp"] >= first) & (transactions["timestamp"] < last)).to_numpy()
    data = Data(transactions[kept].reset_index(drop=True), features[kept].reset_index(drop=True), notes)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.to_pickle(data, path)
    return data


def _run(data: Data, seed: int, week: str, name: str, config: Config, *, latency_rows: int) -> dict:
    train_start = TEST_STARTS[week] - timedelta(days=DELAY_DAYS + config.train_days)
    result = train_model(
        data.transactions,
        algorithm=config.algorithm,
        train_start=train_start,
        train_days=config.train_days,
        model_params=config.params,
        features=data.features,
        feature_names=config.features,
    )
    p50, p99 = score_one_latency(result, data.transactions, data.features, rows=latency_rows)
    return {
        "seed": seed,
        "week": week,
        "config": name,
        "algorithm": config.algorithm,
        "features": len(config.features),
        "train_days": config.train_days,
        **{metric: result.metrics[metric] for metric in METRICS},
        "test_transactions": result.metrics["test"]["transactions"],
        "test_frauds": result.metrics["test"]["frauds"],
        "fit_s": result.metrics["seconds"]["fit"],
        "score_one_p50_ms": p50,
        "score_one_p99_ms": p99,
        "review": result.thresholds.review,
        "decline": result.thresholds.decline,
    }


def score_one_latency(result: TrainResult, transactions: pd.DataFrame, features: pd.DataFrame, *, rows: int):
    """p50 / p99 milliseconds of score_one (with reasons) over test-window rows: bench/handbook.py's measure."""
    p50, p99 = handbook_latency(result, transactions, features, rows=rows)
    return round(p50, 3), round(p99, 3)


def _summary(rows: list[dict], names: list[str]) -> None:
    print("\n| configuration | AUC | AP | CP@100 | fit s | score_one p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    for name in names:
        mine = [row for row in rows if row["config"] == name]
        cells = [_mean_sd([row[metric] for row in mine]) for metric in METRICS]
        fit = statistics.mean(row["fit_s"] for row in mine)
        p50 = statistics.median(row["score_one_p50_ms"] for row in mine)
        p99 = statistics.median(row["score_one_p99_ms"] for row in mine)
        print(f"| {name} | {' | '.join(cells)} | {fit:.1f} | {p50:.2f} / {p99:.2f} |")
    seeds = len({row["seed"] for row in rows})
    print(f"\n(mean +/- sd over {seeds} seeds; times: mean fit, median of the seeds' p50 / p99)")


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +/- {sd:.3f}"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
