"""Verifying the audit: every stored prediction, recomputed from its stored features with its own model.

A stored prediction is reproducible when its model version's artifact (verified by hash) gives exactly
the stored score for the stored feature vector, the decision that score takes with the version's
thresholds is the stored decision, and the reasons it gives are the stored reasons. Anything else is a
difference, reported one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

import numpy as np

from model_package.predict import Model
from predictions.models import ModelVersion, Prediction
from predictions.services.model_loader import ModelUnavailable, model_for_version
from predictions.services.records import REASONS, reasons_of

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class Difference:
    prediction_id: int
    transaction_id: str
    model_version: str
    problem: str

    def __str__(self) -> str:
        return (
            f"prediction {self.prediction_id} (transaction {self.transaction_id}, {self.model_version}): {self.problem}"
        )


@dataclass
class VerifyResult:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # predictions checked per model version


def predictions_verify(*, since: datetime | None = None, chunk_rows: int = CHUNK_ROWS, progress=None) -> VerifyResult:
    """Recompute the stored predictions scored at or after `since` (all when None); report every difference."""
    predictions = Prediction.objects.all()
    if since is not None:
        predictions = predictions.filter(scored_at__gte=since)
    total = predictions.count()
    result = VerifyResult()
    version_ids = predictions.order_by().values_list("model_version_id", flat=True).distinct()
    for model_version in ModelVersion.objects.filter(pk__in=list(version_ids)).order_by("registered_at"):
        rows = (
            predictions.filter(model_version=model_version)
            .order_by("id")
            .values_list("id", "transaction__transaction_id", "score", "decision", "features", "reasons")
            .iterator(chunk_size=chunk_rows)
        )
        checked = _verify_version(
            model_version, rows, result=result, chunk_rows=chunk_rows, progress=progress, total=total
        )
        result.versions[model_version.version] = checked
    logger.info("rescore --verify: %d predictions checked, %d differences", result.checked, len(result.differences))
    return result


def _verify_version(
    model_version: ModelVersion, rows, *, result: VerifyResult, chunk_rows: int, progress, total
) -> int:
    try:
        model = model_for_version(model_version)
    except ModelUnavailable as exc:
        model = None
        problem = f"cannot recompute: {exc}"
    checked = 0
    for chunk in _chunks(rows, chunk_rows):
        if model is None:
            result.differences += [Difference(pid, tid, model_version.version, problem) for pid, tid, *_ in chunk]
        else:
            result.differences += _compare(model, model_version.version, chunk)
        checked += len(chunk)
        result.checked += len(chunk)
        if progress is not None:
            progress(len(chunk), total)
    return checked


def _compare(model: Model, version: str, chunk: list[tuple]) -> list[Difference]:
    differences = []
    names = model.feature_names
    usable, vectors = [], []
    for pid, tid, score, decision, features, reasons in chunk:
        if not isinstance(features, list) or len(features) != len(names):
            differences.append(Difference(pid, tid, version, "stored features do not match the model's feature list"))
            continue
        usable.append((pid, tid, score, decision, reasons))
        vectors.append(features)
    if not usable:
        return differences
    recomputed = model.score_many(np.asarray(vectors, dtype=np.float64), explain=REASONS)
    for (pid, tid, score, decision, reasons), fresh in zip(usable, recomputed, strict=True):
        if fresh.score != score:
            differences.append(Difference(pid, tid, version, f"stored score {score!r}, recomputed {fresh.score!r}"))
        elif fresh.decision != decision:
            differences.append(
                Difference(pid, tid, version, f"stored decision {decision}, the model decides {fresh.decision}")
            )
        elif reasons_of(fresh) != reasons:
            differences.append(Difference(pid, tid, version, "stored reasons differ from the recomputed reasons"))
    return differences


def _chunks(rows, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
