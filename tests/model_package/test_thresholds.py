from __future__ import annotations

import numpy as np

from model_package.predict import Thresholds
from model_package.thresholds import REVIEW_BAND_SHARE, choose_thresholds, review_band_problem

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


def test_decline_leaves_a_review_band_even_when_every_alert_is_precise_enough():
    # Ten alerts a day, all frauds: declining from the review threshold would reach the precision target, but
    # analysts would then see none of them. Decline moves up until a tenth of the alerts stay in review.
    scores = np.linspace(1.0, 0.01, 100)
    labels = (scores > 0.9).astype(int)
    thresholds, selection = choose_thresholds(scores, labels, days=1, alert_budget=10, precision_target=0.8)
    assert thresholds.review < thresholds.decline
    in_review = selection["review"]["alerts_per_day"] - selection["decline"]["alerts_per_day"]
    assert in_review >= REVIEW_BAND_SHARE * selection["review"]["alerts_per_day"]
    assert review_band_problem(thresholds, selection) == ""


def test_equal_review_and_decline_thresholds_are_no_review_band():
    problem = review_band_problem(Thresholds(review=0.86, decline=0.86))
    assert problem.startswith("no review band") and "0.8600" in problem and "\n" not in problem


def test_a_band_nothing_scored_in_on_the_gap_days_is_no_review_band():
    selection = {"review": {"alerts_per_day": 2.0}, "decline": {"alerts_per_day": 2.0}}
    assert "no transaction scored between" in review_band_problem(Thresholds(0.5, 0.9), selection)
    assert review_band_problem(Thresholds(0.5, 0.9), {"review": {"alerts_per_day": 2.0}, "decline": {}}) == ""
    assert review_band_problem(Thresholds(0.5, 0.9), None) == ""
