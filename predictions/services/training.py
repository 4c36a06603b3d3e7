"""Training a model from a file or from the stored, labelled transactions, and registering it.

Training from the database closes the loop: labels recorded by analysts (reviews) and chargebacks
become the is_fraud column of the next model's training data.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings

from model_package.artifacts import manifest_sha256, save_artifact
from model_package.errors import TrainingError
from model_package.io import read_transactions
from model_package.report import format_metrics
from model_package.result import TrainResult
from model_package.train import DEFAULT_ALGORITHM, train_model
from predictions.models import Label, ModelVersion, Transaction
from predictions.services.events import Actor
from predictions.services.model_versions import model_version_activate, model_version_register

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOptions:
    algorithm: str | None = None  # None: model_package's default model (train.DEFAULT_ALGORITHM, its parameters)
    alert_budget: int = 100
    precision_target: float = 0.8
    train_start: date | None = None


@dataclass(frozen=True)
class TrainingOutcome:
    model_version: ModelVersion
    metrics_table: str
    rows: int
    created: bool  # False: the same data and options had already produced this registered version
    activated: bool


def model_train_from_file(*, path: Path, options: TrainingOptions, activate_by: Actor | None = None) -> TrainingOutcome:
    """Train on a transactions CSV (with is_fraud), register the model, and activate it if activate_by acts."""
    frame = read_transactions(Path(path))
    return _train_and_register(frame, options=options, activate_by=activate_by)


def model_train_from_db(
    *, since: datetime, until: datetime, options: TrainingOptions, activate_by: Actor | None = None
) -> TrainingOutcome:
    """Train on the stored transactions with since <= timestamp < until; label fraud is 1, anything else 0."""
    if since >= until:
        raise TrainingError(f"--since ({since:%Y-%m-%d %H:%M}) must be before --until ({until:%Y-%m-%d %H:%M})")
    frame = training_frame(since=since, until=until)
    if frame.empty:
        raise TrainingError(f"no stored transactions between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M}")
    return _train_and_register(frame, options=options, activate_by=activate_by)


def training_frame(*, since: datetime, until: datetime) -> pd.DataFrame:
    """The stored transactions in [since, until) in model_package's transaction format."""
    columns: dict[str, list] = {name: [] for name in ("transaction_id", "timestamp", "customer_id", "terminal_id")}
    amounts: list[float] = []
    is_fraud: list[int] = []
    rows = (
        Transaction.objects.filter(timestamp__gte=since, timestamp__lt=until)
        .order_by("timestamp", "transaction_id")
        .values_list("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "label")
        .iterator(chunk_size=20_000)
    )
    for transaction_id, timestamp, customer_id, terminal_id, amount, label in rows:
        columns["transaction_id"].append(transaction_id)
        columns["timestamp"].append(timestamp)
        columns["customer_id"].append(customer_id)
        columns["terminal_id"].append(terminal_id)
        amounts.append(float(amount))
        is_fraud.append(int(label == Label.FRAUD))
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["amount"] = np.asarray(amounts, dtype=np.float64)
    frame["is_fraud"] = np.asarray(is_fraud, dtype=np.int64)
    return frame


def _train_and_register(frame: pd.DataFrame, *, options: TrainingOptions, activate_by: Actor | None) -> TrainingOutcome:
    # train_model refuses (TrainingError) a model whose thresholds leave no review band, before anything is saved.
    result = train_model(
        frame,
        algorithm=options.algorithm or DEFAULT_ALGORITHM,
        train_start=options.train_start,
        alert_budget=options.alert_budget,
        precision_target=options.precision_target,
    )
    existing = _same_model(result)
    created = existing is None
    model_version = existing or _register(result)
    activated = activate_by is not None and not model_version.is_active
    if activated:
        model_version = model_version_activate(version=model_version.version, actor=activate_by)
    logger.info("trained %s on %d rows (%s)", model_version.version, len(frame), "new" if created else "existing")
    return TrainingOutcome(
        model_version=model_version,
        metrics_table=format_metrics(result.metrics),
        rows=len(frame),
        created=created,
        activated=activated,
    )


def _same_model(result: TrainResult) -> ModelVersion | None:
    """A registered version trained on the same data with the same options: training is deterministic."""
    thresholds = {"review": result.thresholds.review, "decline": result.thresholds.decline}
    candidates = ModelVersion.objects.filter(training_fingerprint=result.fingerprint, algorithm=result.algorithm)
    for candidate in candidates.order_by("registered_at"):
        # Compared in Python: JSON equality in SQL differs between SQLite and PostgreSQL.
        same = (candidate.parameters, candidate.thresholds, candidate.training_window) == (
            _json_like(result.parameters),
            thresholds,
            _json_like(result.windows),
        )
        if same:
            return candidate
    return None


def _json_like(value: object) -> object:
    """value as it reads back from a JSONField (tuples become lists, dates strings)."""
    return json.loads(json.dumps(value, default=str))


def _register(result: TrainResult) -> ModelVersion:
    artifact_dir = _save(result)
    try:
        return model_version_register(artifact_dir=artifact_dir)
    except Exception:
        shutil.rmtree(artifact_dir, ignore_errors=True)  # never leave an unregistered artifact behind
        raise


def _save(result: TrainResult) -> Path:
    """Write the artifact under FRAUDSITE_MODEL_DIR/<version>, whole or not at all."""
    model_dir = Path(settings.FRAUDSITE_MODEL_DIR)
    model_dir.mkdir(parents=True, exist_ok=True)
    final = model_dir / result.version
    if final.exists():
        raise TrainingError(f"{final} already exists and is not a registered model version; move it away first")
    partial = model_dir / f".{result.version}.{uuid.uuid4().hex}.partial"
    try:
        save_artifact(result, partial)
        # Same file system: the rename is atomic, so the version directory is never half written.
        partial.rename(final)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    logger.info("artifact %s written to %s (manifest sha256 %s)", result.version, final, manifest_sha256(final))
    return final
