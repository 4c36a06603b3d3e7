"""The rule a training run chooses its review and decline thresholds by, the choosing, and the review-band check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from model_package.evaluate import at_threshold
from model_package.predict import Thresholds

# The least share of the review alerts (on the delay-gap days) that must stay below the decline threshold, so
# that analysts see, and label, some of what the model flags: without labels the next model learns nothing new.
REVIEW_BAND_SHARE = 0.1
THRESHOLD_RULE = (
    "scored by the trained model on the delay-gap days, known compromised cards left out as in the test: "
    "review = the smallest score threshold with at most alert_budget alerts a day on average (never 0); "
    "decline = the smallest threshold above review whose precision reaches precision_target and which leaves "
    f"at least {REVIEW_BAND_SHARE:.0%} of the review alerts to review (1.0 if none does)"
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
        review_alerts = int(alerts[np.argmax(within_budget)])
    else:  # ties at the top exceed the budget: alert on nothing seen so far
        review = float(min(1.0, np.nextafter(ascending[-1] if len(ascending) else 0.0, 1.0)))
        review_alerts = 0
    leaves_a_band = alerts <= (1 - REVIEW_BAND_SHARE) * review_alerts
    precise = (candidates > review) & leaves_a_band & (frauds / alerts >= precision_target)
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


def review_band_problem(thresholds: Thresholds, selection: Mapping[str, Any] | None = None) -> str:
    """Why a model with these thresholds would send nothing to review, in one line; "" when it would.

    selection: the figures the thresholds were chosen on (choose_thresholds' second result, kept in a
    manifest's metrics["thresholds"]); without them only the thresholds themselves are checked.
    """
    review, decline = thresholds.review, thresholds.decline
    if review >= decline:
        return (
            f"no review band: the review threshold {review:.4f} is not below the decline threshold {decline:.4f}, "
            "so every flagged transaction would be declined and none reviewed"
        )
    try:
        band = selection["review"]["alerts_per_day"] - selection["decline"]["alerts_per_day"]  # type: ignore[index]
    except (KeyError, TypeError):
        return ""
    if band <= 0:
        return (
            f"no review band: on the days the thresholds were chosen on, no transaction scored between the review "
            f"threshold {review:.4f} and the decline threshold {decline:.4f}"
        )
    return ""
