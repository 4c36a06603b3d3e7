"""The challenger (shadow) model: scored beside the champion on every scoring request, stored, never deciding.

The scoring path makes two calls here: shadow_score() before its write block (the challenger's scores, from
the champion's feature vectors when the challenger's features are among them, else recomputed), and
shadow_store() inside it, after the champion's predictions, so both commit together or not at all.
Nothing here changes the answer: a challenger that cannot be loaded or scored is skipped, logged and
counted (shadow_failure_record), and the request goes on with the champion alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from model_package.predict import Model
from predictions.metrics import challenger_failed
from predictions.models import ModelVersion, Prediction, ShadowPrediction
from predictions.services.integrity import signed
from predictions.services.model_loader import ModelUnavailable, model_for_version
from predictions.services.records import model_prediction_row
from predictions.services.row_sql import insert_row
from predictions.services.serving import challenger_version

logger = logging.getLogger(__name__)

# A failing challenger fails on every request; its log line is written at most this often per process.
_LOG_EVERY_SECONDS = 60.0

# Requests the challenger was skipped on, by (version, stage); the metrics exporter can read or wrap this.
shadow_failures: Counter[tuple[str, str]] = Counter()
_logged: dict[tuple[str, str], float] = {}
_lock = threading.Lock()

# The challenger explains nothing: its decision is never answered nor reviewed, and its reasons (one model call
# per feature, up to 0.8 ms a request on the bench's model) would be most of its cost. rescore --verify
# recomputes shadows with the same setting.
SHADOW_REASONS = "none"

# Recomputes the feature vectors of the request's transactions for a list of feature names, one row each.
Recompute = Callable[[Sequence[str]], np.ndarray]


def shadow_failure_record(*, version: str, stage: str, error: str, exc_info: BaseException | None = None) -> None:
    """Count (and log, at most once a minute) a request on which the challenger was skipped.

    stage: "load" (its artifact cannot be loaded and verified) or "score" (it raised while scoring).
    Counted in fraudsite_challenger_failures_total{model_version,stage} too (predictions.metrics).
    """
    challenger_failed(version=version, stage=stage)
    key = (version, stage)
    now = time.monotonic()
    with _lock:
        shadow_failures[key] += 1
        due = now - _logged.get(key, -_LOG_EVERY_SECONDS) >= _LOG_EVERY_SECONDS
        if due:
            _logged[key] = now
    if due:
        logger.error("challenger model %s skipped (%s): %s", version, stage, error, exc_info=exc_info)


def shadow_score(
    *, predictions: Sequence[Prediction], champion_names: Sequence[str], recompute: Recompute
) -> list[ShadowPrediction]:
    """The challenger's unsaved predictions of the champion's `predictions` (same order); [] without one."""
    model_version = challenger_version()
    if model_version is None or not predictions:
        return []
    try:
        model = model_for_version(model_version)
    except ModelUnavailable as exc:
        shadow_failure_record(version=model_version.version, stage="load", error=str(exc))
        return []
    # Whatever the challenger does wrong must not reach the champion's answer: any error is counted and logged
    # with its traceback, and the request goes on without the shadow.
    try:
        return _shadow_rows(model_version, model, predictions, champion_names, recompute)
    except Exception as exc:
        shadow_failure_record(version=model_version.version, stage="score", error=repr(exc), exc_info=exc)
        return []


def shadow_store(shadows: Sequence[ShadowPrediction], *, predictions: Sequence[Prediction]) -> None:
    """Insert the shadows beside their champion predictions (same transaction and request); call it in the
    write block, after the predictions are inserted. No shadows (no challenger, or it was skipped): nothing."""
    if not shadows:
        return
    shadows_linked(shadows, predictions=predictions)
    if len(shadows) == 1:
        insert_row(shadows[0])
    else:
        ShadowPrediction.objects.bulk_create(shadows)


def shadows_linked(
    shadows: Sequence[ShadowPrediction], *, predictions: Sequence[Prediction], counted: bool = True
) -> Sequence[ShadowPrediction]:
    """The shadows with their champion predictions' transaction and request (whose keys are set), signed."""
    for shadow, prediction in zip(shadows, predictions, strict=True):
        shadow.transaction = prediction.transaction
        shadow.request = prediction.request
        signed(shadow, counted=counted)
    return shadows


def _shadow_rows(
    model_version: ModelVersion,
    model: Model,
    predictions: Sequence[Prediction],
    champion_names: Sequence[str],
    recompute: Recompute,
) -> list[ShadowPrediction]:
    started = time.perf_counter()
    features = _challenger_features(model.feature_names, predictions, champion_names, recompute)
    scored = model.score_many(features, explain=SHADOW_REASONS)
    latency_ms = (time.perf_counter() - started) * 1000.0 / len(predictions)
    rows = []
    for prediction, vector, s in zip(predictions, features, scored, strict=True):
        # The model's own decision: the lists and rules decide the champion's answer, and a shadow answers nothing.
        row = model_prediction_row(
            prediction.transaction,
            model_version=model_version,
            model=model,
            features=vector,
            scored=s,
            latency_ms=latency_ms,
        )
        # Scored from the same history as the champion: rescore --verify recomputes both as of this moment.
        row.scored_at = prediction.scored_at
        rows.append(_as_shadow(row))
    return rows


def _challenger_features(
    names: Sequence[str], predictions: Sequence[Prediction], champion_names: Sequence[str], recompute: Recompute
) -> np.ndarray:
    """The challenger's feature matrix: the champion's columns when it has them all, else recomputed."""
    position = {name: index for index, name in enumerate(champion_names)}
    if all(name in position for name in names):
        champion = np.asarray([prediction.features for prediction in predictions], dtype=np.float64)
        return champion[:, [position[name] for name in names]]
    return recompute(names)


def _as_shadow(row: Prediction) -> ShadowPrediction:
    return ShadowPrediction(
        transaction=row.transaction,
        model_version=row.model_version,
        score=row.score,
        decision=row.decision,
        thresholds=row.thresholds,
        features=row.features,
        reasons=row.reasons,
        latency_ms=row.latency_ms,
        scored_at=row.scored_at,
    )
