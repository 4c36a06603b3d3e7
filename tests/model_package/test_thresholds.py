from __future__ import annotations

import numpy as np

from model_package.predict import Thresholds
from model_package.thresholds import choose_thresholds

SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
LABELS = np.array([1, 1, 0, 1, 0, 0])


def test_review_is_the_lowest_threshold_within_the_alert_budget():
    thresholds, _ = choose_thresholds(SCORES, LABELS, days=1, alert_budget=4, precision_target=0.8)
    assert thresholds.review == 0.6  # 0.9, 0.8, 0.7, 0.6: four alerts


def test_the_budget_is_per_day_over_all_the_days():
    thresholds, _ = choose_thresholds(SCORES, LABELS, days=2, alert_budget=1, precision_target=0.8)
    assert thresholds.review == 0.8  # two days, one alert a day: two alerts


def test_decline_is_the_lowest_threshold_reaching_the_precision_target():
    thresholds, selection = choose_thresholds(SCORES, LABELS, days=1, alert_budget=4, precision_target=0.8)
    # At 0.6: 3 of 4 are fraud (0.75); at 0.7: 2 of 3; at 0.8: 2 of 2.
    assert thresholds.decline == 0.8
    assert selection["decline"]["precision"] == 1.0
    assert selection["review"] == {"threshold": 0.6, "alerts_per_day": 4.0, "precision": 0.75, "recall": 1.0}


def test_tied_scores_never_break_the_budget():
    thresholds, _ = choose_thresholds(
        np.array([0.9, 0.5, 0.5, 0.1]), np.zeros(4), days=1, alert_budget=2, precision_target=0.8
    )
    assert thresholds.review == 0.9


def test_an_unreachable_precision_target_declines_only_at_one():
    thresholds, _ = choose_thresholds(SCORES, np.zeros(6), days=1, alert_budget=3, precision_target=0.8)
    assert thresholds == Thresholds(review=0.7, decline=1.0)


def test_review_is_never_zero_so_an_approve_stays_possible():
    thresholds, _ = choose_thresholds(
        np.array([0.0, 0.0, 0.3]), np.array([0, 0, 1]), days=1, alert_budget=10, precision_target=0.5
    )
    assert thresholds.review == 0.3
    only_zeros, _ = choose_thresholds(np.zeros(3), np.zeros(3), days=1, alert_budget=10, precision_target=0.5)
    assert only_zeros.review > 0
