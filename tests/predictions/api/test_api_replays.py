"""POST /api/v1/transactions/ with a transaction_id that is already stored: a replay, or a 409."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest

from predictions.models import Prediction, ScoringRequest, Transaction

URL = "/api/v1/transactions/"

pytestmark = pytest.mark.django_db


def post(client, body, **extra):
    return client.post(URL, body, format="json", **extra)


# --- idempotency --------------------------------------------------------------------------


def test_the_same_transaction_twice_returns_the_stored_result_with_200(
    scoring_client, active_model_version, transaction_payload
):
    body = transaction_payload(transaction_id="tx-again")
    first = post(scoring_client, body)

    with mock.patch("predictions.services.scoring.transaction_features_from_history") as features:
        second = post(scoring_client, body)

    features.assert_not_called()  # nothing scored again
    assert second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert "Idempotent-Replayed" not in first
    assert Prediction.objects.count() == 1
    assert Transaction.objects.count() == 1
    replay = ScoringRequest.objects.get(request_id=second["X-Request-ID"])
    assert (replay.status_code, replay.replayed, replay.response) == (200, True, first.json())
    assert ScoringRequest.objects.count() == 2


def test_the_same_content_spelt_differently_is_a_replay(scoring_client, active_model_version, transaction_payload):
    body = transaction_payload(transaction_id="tx-spelt", timestamp="2026-03-07T03:00:00Z", amount="42.5")
    post(scoring_client, body)

    response = post(scoring_client, {**body, "timestamp": "2026-03-07T04:00:00+01:00", "amount": 42.50})

    assert response.status_code == 200


def test_the_same_id_with_different_content_is_a_409(scoring_client, active_model_version, transaction_payload):
    body = transaction_payload(transaction_id="tx-reused")
    post(scoring_client, body)

    response = post(scoring_client, {**body, "amount": "1.00"})

    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "duplicate_transaction"
    assert error["fields"] == {"transaction_id": ["transaction tx-reused is already stored with different content"]}
    assert Transaction.objects.get().amount == Decimal(body["amount"])
    assert ScoringRequest.objects.filter(status_code=409, error="duplicate_transaction").count() == 1


def test_a_transaction_loaded_as_history_cannot_be_scored_under_its_id(
    scoring_client, active_model_version, make_transaction, transaction_payload
):
    stored = make_transaction(transaction_id="hist-x")
    body = transaction_payload(
        transaction_id="hist-x",
        timestamp=stored.timestamp.isoformat(),
        customer_id=stored.customer_id,
        terminal_id=stored.terminal_id,
        amount=str(stored.amount),
    )

    response = post(scoring_client, body)

    assert response.status_code == 409
    assert "never scored" in response.json()["fields"]["transaction_id"][0]


def test_a_concurrent_request_with_the_same_id_becomes_a_replay(
    scoring_client, active_model_version, transaction_payload
):
    # The other request commits between this one's lookup and its insert: the unique constraint decides.
    body = transaction_payload(transaction_id="tx-race")
    first = post(scoring_client, body).json()
    from predictions.services import scoring

    # The lookup read beside the history finds nothing, as if the other request had not committed yet.
    not_yet = ("SELECT 1 WHERE 1 = 0", [])
    with mock.patch.object(scoring, "stored_pk_statement", return_value=not_yet):
        response = post(scoring_client, body)

    assert response.status_code == 200
    assert response.json() == first
    assert Prediction.objects.count() == 1
    assert ScoringRequest.objects.count() == 2
