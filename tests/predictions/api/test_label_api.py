"""POST /api/v1/transactions/{transaction_id}/label/, and what a label does to later scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from predictions.models import Prediction, Review, Transaction


def _url(transaction_id: str) -> str:
    return f"/api/v1/transactions/{transaction_id}/label/"


def test_an_analyst_records_a_chargeback(analyst_client, make_transaction):
    make_transaction(transaction_id="tx-1.a:b")

    response = analyst_client.post(_url("tx-1.a:b"), {"label": "fraud", "source": "chargeback"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["transaction_id"], body["label"], body["label_source"]) == ("tx-1.a:b", "fraud", "chargeback")
    stored = Transaction.objects.get(transaction_id="tx-1.a:b")
    assert (stored.label, stored.label_source) == ("fraud", "chargeback")
    assert stored.labelled_at is not None
    assert not Review.objects.exists()  # a chargeback is not an analyst's review


def test_a_label_from_a_review_adds_a_review_row_with_the_analyst_and_the_note(
    analyst_client, analyst_user, make_transaction
):
    make_transaction(transaction_id="tx-2")

    response = analyst_client.post(
        _url("tx-2"), {"label": "legitimate", "source": "review", "notes": "customer confirmed"}, format="json"
    )

    assert response.status_code == 200
    review = Review.objects.get(transaction__transaction_id="tx-2")
    assert (review.reviewer, review.outcome, review.notes) == (analyst_user, "legitimate", "customer confirmed")
    assert Transaction.objects.get(transaction_id="tx-2").label_source == "review"


def test_an_unknown_transaction_is_a_404_in_the_api_error_shape(analyst_client):
    response = analyst_client.post(_url("no-such-tx"), {"label": "fraud", "source": "chargeback"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "bad_field"),
    [
        ({"label": "maybe", "source": "review"}, "label"),
        ({"label": "unknown", "source": "review"}, "label"),
        ({"label": "fraud"}, "source"),
        ({"label": "fraud", "source": "history"}, "source"),
        ({"label": "fraud", "source": "review", "lable": "fraud"}, "lable"),
        ({"label": "fraud", "source": "chargeback", "notes": "why"}, "notes"),
    ],
)
def test_a_bad_body_is_a_400_that_names_the_field(analyst_client, make_transaction, body, bad_field):
    make_transaction(transaction_id="tx-3")

    response = analyst_client.post(_url("tx-3"), body, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [bad_field]
    assert Transaction.objects.get(transaction_id="tx-3").label == "unknown"


def test_a_scoring_client_may_not_label(scoring_client, make_transaction):
    make_transaction(transaction_id="tx-4")

    response = scoring_client.post(_url("tx-4"), {"label": "fraud", "source": "chargeback"}, format="json")

    assert response.status_code == 403
    assert Transaction.objects.get(transaction_id="tx-4").label == "unknown"


@pytest.mark.django_db
def test_an_anonymous_caller_is_refused():
    response = APIClient().post(_url("tx-5"), {"label": "fraud", "source": "chargeback"}, format="json")
    assert response.status_code == 401


# --- the feedback loop ---------------------------------------------------------------------------

HISTORY_DAYS_AGO = (8, 9, 11, 14, 17, 20, 24, 27, 30)  # all older than the 7-day label delay


def _terminal_history(make_transaction, *, terminal_id: str, now, days_ago=HISTORY_DAYS_AGO) -> list[str]:
    """Transactions of other customers at a terminal, unlabelled, as the scoring service would have stored them."""
    ids = []
    for i, days in enumerate(days_ago):
        tx = make_transaction(
            transaction_id=f"{terminal_id}-h{i}",
            customer_id=f"{terminal_id}-C{i}",
            terminal_id=terminal_id,
            timestamp=now - timedelta(days=days, hours=1),
        )
        ids.append(tx.transaction_id)
    return ids


def _score(scoring_client, transaction_payload, *, transaction_id: str, terminal_id: str, now) -> Prediction:
    body = transaction_payload(
        transaction_id=transaction_id,
        customer_id=f"{transaction_id}-card",
        terminal_id=terminal_id,
        timestamp=now.isoformat(),
        amount="57.20",
    )
    response = scoring_client.post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 201, response.content
    return Prediction.objects.get(transaction__transaction_id=transaction_id)


def test_fraud_labels_on_a_terminal_raise_the_risk_features_and_score_of_its_later_transactions(
    active_model_version, analyst_client, scoring_client, make_transaction, transaction_payload
):
    now = timezone.now() - timedelta(minutes=1)
    compromised = _terminal_history(make_transaction, terminal_id="T-COMPROMISED", now=now)
    _terminal_history(make_transaction, terminal_id="T-QUIET", now=now)
    for transaction_id in compromised:
        response = analyst_client.post(_url(transaction_id), {"label": "fraud", "source": "chargeback"}, format="json")
        assert response.status_code == 200

    at_compromised = _score(
        scoring_client, transaction_payload, transaction_id="new-at-compromised", terminal_id="T-COMPROMISED", now=now
    )
    at_quiet = _score(
        scoring_client, transaction_payload, transaction_id="new-at-quiet", terminal_id="T-QUIET", now=now
    )

    # Same amount, time, customer history and terminal counts; only the labels differ.
    for window in ("7DAY", "30DAY"):
        assert (
            at_compromised.named_features[f"TERMINAL_ID_NB_TX_{window}_WINDOW"]
            == at_quiet.named_features[f"TERMINAL_ID_NB_TX_{window}_WINDOW"]
        )
        assert at_compromised.named_features[f"TERMINAL_ID_RISK_{window}_WINDOW"] == pytest.approx(1.0)
        assert at_quiet.named_features[f"TERMINAL_ID_RISK_{window}_WINDOW"] == 0.0
    assert at_compromised.score > at_quiet.score


def test_labels_younger_than_the_delay_do_not_reach_the_features_yet(
    active_model_version, scoring_client, make_transaction, transaction_payload
):
    now = timezone.now() - timedelta(minutes=1)
    for tx_id in _terminal_history(make_transaction, terminal_id="T-RECENT", now=now, days_ago=(1, 2, 3, 5, 6)):
        Transaction.objects.filter(transaction_id=tx_id).update(label="fraud", label_source="chargeback")

    prediction = _score(
        scoring_client, transaction_payload, transaction_id="new-at-recent", terminal_id="T-RECENT", now=now
    )

    for window in ("1DAY", "7DAY", "30DAY"):
        assert prediction.named_features[f"TERMINAL_ID_RISK_{window}_WINDOW"] == 0.0
