"""Feature rows in, scores out: the probability of fraud, the decision, the reasons and the model version.

A row's score never depends on the other rows scored with it (trees are walked row by row, a linear
model is reduced row by row rather than by BLAS), so a stored score can be recomputed from its stored
features alone, and `score_one(x).score == score_many(x[None])[0].score` exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

APPROVE, REVIEW, DECLINE = "approve", "review", "decline"
EXPLAIN_CHOICES = ("all", "flagged", "none")
TOP_REASONS = 3

Scorer = Callable[[np.ndarray], np.ndarray]  # (n, features) float64 -> (n,) probabilities of fraud


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds: score >= decline -> decline, score >= review -> review, else approve."""

    review: float
    decline: float


@dataclass(frozen=True)
class Reason:
    """A feature that pushed the score up: its value and how much the score drops without it."""

    feature: str
    value: float
    contribution: float


@dataclass(frozen=True)
class Scored:
    """One scored row: P(fraud), the decision it leads to, the reasons (maybe none) and who scored it."""

    score: float
    decision: str
    reasons: tuple[Reason, ...]
    model_version: str


class Model:
    """A fitted pipeline with its manifest: scores, decides and explains feature rows."""

    def __init__(self, *, pipeline: Pipeline, manifest: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.algorithm: str = manifest["algorithm"]
        self.feature_names: tuple[str, ...] = tuple(manifest["feature_names"])
        self.thresholds = Thresholds(
            review=float(manifest["thresholds"]["review"]), decline=float(manifest["thresholds"]["decline"])
        )
        self._medians = np.asarray(manifest["feature_medians"], dtype=np.float64)
        if self._medians.shape != (len(self.feature_names),):
            raise ValueError("the manifest must give one training median per feature")
        if getattr(pipeline, "n_features_in_", len(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"the pipeline expects {pipeline.n_features_in_} features, not {len(self.feature_names)}")
        self._score = scorer_for(pipeline)

    def decide(self, score: float) -> str:
        if score >= self.thresholds.decline:
            return DECLINE
        if score >= self.thresholds.review:
            return REVIEW
        return APPROVE

    def score_one(self, features: np.ndarray) -> Scored:
        """Score one feature row (FEATURE_NAMES order), with its reasons."""
        row = self._rows(features, ndim=1)
        # The row and its occluded copies in one call: one pass over the trees instead of sixteen.
        block = self._score(self._occluded(row))
        return self._scored(row[0], float(block[0]), block)

    def score_many(self, features: np.ndarray, *, explain: str = "flagged") -> list[Scored]:
        """Score a (n, features) matrix; reasons for "all" rows, the "flagged" ones (not approved) or "none"."""
        if explain not in EXPLAIN_CHOICES:
            raise ValueError(f"explain must be one of {', '.join(EXPLAIN_CHOICES)}, not {explain!r}")
        rows = self._rows(features, ndim=2)
        scores = self._score(rows)
        if explain == "all":
            wanted = np.arange(len(rows))
        elif explain == "flagged":
            wanted = np.flatnonzero(scores >= self.thresholds.review)
        else:
            wanted = np.arange(0)
        blocks: dict[int, np.ndarray] = {}
        if len(wanted):
            occluded = self._score(self._occluded(rows[wanted])).reshape(len(wanted), -1)
            blocks = dict(zip(wanted.tolist(), occluded, strict=True))
        return [self._scored(rows[i], float(scores[i]), blocks.get(i)) for i in range(len(rows))]

    def _scored(self, row: np.ndarray, score: float, block: np.ndarray | None) -> Scored:
        reasons = () if block is None else self._reasons(row, block)
        return Scored(score=score, decision=self.decide(score), reasons=reasons, model_version=self.version)

    def _reasons(self, row: np.ndarray, block: np.ndarray) -> tuple[Reason, ...]:
        """The features whose replacement by the training median lowers the score most (occlusion)."""
        contributions = block[0] - block[1:]
        strongest = np.argsort(-contributions, kind="stable")[:TOP_REASONS]
        return tuple(
            Reason(feature=self.feature_names[j], value=float(row[j]), contribution=float(contributions[j]))
            for j in strongest
            if contributions[j] > 0
        )

    def _rows(self, features: np.ndarray, *, ndim: int) -> np.ndarray:
        """Validated features as a C-contiguous float64 (n, features) matrix."""
        rows = np.asarray(features, dtype=np.float64)
        width = len(self.feature_names)
        if rows.ndim != ndim or rows.shape[-1] != width:
            expected = f"({width},)" if ndim == 1 else f"(n, {width})"
            raise ValueError(f"expected features of shape {expected}, got {rows.shape}")
        if not np.isfinite(rows).all():
            raise ValueError("features must be finite numbers")
        return np.ascontiguousarray(rows.reshape(-1, width))

    def _occluded(self, rows: np.ndarray) -> np.ndarray:
        """For each row: the row, then one copy per feature with that feature set to its training median."""
        width = len(self.feature_names)
        blocks = np.repeat(rows, width + 1, axis=0).reshape(len(rows), width + 1, width)
        index = np.arange(width)
        blocks[:, index + 1, index] = self._medians
        return blocks.reshape(-1, width)


def scorer_for(pipeline: Pipeline) -> Scorer:
    """The fastest row-independent way to get P(fraud) from this pipeline."""
    steps = [step for _, step in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    final = steps[-1]
    if list(getattr(final, "classes_", [])) != [0, 1]:
        raise ValueError("the model must be a binary classifier of labels 0 and 1")
    if len(steps) == 1 and isinstance(final, RandomForestClassifier):
        return _forest_scorer(final)
    if len(steps) == 2 and isinstance(steps[0], StandardScaler) and isinstance(final, LogisticRegression):
        return _linear_scorer(steps[0], final)
    if len(steps) == 1 and isinstance(final, HistGradientBoostingClassifier):
        return _boosting_scorer(final)
    # Anything else: scikit-learn's own predict_proba (row-independence is then the estimator's business).
    return lambda rows: pipeline.predict_proba(rows)[:, 1]


def _forest_scorer(forest: RandomForestClassifier) -> Scorer:
    """Mean of the trees' class-1 probabilities, as predict_proba with n_jobs=1 gives it, bit for bit.

    The trees are laid end to end in flat arrays, and every (tree, row) pair walks down them at once, one
    level per numpy step. Calling each tree's predict costs a few microseconds of overhead per tree, which
    was 0.4 ms for a 100-tree forest on one row; this takes a third of that (bench/RESULTS.md, issue 13).
    """
    trees = [estimator.tree_ for estimator in forest.estimators_]
    roots = np.cumsum([0] + [tree.node_count for tree in trees[:-1]])
    feature = np.concatenate([tree.feature for tree in trees]).astype(np.intp)
    threshold = np.concatenate([tree.threshold for tree in trees])
    left = np.concatenate([tree.children_left + root for tree, root in zip(trees, roots, strict=True)])
    right = np.concatenate([tree.children_right + root for tree, root in zip(trees, roots, strict=True)])
    is_leaf = np.concatenate([tree.children_left == -1 for tree in trees])
    leaf_ids = np.flatnonzero(is_leaf)
    left[leaf_ids], right[leaf_ids], feature[leaf_ids] = leaf_ids, leaf_ids, 0  # a leaf stays where it is
    leaf_value = np.concatenate([tree.value[:, 0, 1] for tree in trees])  # what tree.predict gives, as fractions

    def score(rows: np.ndarray) -> np.ndarray:
        # Trees split on float32 features, as predict_proba converts them; thresholds stay float64.
        rows32 = np.ascontiguousarray(rows, dtype=np.float32)
        nodes = np.repeat(roots, len(rows))  # (tree, row) pairs, tree-major
        row_of = np.tile(np.arange(len(rows)), len(trees))
        walking = np.flatnonzero(~is_leaf[nodes])
        while walking.size:
            at = nodes[walking]
            goes_left = rows32[row_of[walking], feature[at]] <= threshold[at]
            nodes[walking] = np.where(goes_left, left[at], right[at])
            walking = walking[~is_leaf[nodes[walking]]]
        # Summed over the trees in tree order (a reduction along the outer axis adds one tree at a time), as
        # predict_proba sums them: the scores are the same to the last bit.
        return np.add.reduce(leaf_value[nodes].reshape(len(trees), len(rows)), axis=0) / len(trees)

    return score


def _boosting_scorer(model: HistGradientBoostingClassifier) -> Scorer:
    """predict_proba in one thread: for a few rows, waking OpenMP threads costs ten times the trees (1.7.x API).

    The exact scikit-learn version is checked when an artifact loads, so this private call cannot drift.
    """

    def score(rows: np.ndarray) -> np.ndarray:
        return model._loss.predict_proba(model._raw_predict(rows, n_threads=1))[:, 1]

    return score


def _linear_scorer(scaler: StandardScaler, model: LogisticRegression) -> Scorer:
    """expit(scaled rows . coef + intercept), reduced row by row: BLAS would round differently per batch size."""
    mean = scaler.mean_ if scaler.with_mean else np.zeros(scaler.n_features_in_)
    scale = scaler.scale_ if scaler.with_std else np.ones(scaler.n_features_in_)
    coef, intercept = model.coef_[0].copy(), float(model.intercept_[0])

    def score(rows: np.ndarray) -> np.ndarray:
        return expit(((rows - mean) / scale * coef).sum(axis=1) + intercept)

    return score
