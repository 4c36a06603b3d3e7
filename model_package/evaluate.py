"""The HANDBOOK's metrics: ROC AUC, average precision and card precision@k; and the figures at a threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

TOP_K = 100  # the k of card precision@k in the training metrics


def card_precision_at_k(frame: pd.DataFrame, *, k: int = TOP_K) -> float:
    """Mean over days of the share of compromised cards among the day's k highest-scored cards.

    frame: day, customer_id, score, label. Each day a card counts once (its max score, its max label);
    cards caught (fraud among the top k) on an earlier day are left out of later days.
    """
    caught: set[str] = set()
    precisions = []
    for _, day in frame.groupby("day", sort=True):
        cards = day[~day["customer_id"].isin(caught)].groupby("customer_id")[["score", "label"]].max()
        # Stable sort: equal scores keep the card-id order, so the result does not depend on row order.
        top = cards.sort_values("score", ascending=False, kind="stable").head(k)
        frauds = top.index[top["label"] == 1]
        precisions.append(len(frauds) / k)
        caught.update(frauds)
    return float(np.mean(precisions)) if precisions else float("nan")


def evaluate_scores(frame: pd.DataFrame, *, k: int = TOP_K) -> dict:
    """auc, average_precision, card_precision_at_k, n, frauds for scored rows (day, customer_id, score, label).

    AUC and AP are None when the rows hold only one class (they are undefined there).
    """
    labels = frame["label"].to_numpy(dtype=np.int64)
    scores = frame["score"].to_numpy(dtype=np.float64)
    both_classes = 0 < labels.sum() < len(labels)
    return {
        "auc": float(roc_auc_score(labels, scores)) if both_classes else None,
        "average_precision": float(average_precision_score(labels, scores)) if both_classes else None,
        "card_precision_at_k": card_precision_at_k(frame, k=k) if len(frame) else None,
        "n": len(frame),
        "frauds": int(labels.sum()),
    }


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float, *, days: int) -> dict:
    """alerts_per_day, precision and recall of flagging the scores >= threshold (None where undefined)."""
    flagged = scores >= threshold
    caught = int(labels[flagged].sum())
    return {
        "alerts_per_day": round(float(flagged.sum()) / days, 3),
        "precision": caught / int(flagged.sum()) if flagged.any() else None,
        "recall": caught / int(labels.sum()) if labels.any() else None,
    }
