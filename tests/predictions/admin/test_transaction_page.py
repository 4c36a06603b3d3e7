"""The transaction page: why the model flagged it, its context, and the review form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from predictions.models import Review, Transaction

WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _page_url(transaction: Transaction) -> str:
    return f"/admin/predictions/transaction/{transaction.pk}/change/"


def _review_url(transaction: Transaction) -> str:
    return f"/admin/predictions/transaction/{transaction.pk}/review/"


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


@pytest.fixture
def flagged(make_prediction, make_transaction):
    """A flagged transaction with a customer history (one earlier fraud) and a terminal with a known fraud."""
    make_transaction(
        transaction_id="earlier-fraud",
        customer_id="C-9",
        terminal_id="T-OTHER",
        timestamp=WHEN - timedelta(days=3),
        label="fraud",
    )
    make_transaction(
        transaction_id="earlier-fine",
        customer_id="C-9",
        terminal_id="T-OTHER",
        timestamp=WHEN - timedelta(days=10),
        label="legitimate",
    )
    make_transaction(transaction_id="too-old", customer_id="C-9", timestamp=WHEN - timedelta(days=45))
    make_transaction(terminal_id="T-5", customer_id="C-1", timestamp=WHEN - timedelta(days=2), label="fraud")
    make_transaction(terminal_id="T-5", customer_id="C-2", timestamp=WHEN - timedelta(days=4), label="legitimate")
    make_transaction(terminal_id="T-5", customer_id="C-3", timestamp=WHEN - timedelta(days=5))
    return make_prediction(
        score=0.912, transaction_id="tx-flagged", customer_id="C-9", terminal_id="T-5", timestamp=WHEN
    )


def test_it_shows_the_score_decision_reasons_features_and_model_version(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="prediction-score">0.912<' in page
    assert "decline" in page
    assert "queue-test-v1" in page
    assert [name for name, _ in response.context["features"]] == ["TX_AMOUNT", "TX_DURING_NIGHT"]
    assert "TX_AMOUNT" in page and "0.2500" in page  # a reason, with its contribution


def test_it_shows_the_customers_last_30_days_with_labels(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    history = [(tx.transaction_id, tx.label) for tx in response.context["customer_history"]]
    assert history == [("tx-flagged", "unknown"), ("earlier-fraud", "fraud"), ("earlier-fine", "legitimate")]


def test_it_shows_the_terminals_recent_fraud_rate(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    # T-5 in the 30 days up to the transaction: 3 earlier + the transaction itself, 1 labelled fraud -> 1/4.
    rate = response.context["terminal_rate"]
    assert (rate.transactions, rate.frauds) == (4, 1)
    assert 'id="terminal-fraud-rate">0.250<' in response.content.decode()


def test_confirming_with_a_note_records_a_review_and_returns_to_the_queue(analyst, analyst_user, flagged):
    response = analyst.post(_review_url(flagged.transaction), {"outcome": "fraud", "notes": "two cards, one terminal"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/predictions/reviewqueueitem/"
    review = Review.objects.get()
    assert (review.transaction_id, review.reviewer, review.outcome, review.notes) == (
        flagged.transaction_id,
        analyst_user,
        "fraud",
        "two cards, one terminal",
    )
    flagged.transaction.refresh_from_db()
    assert (flagged.transaction.label, flagged.transaction.label_source) == ("fraud", "review")


def test_a_second_review_adds_a_row_and_both_show_on_the_page(analyst, flagged):
    analyst.post(_review_url(flagged.transaction), {"outcome": "fraud", "notes": "first look"})
    analyst.post(_review_url(flagged.transaction), {"outcome": "legitimate", "notes": "customer called back"})

    assert list(Review.objects.order_by("pk").values_list("outcome", "notes")) == [
        ("fraud", "first look"),
        ("legitimate", "customer called back"),
    ]
    page = analyst.get(_page_url(flagged.transaction)).content.decode()
    assert "first look" in page and "customer called back" in page


def test_a_review_with_a_bad_outcome_is_refused_with_a_message(analyst, flagged):
    response = analyst.post(_review_url(flagged.transaction), {"outcome": "unknown"}, follow=True)

    assert not Review.objects.exists()
    assert "not recorded" in response.content.decode()


def test_the_review_url_takes_posts_only(analyst, flagged):
    assert analyst.get(_review_url(flagged.transaction)).status_code == 405


def test_staff_without_the_analyst_role_see_no_form_and_cannot_review(client, flagged):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*_permissions("view_transaction"))
    client.force_login(viewer)

    page = client.get(_page_url(flagged.transaction)).content.decode()
    response = client.post(_review_url(flagged.transaction), {"outcome": "fraud"})

    assert "review-confirm-fraud" not in page
    assert response.status_code == 403
    assert not Review.objects.exists()


def _permissions(*codenames: str):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="predictions", codename__in=codenames)


def test_a_transaction_loaded_as_history_says_it_was_never_scored(analyst, make_transaction):
    transaction = make_transaction()
    page = analyst.get(_page_url(transaction)).content.decode()
    assert "never scored" in page
