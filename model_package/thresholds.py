"""The rule a training run chooses its review and decline thresholds by, and the choosing."""

from __future__ import annotations

import numpy as np

from model_package.evaluate import at_threshold
from model_package.predict import Thresholds

THRESHOLD_RULE = (
    "scored by the trained model on the delay-gap days, known compromised cards left out as in the test: "
    "review = the smallest score threshold with at most alert_budget alerts a day on average (never 0); "
    "decline = the smallest threshold >= review whose precision reaches precision_target (1.0 if none does)"
)


def choose_thresholds(
    scores: np.ndarray, labels: np.ndarray, *, days: int, alert_budget: int, precision_target: float
) -> tuple[Thresholds, dict]:
    """Review and decline thresholds from scored, labelled days before the test (see THRESHOLD_RULE)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    order = np.argsort(scores, kind="stable")
    ascending = scores[order]
    frauds_below = np.concatenate([[0], np.cumsum(labels[order])])
    candidates = np.unique(scores[scores > 0])
    # Alerts and frauds at or above each candidate threshold.
    below = np.searchsorted(ascending, candidates, side="left")
    alerts = len(scores) - below
    frauds = frauds_below[-1] - frauds_below[below]
    within_budget = alerts <= alert_budget * days
    if within_budget.any():
        review = float(candidates[np.argmax(within_budget)])
    else:  # ties at the top exceed the budget: alert on nothing seen so far
        review = float(min(1.0, np.nextafter(ascending[-1] if len(ascending) else 0.0, 1.0)))
    precise = (candidates >= review) & (frauds / alerts >= precision_target)
    decline = float(candidates[np.argmax(precise)]) if precise.any() else 1.0
    decline = max(decline, review)
    thresholds = Thresholds(review=review, decline=decline)
    return thresholds, {
        "transactions": len(scores),
        "frauds": int(labels.sum()),
        "alert_budget": alert_budget,
        "precision_target": precision_target,
        "review": {"threshold": review, **at_threshold(scores, labels, review, days=days)},
        "decline": {"threshold": decline, **at_threshold(scores, labels, decline, days=days)},
    }
