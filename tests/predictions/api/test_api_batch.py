"""POST /api/v1/transactions/batch/: up to 1,000 transactions, all validated before any is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from predictions import rules
from predictions.models import Prediction, ScoringRequest, Transaction

URL = "/api/v1/transactions/batch/"

pytestmark = pytest.mark.django_db


def post(client, items, **body):
    return client.post(URL, {"items": items, **body}, format="json")


def test_it_scores_every_item_and_answers_in_the_order_sent(scoring_client, active_model_version, transaction_payload):
    items = [transaction_payload(transaction_id=f"b-{i}") for i in range(3)]

    response = post(scoring_client, items)

    assert response.status_code == 201
    answer = response.json()
    assert [r["transaction_id"] for r in answer["results"]] == ["b-0", "b-1", "b-2"]
    assert (answer["created"], answer["replayed"]) == (3, 0)
    assert all(r["request_id"] == answer["request_id"] and r["replayed"] is False for r in answer["results"])
    assert Transaction.objects.count() == Prediction.objects.count() == 3
    request = ScoringRequest.objects.get()
    assert (request.endpoint, request.status_code, request.response) == ("batch", 201, answer)
    assert set(Prediction.objects.values_list("request_id", flat=True)) == {request.pk}


def test_items_are_scored_in_time_order_each_seeing_the_earlier_ones(
    scoring_client, active_model_version, transaction_payload
):
    # Sent newest first: the customer's 1-day count is 1 for the older item and 2 for the newer.
    older = transaction_payload(transaction_id="b-old", timestamp="2026-03-04T10:00:00Z", amount="10.00")
    newer = transaction_payload(transaction_id="b-new", timestamp="2026-03-04T11:00:00Z", amount="30.00")

    post(scoring_client, [newer, older])

    features = {
        p.transaction.transaction_id: p.named_features
        for p in Prediction.objects.select_related("transaction", "model_version")
    }
    assert features["b-old"]["CUSTOMER_ID_NB_TX_1DAY_WINDOW"] == 1
    assert features["b-new"]["CUSTOMER_ID_NB_TX_1DAY_WINDOW"] == 2
    assert features["b-new"]["CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"] == 20.0  # (10 + 30) / 2


def test_a_bad_item_refuses_the_whole_batch_naming_its_index_and_field(
    scoring_client, active_model_version, transaction_payload
):
    items = [transaction_payload() for _ in range(5)]
    items[3]["amount"] = "12.345"
    items[1]["colour"] = "red"

    response = post(scoring_client, items)

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "items[1].colour": ["Unknown field."],
        "items[3].amount": [rules.AMOUNT_PLACES_MESSAGE],
    }
    assert Transaction.objects.count() == 0
    assert ScoringRequest.objects.get().status_code == 400


def test_an_id_twice_in_one_batch_is_refused(scoring_client, active_model_version, transaction_payload):
    items = [
        transaction_payload(transaction_id="b-dup"),
        transaction_payload(),
        transaction_payload(transaction_id="b-dup"),
    ]

    response = post(scoring_client, items)

    assert response.status_code == 400
    assert response.json()["fields"] == {"items[2].transaction_id": ["The same transaction_id as items[0]."]}


def test_an_empty_batch_and_an_oversized_batch_are_refused(scoring_client, active_model_version, transaction_payload):
    item = transaction_payload()
    too_many = [{**item, "transaction_id": f"b-{i}"} for i in range(1001)]

    empty = post(scoring_client, [])
    oversized = post(scoring_client, too_many)

    assert empty.status_code == oversized.status_code == 400
    assert list(empty.json()["fields"]) == ["items"]
    assert oversized.json()["fields"] == {"items": ["Ensure this field has no more than 1000 elements."]}


def test_a_batch_needs_its_items_field_and_nothing_else(scoring_client, active_model_version, transaction_payload):
    response = scoring_client.post(URL, {"transactions": [transaction_payload()]}, format="json")

    assert response.json()["fields"] == {"items": ["This field is required."], "transactions": ["Unknown field."]}


def test_a_batch_of_1000_is_accepted(scoring_client, active_model_version, transaction_payload):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    items = [
        transaction_payload(
            transaction_id=f"k-{i}",
            timestamp=(start + timedelta(minutes=i)).isoformat(),
            customer_id=f"C{i % 50:05d}",
            terminal_id=f"T{i % 80:05d}",
        )
        for i in range(1000)
    ]

    response = post(scoring_client, items)

    assert response.status_code == 201
    assert Prediction.objects.count() == 1000


def test_a_batch_sent_again_is_replayed_with_200(scoring_client, active_model_version, transaction_payload):
    items = [transaction_payload(transaction_id=f"r-{i}") for i in range(2)]
    first = post(scoring_client, items).json()

    response = post(scoring_client, items)

    assert response.status_code == 200
    assert response["Idempotent-Replayed"] == "true"
    answer = response.json()
    assert (answer["created"], answer["replayed"]) == (0, 2)
    for before, after in zip(first["results"], answer["results"], strict=True):
        assert after == {**before, "replayed": True}
    assert Prediction.objects.count() == 2
    assert ScoringRequest.objects.filter(replayed=True).count() == 1


def test_a_batch_mixing_new_and_stored_items_scores_only_the_new(
    scoring_client, active_model_version, transaction_payload
):
    stored = transaction_payload(transaction_id="m-stored")
    post(scoring_client, [stored])

    response = post(scoring_client, [transaction_payload(transaction_id="m-new"), stored])

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert [r["replayed"] for r in response.json()["results"]] == [False, True]
    assert Prediction.objects.count() == 2


def test_a_stored_id_with_other_content_refuses_the_batch_with_409(
    scoring_client, active_model_version, transaction_payload
):
    stored = transaction_payload(transaction_id="c-1")
    post(scoring_client, [stored])

    response = post(scoring_client, [transaction_payload(), {**stored, "amount": "5.00"}])

    assert response.status_code == 409
    assert response.json()["fields"] == {
        "items[1].transaction_id": ["transaction c-1 is already stored with different content"]
    }
    assert Transaction.objects.count() == 1


def test_only_scoring_clients_may_send_a_batch(analyst_client, active_model_version, transaction_payload):
    response = post(analyst_client, [transaction_payload()])

    assert response.status_code == 403
    assert ScoringRequest.objects.get().endpoint == "batch"
