"""The dashboard's 30-day series and the active model's drift against its training reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from predictions.models import Review, Transaction
from predictions.selectors import active_model_drift, daily_activity

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def _review(prediction, outcome, when, reviewer):
    Review.objects.create(transaction=prediction.transaction, reviewer=reviewer, outcome=outcome, reviewed_at=when)
    Transaction.objects.filter(pk=prediction.transaction_id).update(label=outcome)


def test_each_of_the_last_30_days_has_its_counts(make_prediction, analyst_user):
    three_days_ago = NOW - timedelta(days=3)
    make_prediction(score=0.2, scored_at=NOW - timedelta(hours=1))
    fraud = make_prediction(score=0.95, scored_at=three_days_ago)
    legit = make_prediction(score=0.6, scored_at=three_days_ago)
    make_prediction(score=0.7, scored_at=three_days_ago)  # flagged, no label yet
    make_prediction(score=0.99, scored_at=NOW - timedelta(days=30))  # the day before the first day shown
    _review(fraud, "fraud", NOW - timedelta(hours=2), analyst_user)
    _review(legit, "legitimate", NOW - timedelta(hours=2), analyst_user)

    days = daily_activity(now=NOW)

    assert len(days) == 30
    assert (days[0].day, days[-1].day) == (NOW.date() - timedelta(days=29), NOW.date())
    today, that_day = days[-1], days[-4]
    assert (today.scored, today.flagged, today.reviewed, today.confirmed_fraud) == (1, 0, 2, 1)
    assert (that_day.scored, that_day.flagged, that_day.reviewed) == (3, 3, 0)
    # Of the 3 flagged that day, 2 have a label, 1 of them fraud: precision 1/2.
    assert that_day.flag_precision == pytest.approx(0.5)
    assert today.flag_precision is None
    assert sum(day.scored for day in days) == 4


def test_drift_is_the_psi_of_recent_predictions_against_the_training_bins(make_prediction, model_version):
    model_version.metrics = {
        "reference": {
            "rows": 1000,
            "score": {"edges": [0.5], "shares": [0.5, 0.5], "histogram": [0.05] * 20},
            "features": {
                "TX_AMOUNT": {"edges": [50.0], "shares": [0.5, 0.5]},
                "TX_DURING_NIGHT": {"edges": [0.0], "shares": [1.0, 0.0]},
            },
        }
    }
    model_version.save()
    for amount, score in (("10", 0.95), ("20", 0.6), ("30", 0.1), ("100", 0.2)):
        make_prediction(score=score, amount=Decimal(amount), scored_at=NOW - timedelta(days=1))

    drift = active_model_drift(now=NOW)

    assert drift.rows == 4
    assert list(drift.psi) == ["score", "TX_AMOUNT", "TX_DURING_NIGHT"]
    # Amounts: 3 of 4 at most 50 against half in training: 0.25 ln(0.75/0.5) + 0.25 ln(0.5/0.25) = 0.274653.
    assert drift.psi["TX_AMOUNT"] == pytest.approx(0.274653, abs=1e-6)
    assert drift.psi["score"] == pytest.approx(0.0)  # two of four scores at most 0.5, as in training
    assert drift.psi["TX_DURING_NIGHT"] == pytest.approx(0.0)


def test_a_model_without_a_reference_has_no_psi(make_prediction, model_version):
    make_prediction(score=0.7, scored_at=NOW - timedelta(days=1))

    drift = active_model_drift(now=NOW)

    assert (drift.reference, drift.psi, drift.rows) == (None, {}, 1)


@pytest.mark.django_db
def test_without_an_active_model_there_is_nothing_to_compare():
    assert active_model_drift(now=NOW).model_version is None
