"""Feature rows in, scores out: the probability of fraud, the decision, the reasons and the model version.

A row's score never depends on the other rows scored with it (trees are walked row by row, a linear
model is reduced row by row rather than by BLAS), so a stored score can be recomputed from its stored
features alone, and `score_one(x).score == score_many(x[None])[0].score` exactly.

Reasons are occlusion (each feature set to its training median, the drop in score). A gradient-boosting
model is walked as one flat array of all its trees (_CompiledBoosting), which gives scikit-learn's leaves
and sums bit for bit, and re-walks for an occluded copy only the trees whose path tests that feature: the
other trees give the same leaf, so the occluded scores are exact and cost a fraction of scoring the copies.
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
_EXPLAIN_BLOCK_ROWS = 256  # rows explained at a time: bounds the (rows x features x trees) work arrays
_WALKED_ROWS = 256  # up to this many rows, walking all trees at once beats scikit-learn's tree-by-tree loop

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
        self._occluded_scores = getattr(self._score, "occluded_scores", self._occluded_scores_by_scoring)

    def decide(self, score: float) -> str:
        if score >= self.thresholds.decline:
            return DECLINE
        if score >= self.thresholds.review:
            return REVIEW
        return APPROVE

    def score_one(self, features: np.ndarray) -> Scored:
        """Score one feature row (in feature_names order), with its reasons."""
        row = self._rows(features, ndim=1)
        block = self._occluded_scores(row, self._medians)[0]
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
        for start in range(0, len(wanted), _EXPLAIN_BLOCK_ROWS):
            some = wanted[start : start + _EXPLAIN_BLOCK_ROWS]
            blocks.update(zip(some.tolist(), self._occluded_scores(rows[some], self._medians), strict=True))
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

    def _occluded_scores_by_scoring(self, rows: np.ndarray, medians: np.ndarray) -> np.ndarray:
        """Per row: its score, then the score of each copy with one feature set to its training median."""
        # The rows and their occluded copies in one call: one pass over the trees instead of one per copy.
        return self._score(occluded(rows, medians)).reshape(len(rows), -1)


def occluded(rows: np.ndarray, medians: np.ndarray) -> np.ndarray:
    """For each row: the row, then one copy per feature with that feature set to its median (rows x (width+1))."""
    width = rows.shape[1]
    blocks = np.repeat(rows, width + 1, axis=0).reshape(len(rows), width + 1, width)
    index = np.arange(width)
    blocks[:, index + 1, index] = medians
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
        return _CompiledBoosting.of(final) or _boosting_scorer(final)
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


class _CompiledBoosting:
    """A binary HistGradientBoostingClassifier's trees as flat node arrays, walked for all trees at once.

    The same comparison as scikit-learn's predictor (`x <= threshold`; a leaf is its own child, so a walk
    simply stays there) gives the same leaves, and the leaf values are summed onto the baseline tree by tree
    (a sequential cumsum), as `_raw_predict` adds them: the scores are scikit-learn's bit for bit
    (tests/model_package/test_predict.py). The walk pays per level, scikit-learn per tree: walking wins for a
    few rows (one row of the default model's 300 trees: 0.05 ms against 2 ms), scikit-learn for thousands, and
    rows with a NaN go through scikit-learn too. Either way the bits are the same.
    """

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        trees = [iteration[0].nodes for iteration in model._predictors]
        sizes = np.array([len(nodes) for nodes in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        nodes = np.concatenate(trees)
        here = np.arange(len(nodes))
        shift = np.repeat(offsets, sizes)
        leaf = nodes["is_leaf"].astype(bool)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.inner = ~leaf
        # children[2 * node + (x <= threshold)]: the right child, then the left one; a leaf twice itself.
        right = np.where(leaf, here, nodes["right"].astype(np.intp) + shift)
        left = np.where(leaf, here, nodes["left"].astype(np.intp) + shift)
        self.children = np.stack([right, left], axis=1).ravel()
        self.value = nodes["value"].astype(np.float64)
        self.roots = offsets
        self.depth = int(nodes["depth"].max())
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
        self.loss = model._loss
        self.exact = _boosting_scorer(model)

    @classmethod
    def of(cls, model: HistGradientBoostingClassifier) -> _CompiledBoosting | None:
        """The compiled trees, or None for a model they would not reproduce (multiclass, categorical splits)."""
        if model.n_trees_per_iteration_ != 1 or any(
            iteration[0].nodes["is_categorical"].any() for iteration in model._predictors
        ):
            return None
        return cls(model)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) > _WALKED_ROWS or np.isnan(rows).any():
            return self.exact(rows)
        return self._probability(self.value[self._walk(rows, np.tile(self.roots, (len(rows), 1)))])

    def occluded_scores(self, rows: np.ndarray, medians: np.ndarray) -> np.ndarray:
        """score(occluded(rows, medians)) as a (rows, width + 1) block, re-walking only the trees that change."""
        if np.isnan(rows).any() or np.isnan(medians).any():
            return self.exact(occluded(rows, medians)).reshape(len(rows), -1)
        path: list[np.ndarray] = []
        leaves = self._walk(rows, np.tile(self.roots, (len(rows), 1)), path=path)
        # A copy with feature j at its median follows the row's path in a tree unless a split of that path on j
        # sends the median the other way: only those (row, tree, j) are walked again (twice if two splits do).
        steps = np.stack(path)
        step_row = np.broadcast_to(np.arange(len(rows))[None, :, None], steps.shape)
        step_tree = np.broadcast_to(np.arange(len(self.roots))[None, None, :], steps.shape)
        feature = self.feature[steps]
        threshold = self.threshold[steps]
        turns = self.inner[steps] & ((rows[step_row, feature] <= threshold) != (medians[feature] <= threshold))
        row, tree, feature = step_row[turns], step_tree[turns], feature[turns]
        copies = rows[row]
        copies[np.arange(len(row)), feature] = medians[feature]
        moved = self._walk(copies, self.roots[tree][:, None])[:, 0]
        # Every copy whose leaves are the row's has the row's score (the same sums in the same order): only the
        # rows and the copies with a moved leaf are summed.
        changed = np.zeros((len(rows), rows.shape[1] + 1), dtype=bool)
        changed[:, 0] = True
        changed[row, feature + 1] = True
        which_row, which_copy = np.nonzero(changed)
        values = self.value[leaves][which_row]
        slot = np.full(changed.shape, -1)
        slot[which_row, which_copy] = np.arange(len(which_row))
        values[slot[row, feature + 1], tree] = self.value[moved]
        scores = np.empty(changed.shape)
        scores[which_row, which_copy] = self._probability(values)
        unchanged_row, unchanged_copy = np.nonzero(~changed)
        scores[unchanged_row, unchanged_copy] = scores[unchanged_row, 0]
        return scores

    def _walk(self, rows: np.ndarray, node: np.ndarray, *, path: list | None = None) -> np.ndarray:
        """The leaf each row reaches from each of its start nodes (node: rows x starts); the nodes passed
        through, one array per level, are appended to `path` if it is given."""
        row = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            if path is not None:
                path.append(node)
            feature = self.feature[node]
            node = self.children[2 * node + (rows[row, feature] <= self.threshold[node])]
        return node

    def _probability(self, values: np.ndarray) -> np.ndarray:
        """P(fraud) from each row's leaf values (rows x trees), summed onto the baseline in tree order."""
        raw = np.empty((values.shape[1] + 1, len(values)))
        raw[0] = self.baseline
        raw[1:] = values.T
        return self.loss.predict_proba(np.cumsum(raw, axis=0)[-1])[:, 1]


def _linear_scorer(scaler: StandardScaler, model: LogisticRegression) -> Scorer:
    """expit(scaled rows . coef + intercept), reduced row by row: BLAS would round differently per batch size."""
    mean = scaler.mean_ if scaler.with_mean else np.zeros(scaler.n_features_in_)
    scale = scaler.scale_ if scaler.with_std else np.ones(scaler.n_features_in_)
    coef, intercept = model.coef_[0].copy(), float(model.intercept_[0])

    def score(rows: np.ndarray) -> np.ndarray:
        return expit(((rows - mean) / scale * coef).sum(axis=1) + intercept)

    return score
