"""The admin index figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from predictions.models import Review, Transaction
from predictions.selectors import dashboard_figures

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


@pytest.fixture
def a_day_of_work(make_prediction, analyst_user):
    """Yesterday: 2 flagged, one confirmed fraud. Today: 4 scored, 3 flagged, 2 reviewed (1 fraud, 1 legitimate)."""

    def review(prediction, outcome, when):
        Review.objects.create(
            transaction=prediction.transaction, reviewer=analyst_user, outcome=outcome, reviewed_at=when
        )
        Transaction.objects.filter(pk=prediction.transaction_id).update(label=outcome)

    old_fraud = make_prediction(score=0.95, scored_at=YESTERDAY, transaction_id="old-fraud")
    review(old_fraud, "fraud", YESTERDAY)
    make_prediction(score=0.6, scored_at=YESTERDAY, transaction_id="oldest-waiting")
    make_prediction(score=0.2, scored_at=NOW - timedelta(hours=3))
    fraud = make_prediction(score=0.92, scored_at=NOW - timedelta(hours=3))
    legit = make_prediction(score=0.55, scored_at=NOW - timedelta(hours=2))
    make_prediction(score=0.7, scored_at=NOW - timedelta(hours=1), transaction_id="newest-waiting")
    review(fraud, "fraud", NOW - timedelta(hours=1))
    review(legit, "legitimate", NOW - timedelta(minutes=30))


def test_it_counts_todays_work(a_day_of_work):
    figures = dashboard_figures(now=NOW)

    assert figures.day == NOW.date()
    assert (figures.scored_today, figures.flagged_today) == (4, 3)
    assert (figures.reviewed_today, figures.confirmed_fraud_today) == (2, 1)


def test_flag_precision_so_far_is_the_fraud_share_of_labelled_flagged_transactions(a_day_of_work):
    figures = dashboard_figures(now=NOW)

    # Flagged with a known label: old-fraud (fraud), fraud (fraud), legit (legitimate) -> 2 of 3.
    assert (figures.flagged_fraud, figures.flagged_labelled) == (2, 3)
    assert figures.flag_precision == pytest.approx(2 / 3)


def test_it_shows_the_queue_by_decision_and_its_oldest_item(a_day_of_work):
    figures = dashboard_figures(now=NOW)

    assert figures.queue_by_decision == {"review": 2, "decline": 0}
    assert figures.queue_size == 2
    assert figures.oldest_unreviewed.transaction.transaction_id == "oldest-waiting"


def test_it_takes_a_few_aggregate_queries_whatever_the_volume(a_day_of_work, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        dashboard_figures(now=NOW)


@pytest.mark.django_db
def test_an_empty_site_has_no_precision_and_no_oldest_item():
    figures = dashboard_figures(now=NOW)

    assert figures.flag_precision is None
    assert figures.oldest_unreviewed is None
    assert figures.queue_size == 0
