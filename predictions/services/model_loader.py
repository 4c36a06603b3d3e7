"""The one loader of model artifacts for serving: lazy, cached per process, verified by hash.

Each scoring request reads the active ModelVersion row (one small indexed query) and gets the
model from the cache, keyed by the row's version and artifact hash. Activating another version
therefore takes effect on the next request, without a restart. Nothing is loaded at import time
or in AppConfig.ready() (which also runs for `migrate`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from model_package.artifacts import ArtifactError, load_artifact
from model_package.features import check_feature_names
from model_package.predict import Model
from predictions import metrics
from predictions.errors import DomainError
from predictions.models import ModelVersion
from predictions.services import serving

logger = logging.getLogger(__name__)

# Keep the active model and a couple of others (rescore --verify walks older versions).
_MAX_CACHED_MODELS = 3
# A broken artifact is not re-read (and re-hashed) on every request; it is retried after this long.
_RETRY_FAILED_LOAD_SECONDS = 10.0

_CacheKey = tuple[str, str, str]

_lock = threading.Lock()
_models: dict[_CacheKey, Model] = {}
_failures: dict[_CacheKey, tuple[float, str]] = {}


class ModelUnavailable(DomainError):
    """No model can score now: none is active, or its artifact cannot be loaded and verified."""

    status_code = 503
    code = "model_unavailable"


def active_model(serving_rows: list[tuple] | None = None) -> tuple[ModelVersion, Model]:
    """The active model version and its loaded, verified model; raises ModelUnavailable.

    Its one query also reads the challenger and the decision policy's generation (services/serving.py);
    serving_rows: that query's rows, when the caller read them beside others (serving.statement()).
    """
    active = serving.read(serving_rows)
    if active is None:
        raise ModelUnavailable("no model version is active")
    return active, model_for_version(active)


def model_for_version(model_version: ModelVersion) -> Model:
    """The loaded, hash-verified model of model_version (active or not), from the cache when possible."""
    key = (model_version.version, model_version.artifact_sha256, model_version.artifact_path)
    model = _models.get(key)
    if model is not None:
        return model
    with _lock:
        # Another thread may have loaded it while this one waited for the lock.
        model = _models.get(key)
        if model is None:
            model = _load(key)
            _models[key] = model
            while len(_models) > _MAX_CACHED_MODELS:
                _models.pop(next(iter(_models)))
    return model


def clear_cache() -> None:
    """Forget every loaded model (tests, and after an artifact was replaced on disk)."""
    with _lock:
        _models.clear()
        _failures.clear()
    serving.forget()


def _load(key: _CacheKey) -> Model:
    version, sha256, path = key
    failed = _failures.get(key)
    if failed is not None and time.monotonic() - failed[0] < _RETRY_FAILED_LOAD_SECONDS:
        raise ModelUnavailable(failed[1])
    started = time.perf_counter()
    try:
        model = load_artifact(Path(path), expected_sha256=sha256)
        _check_features(model)
        if model.version != version:
            # The audit stores the row as the prediction's model and the response names the manifest's.
            raise ModelUnavailable(f"the artifact at {path} is version {model.version}, not {version}")
    except (ArtifactError, ModelUnavailable) as exc:
        message = f"model version {version} cannot be loaded: {exc}"
        _failures[key] = (time.monotonic(), message)
        metrics.MODEL_LOAD_FAILURES.labels(version).inc()
        logger.error("%s", message)
        raise ModelUnavailable(message) from None
    _failures.pop(key, None)
    metrics.MODEL_LOAD.labels(version).observe(time.perf_counter() - started)
    logger.info("model version %s loaded from %s", version, path)
    return model


def _check_features(model: Model) -> None:
    # The service computes each model's own feature list (model.feature_names) with model_package.features:
    # any list of features it knows, in any order, so that older versions keep scoring with theirs.
    try:
        check_feature_names(model.feature_names)
    except ValueError as exc:
        message = f"the artifact expects features model_package.features does not compute: {exc}"
        raise ModelUnavailable(message) from None
