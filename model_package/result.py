"""What training returns and an artifact is saved from, in a module of its own so both can import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sklearn.pipeline import Pipeline

from model_package.features import FEATURE_NAMES
from model_package.predict import Thresholds


@dataclass(frozen=True)
class TrainResult:
    """A fitted pipeline, its thresholds and test metrics, and the record of how it was made."""

    pipeline: Pipeline
    algorithm: str
    parameters: dict
    metrics: dict
    thresholds: Thresholds
    windows: dict[str, str]
    fingerprint: str
    version: str
    created_at: datetime
    feature_names: tuple[str, ...] = FEATURE_NAMES
    feature_medians: tuple[float, ...] = field(default=())  # training medians, the reference for reasons
