"""Time-ordered training (HANDBOOK.md, chapters 3.4 and 4): train window, delay gap, test window.

Train on `train_days` days, skip `delay_days` (the time labels take to arrive), test on `test_days` days,
never a random split. A card is left out of test day T once it is known compromised: a fraud on any day
from the start of the last 7 training days to T - delay - 1 (the book's rule over the book's training week,
whatever the length of the training window). The decision thresholds are chosen on the delay-gap days,
scored by the trained model: data before the test, and not seen in training.

The default model (DEFAULT_ALGORITHM, DEFAULT_PARAMS, DEFAULT_FEATURE_NAMES, DEFAULT_TRAIN_DAYS) is the
best configuration measured on a validation week; the protocol and the figures are in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from model_package.artifacts import manifest_sha256, save_artifact
from model_package.drift import training_reference
from model_package.errors import ModelPackageError, TrainingError
from model_package.evaluate import TOP_K, at_threshold, evaluate_scores
from model_package.features import DEFAULT_FEATURE_NAMES, check_feature_names, feature_table
from model_package.io import read_transactions
from model_package.predict import Thresholds, scorer_for
from model_package.report import format_metrics
from model_package.result import TrainResult
from model_package.thresholds import THRESHOLD_RULE, choose_thresholds, review_band_problem

ALGORITHMS = ("rf", "logreg", "hgb")
DEFAULT_ALGORITHM = "hgb"
# Each algorithm's parameters over the library's defaults when train_model is given no model_params.
DEFAULT_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "rf": {},
    "logreg": {},
    "hgb": {
        "learning_rate": 0.03,
        "max_iter": 300,
        "max_leaf_nodes": 7,
        "min_samples_leaf": 100,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
}
DEFAULT_TRAIN_DAYS = 28
KNOWN_CARD_DAYS = 7  # the book's training week: the days whose frauds make a card known compromised
REFERENCE_ROWS = 20_000  # training rows scored for the drift reference: deciles to about 0.2 % (a few seconds)


@dataclass(frozen=True)
class _Split:
    """Row masks and day numbers (days since 1970-01-01, UTC) of the protocol's windows."""

    day: np.ndarray
    train_start: int
    train_days: int
    train: np.ndarray
    gap: np.ndarray
    test: np.ndarray
    # per row: its card had a fraud from the first of the last KNOWN_CARD_DAYS training days to its day - delay - 1
    known_compromised: np.ndarray


def make_pipeline(algorithm: str, *, random_state: int = 0, **params: Any) -> Pipeline:
    """The unfitted pipeline of an algorithm: library defaults (the book's rows) unless params override."""
    if algorithm == "rf":
        steps = [("model", RandomForestClassifier(n_estimators=100, random_state=random_state, n_jobs=-1))]
    elif algorithm == "logreg":
        steps = [("scale", StandardScaler()), ("model", LogisticRegression(random_state=random_state))]
    elif algorithm == "hgb":
        steps = [("model", HistGradientBoostingClassifier(random_state=random_state))]
    else:
        raise TrainingError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    pipeline = Pipeline(steps)
    if params:
        pipeline.set_params(**{f"model__{name}": value for name, value in params.items()})
    return pipeline


def train_model(
    transactions: pd.DataFrame,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    train_start: date | None = None,
    train_days: int = DEFAULT_TRAIN_DAYS,
    delay_days: int = 7,
    test_days: int = 7,
    alert_budget: int = 100,
    precision_target: float = 0.8,
    random_state: int = 0,
    model_params: Mapping[str, Any] | None = None,
    features: pd.DataFrame | None = None,
    feature_names: Sequence[str] = DEFAULT_FEATURE_NAMES,
) -> TrainResult:
    """Train, choose thresholds and evaluate on the test window, per the HANDBOOK's protocol.

    train_start defaults to the latest start that fits train + delay + test full days in the data.
    model_params: the final estimator's parameters over the library's defaults (None: DEFAULT_PARAMS of the
    algorithm; {} the library's defaults, the book's rows); feature_names: the model's features, in order;
    features, if given, must be feature_table(transactions, names) for names including feature_names, to
    share one table between trainings.
    Raises TrainingError for data or options the protocol cannot use, and for a model whose thresholds leave
    no review band (see thresholds.review_band_problem).
    """
    _check_options(algorithm, train_days, delay_days, test_days, alert_budget, precision_target)
    try:
        names = check_feature_names(feature_names)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    _check_transactions(transactions)
    split = _split(transactions, train_start, train_days=train_days, delay_days=delay_days, test_days=test_days)
    seconds: dict[str, float] = {}
    if features is None:
        began = time.perf_counter()
        features = feature_table(transactions, names)
        seconds["features"] = time.perf_counter() - began
    missing = [name for name in names if name not in features]
    if missing:
        raise TrainingError(f"the feature table lacks {', '.join(missing)}")
    x = features.loc[:, list(names)].to_numpy(dtype=np.float64)
    y = transactions["is_fraud"].to_numpy(dtype=np.int64)
    _check_classes(y[split.train])

    params = DEFAULT_PARAMS[algorithm] if model_params is None else model_params
    pipeline = make_pipeline(algorithm, random_state=random_state, **params)
    began = time.perf_counter()
    pipeline.fit(x[split.train], y[split.train])
    seconds["fit"] = time.perf_counter() - began
    _single_threaded(pipeline)

    thresholds, metrics = _assess(
        pipeline,
        transactions,
        x,
        y,
        split,
        days=(delay_days, test_days),
        alert_budget=alert_budget,
        precision_target=precision_target,
        seconds=seconds,
    )
    metrics["reference"] = _reference(pipeline, x[split.train], names, random_state=random_state)
    created_at = datetime.now(UTC)
    protocol = {
        "train_days": train_days,
        "delay_days": delay_days,
        "test_days": test_days,
        "alert_budget": alert_budget,
        "precision_target": precision_target,
        "random_state": random_state,
    }
    return TrainResult(
        pipeline=pipeline,
        algorithm=algorithm,
        parameters=_parameters(pipeline, **protocol),
        metrics=metrics,
        thresholds=thresholds,
        windows=_windows(split, train_days=train_days, delay_days=delay_days, test_days=test_days),
        fingerprint=data_fingerprint(transactions),
        version=f"{algorithm}-{created_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        created_at=created_at,
        feature_names=names,
        feature_medians=tuple(float(m) for m in np.median(x[split.train], axis=0)),
    )


def _assess(
    pipeline: Pipeline,
    transactions: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    split: _Split,
    *,
    days: tuple[int, int],
    alert_budget: int,
    precision_target: float,
    seconds: dict[str, float],
) -> tuple[Thresholds, dict]:
    """Thresholds from the delay gap, then the test window's metrics, both without known compromised cards."""
    delay_days, test_days = days
    score = scorer_for(pipeline)  # the serving scorer, so thresholds compare with served scores
    gap = split.gap & ~split.known_compromised
    if not gap.any():
        raise TrainingError("the delay gap holds no transactions to choose the thresholds on")
    thresholds, selection = choose_thresholds(
        score(x[gap]), y[gap], days=delay_days, alert_budget=alert_budget, precision_target=precision_target
    )
    problem = review_band_problem(thresholds, selection)
    if problem:
        raise TrainingError(problem)
    test = split.test & ~split.known_compromised
    began = time.perf_counter()
    test_scores = score(x[test])
    seconds["predict"] = time.perf_counter() - began
    metrics = _metrics(transactions[test], split.day[test], test_scores, thresholds, days=test_days)
    metrics["train"] = {"transactions": int(split.train.sum()), "frauds": int(y[split.train].sum())}
    first_gap_day = split.train_start + split.train_days
    gap_days = [_iso(d) for d in range(first_gap_day, first_gap_day + delay_days)]
    metrics["thresholds"] = {"rule": THRESHOLD_RULE, "days": gap_days, **selection}
    metrics["seconds"] = {name: round(value, 3) for name, value in seconds.items()}
    return thresholds, metrics


def _reference(pipeline: Pipeline, x_train: np.ndarray, names: tuple[str, ...], *, random_state: int) -> dict:
    """The binned score and feature distributions of (a sample of) the training rows, for drift (drift.py)."""
    if len(x_train) > REFERENCE_ROWS:
        rows = np.random.default_rng(random_state).choice(len(x_train), REFERENCE_ROWS, replace=False)
        x_train = x_train[np.sort(rows)]
    return training_reference(scores=scorer_for(pipeline)(x_train), features=x_train, feature_names=names)


def _metrics(rows: pd.DataFrame, day: np.ndarray, scores: np.ndarray, thresholds: Thresholds, *, days: int) -> dict:
    labels = rows["is_fraud"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame({"day": day, "customer_id": rows["customer_id"].to_numpy(), "score": scores, "label": labels})
    headline = evaluate_scores(frame, k=TOP_K)
    return {
        "auc": headline["auc"],
        "average_precision": headline["average_precision"],
        "card_precision_at_k": headline["card_precision_at_k"],
        "k": TOP_K,
        "test": {
            "transactions": headline["n"],
            "frauds": headline["frauds"],
            "review": at_threshold(scores, labels, thresholds.review, days=days),
            "decline": at_threshold(scores, labels, thresholds.decline, days=days),
        },
    }


_DAY_NS = 86_400 * 10**9


def _epoch_days(timestamps: pd.Series) -> np.ndarray:
    ns = pd.to_datetime(timestamps, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.floor_divide(ns, _DAY_NS)


def _iso(epoch_day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=int(epoch_day))).isoformat()


def _split(
    transactions: pd.DataFrame, train_start: date | None, *, train_days: int, delay_days: int, test_days: int
) -> _Split:
    day = _epoch_days(transactions["timestamp"])
    first, last = int(day.min()), int(day.max())
    span = train_days + delay_days + test_days
    start = last - span + 1 if train_start is None else (train_start - date(1970, 1, 1)).days
    if start < first or start + span - 1 > last:
        raise TrainingError(
            f"the protocol needs {span} days ({train_days} train + {delay_days} delay + {test_days} test) "
            f"from {_iso(start)} to {_iso(start + span - 1)}; the data covers {_iso(first)} to {_iso(last)}"
        )
    known_since = start + train_days - min(train_days, KNOWN_CARD_DAYS)
    fraud_day = np.where((transactions["is_fraud"].to_numpy() == 1) & (day >= known_since), day, np.iinfo(np.int64).max)
    first_fraud = pd.Series(fraud_day).groupby(transactions["customer_id"].to_numpy()).transform("min").to_numpy()
    return _Split(
        day=day,
        train_start=start,
        train_days=train_days,
        train=(day >= start) & (day < start + train_days),
        gap=(day >= start + train_days) & (day < start + train_days + delay_days),
        test=(day >= start + train_days + delay_days) & (day < start + span),
        known_compromised=first_fraud <= day - delay_days - 1,
    )


def _windows(split: _Split, *, train_days: int, delay_days: int, test_days: int) -> dict[str, str]:
    """Inclusive first and last days (UTC) of each window."""
    start = split.train_start
    return {
        "data_start": _iso(split.day.min()),
        "train_start": _iso(start),
        "train_end": _iso(start + train_days - 1),
        "delay_start": _iso(start + train_days),
        "delay_end": _iso(start + train_days + delay_days - 1),
        "test_start": _iso(start + train_days + delay_days),
        "test_end": _iso(start + train_days + delay_days + test_days - 1),
        "data_end": _iso(split.day.max()),
    }


def _check_options(
    algorithm: str, train_days: int, delay_days: int, test_days: int, alert_budget: int, precision_target: float
) -> None:
    if algorithm not in ALGORITHMS:
        raise TrainingError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if min(train_days, delay_days, test_days) < 1:
        raise TrainingError("train_days, delay_days and test_days must each be at least 1")
    if alert_budget < 1:
        raise TrainingError("alert_budget must be at least 1 alert a day")
    if not 0 < precision_target <= 1:
        raise TrainingError("precision_target must be in (0, 1]")


def _check_transactions(transactions: pd.DataFrame) -> None:
    needed = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "is_fraud")
    missing = [column for column in needed if column not in transactions]
    if missing:
        raise TrainingError(f"the transactions lack column(s) {', '.join(missing)}")
    if transactions.empty:
        raise TrainingError("there are no transactions")


def _check_classes(labels: np.ndarray) -> None:
    if labels.sum() == 0 or labels.sum() == len(labels):
        raise TrainingError("the training window needs both frauds and legitimate transactions")


def _single_threaded(pipeline: Pipeline) -> None:
    """Fitted in parallel, predicted in one thread: joblib's start-up costs more than one row's trees."""
    for _, step in pipeline.steps:
        if "n_jobs" in step.get_params(deep=False):
            step.set_params(n_jobs=1)


def _parameters(pipeline: Pipeline, **protocol: Any) -> dict:
    """The pipeline's parameters (JSON values only) and the protocol's options."""
    steps = {}
    for name, step in pipeline.steps:
        params = step.get_params(deep=False)
        steps[name] = {"class": type(step).__name__, **{k: v for k, v in params.items() if _is_json_scalar(v)}}
    return {"pipeline": steps, "protocol": protocol}


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def data_fingerprint(transactions: pd.DataFrame) -> str:
    """sha256 of the transaction table's content, independent of row order (the data the model came from)."""
    canonical = pd.DataFrame(
        {
            "transaction_id": transactions["transaction_id"].astype(str),
            "timestamp": _epoch_ns(transactions["timestamp"]),
            "customer_id": transactions["customer_id"].astype(str),
            "terminal_id": transactions["terminal_id"].astype(str),
            "cents": np.rint(transactions["amount"].to_numpy(dtype=np.float64) * 100).astype(np.int64),
            "is_fraud": transactions["is_fraud"].fillna(0).to_numpy(dtype=np.int64),
        }
    )
    row_hashes = np.sort(pd.util.hash_pandas_object(canonical, index=False).to_numpy())
    return hashlib.sha256(row_hashes.tobytes()).hexdigest()


def _epoch_ns(timestamps: pd.Series) -> np.ndarray:
    return pd.to_datetime(timestamps, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_package.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="transaction CSV (model_package.io format)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default=DEFAULT_ALGORITHM)
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to create")
    parser.add_argument("--train-start", type=date.fromisoformat, help="first training day, YYYY-MM-DD")
    parser.add_argument("--alert-budget", type=int, default=100, help="review alerts a day (default 100)")
    parser.add_argument("--precision-target", type=float, default=0.8, help="decline precision (default 0.8)")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        result = train_model(
            read_transactions(args.data),
            algorithm=args.algorithm,
            train_start=args.train_start,
            alert_budget=args.alert_budget,
            precision_target=args.precision_target,
            random_state=args.random_state,
        )
        directory = save_artifact(result, args.out)
    except ModelPackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    windows = result.windows
    print(
        f"{result.version}: trained on {windows['train_start']} .. {windows['train_end']}, "
        f"tested on {windows['test_start']} .. {windows['test_end']}"
    )
    print(format_metrics(result.metrics))
    print(f"artifact: {directory} (manifest sha256 {manifest_sha256(directory)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
