"""Reference distributions kept from training, and the population stability index (PSI) against them.

A model's artifact keeps, for its score and for each of its features, the share of training rows in each of
about ten bins cut at the training deciles. Served values binned at the same edges give the current shares;
PSI = sum over bins of (current - reference) * ln(current / reference). The usual reading: below 0.1 stable,
0.1 to 0.2 a moderate shift, above 0.2 a shift worth a look (DRIFT_PSI).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILES = np.linspace(0.1, 0.9, 9)  # deciles: ten bins where the values allow it
SCORE_HISTOGRAM_BINS = 20  # equal-width bins on [0, 1] for drawing the score's histogram
DRIFT_PSI = 0.2
# A bin empty on one side would make PSI infinite; both shares are floored at this before the logarithm.
MIN_SHARE = 1e-4


def bin_edges(values: np.ndarray) -> list[float]:
    """Inner bin edges at the deciles of values (values that occur), repeats dropped: a 0/1 flag gets 0 and 1."""
    return [float(edge) for edge in np.unique(np.quantile(values, QUANTILES, method="lower"))]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """The share of values in each bin (-inf, e1], (e1, e2], ..., (ek, inf); len(edges) + 1 shares."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return [0.0] * (len(edges) + 1)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left"), minlength=len(edges) + 1
    )
    return [float(share) for share in counts / values.size]


def reference_distribution(values: np.ndarray) -> dict[str, list[float]]:
    """{"edges", "shares"}: the bins a later sample is compared with, and the training share of each."""
    edges = bin_edges(values)
    return {"edges": edges, "shares": bin_shares(values, edges)}


def score_histogram(scores: np.ndarray) -> list[float]:
    """The share of scores in each of SCORE_HISTOGRAM_BINS equal-width bins on [0, 1]."""
    counts, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=SCORE_HISTOGRAM_BINS, range=(0.0, 1.0))
    total = counts.sum()
    return [float(count / total) if total else 0.0 for count in counts]


def training_reference(*, scores: np.ndarray, features: np.ndarray, feature_names: Sequence[str]) -> dict:
    """What a model keeps of its training data to measure drift: binned score and feature distributions."""
    return {
        "rows": len(scores),
        "score": {**reference_distribution(scores), "histogram": score_histogram(scores)},
        "features": {name: reference_distribution(features[:, i]) for i, name in enumerate(feature_names)},
    }


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """The population stability index of current shares against reference shares over the same bins."""
    expected = np.maximum(np.asarray(reference, dtype=np.float64), MIN_SHARE)
    actual = np.maximum(np.asarray(current, dtype=np.float64), MIN_SHARE)
    if expected.shape != actual.shape:
        raise ValueError(f"{expected.size} reference bins against {actual.size} current bins")
    return float(np.sum((actual - expected) * np.log(actual / expected)))
