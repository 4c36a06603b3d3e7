from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from model_package.evaluate import at_threshold, card_precision_at_k, evaluate_scores


def scored(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["day", "customer_id", "score", "label"])


def test_card_precision_counts_cards_not_transactions():
    # E's best score comes from a legitimate payment, but E is compromised that day: the card counts as fraud.
    frame = scored((1, "E", 0.3, 1), (1, "E", 0.99, 0), (1, "A", 0.9, 0), (1, "B", 0.1, 1))
    assert card_precision_at_k(frame, k=2) == 1 / 2  # top 2 cards: E (fraud), A (legitimate)


def test_cards_caught_on_an_earlier_day_leave_the_later_days():
    frame = scored(
        (1, "A", 0.9, 1),
        (1, "B", 0.8, 0),
        (1, "C", 0.1, 1),
        (2, "A", 0.95, 1),  # caught on day 1, so not counted again
        (2, "B", 0.7, 0),
        (2, "C", 0.6, 0),
        (2, "D", 0.5, 1),
    )
    # Day 1: A, B -> 1/2. Day 2 without A: B, C -> 0. Mean 1/4 (it would be 1/2 if A still counted).
    assert card_precision_at_k(frame, k=2) == pytest.approx(0.25)


def test_precision_divides_by_k_even_on_a_quiet_day():
    assert card_precision_at_k(scored((1, "A", 0.9, 1)), k=100) == 0.01


def test_evaluate_scores_matches_scikit_learns_metrics():
    frame = scored((1, "A", 0.9, 1), (1, "B", 0.4, 0), (1, "C", 0.35, 1), (2, "D", 0.8, 0), (2, "E", 0.1, 0))
    result = evaluate_scores(frame, k=2)
    assert result["auc"] == roc_auc_score(frame["label"], frame["score"])
    assert result["average_precision"] == average_precision_score(frame["label"], frame["score"])
    assert result["card_precision_at_k"] == (1 / 2 + 0) / 2
    assert (result["n"], result["frauds"]) == (5, 2)


def test_auc_and_ap_are_none_when_there_is_one_class():
    result = evaluate_scores(scored((1, "A", 0.9, 0), (1, "B", 0.4, 0)))
    assert result["auc"] is None
    assert result["average_precision"] is None


def test_the_figures_at_a_threshold_count_the_scores_at_or_above_it():
    scores, labels = np.array([0.9, 0.8, 0.7, 0.2]), np.array([1, 0, 1, 1])
    assert at_threshold(scores, labels, 0.7, days=2) == {"alerts_per_day": 1.5, "precision": 2 / 3, "recall": 2 / 3}
    assert at_threshold(scores, labels, 0.95, days=1) == {"alerts_per_day": 0.0, "precision": None, "recall": 0.0}
