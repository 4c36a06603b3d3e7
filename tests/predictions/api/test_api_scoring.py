"""POST /api/v1/transactions/: scoring one transaction, its input rules and its audit (replays: test_api_replays)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from predictions import rules
from predictions.models import Prediction, ScoringRequest, Transaction

URL = "/api/v1/transactions/"

pytestmark = pytest.mark.django_db


def post(client, body, **extra):
    return client.post(URL, body, format="json", **extra)


# --- a successful score -------------------------------------------------------------------


def test_it_scores_a_transaction_and_answers_201_with_the_result(
    scoring_client, active_model_version, transaction_payload
):
    body = transaction_payload(transaction_id="tx-1")

    response = post(scoring_client, body)

    assert response.status_code == 201
    result = response.json()
    assert set(result) == {
        "transaction_id",
        "score",
        "decision",
        "model_decision",
        "rules",
        "list_entry",
        "flagged",
        "model_version",
        "reasons",
        "request_id",
        "scored_at",
    }
    assert result["transaction_id"] == "tx-1"
    assert 0.0 <= result["score"] <= 1.0
    assert result["model_version"] == active_model_version.version
    assert result["flagged"] == (result["decision"] != "approve")
    assert response["Location"] == "/api/v1/transactions/tx-1/"
    assert response["X-Request-ID"] == result["request_id"]


def test_the_decision_follows_the_model_versions_thresholds(scoring_client, active_model_version, transaction_payload):
    result = post(scoring_client, transaction_payload()).json()

    thresholds = active_model_version.thresholds
    if result["score"] >= thresholds["decline"]:
        expected = "decline"
    elif result["score"] >= thresholds["review"]:
        expected = "review"
    else:
        expected = "approve"
    assert result["decision"] == expected


def test_it_stores_the_transaction_the_prediction_and_the_request_with_the_answer(
    scoring_client, active_model_version, transaction_payload
):
    body = transaction_payload(transaction_id="tx-2", amount="99.90", metadata={"channel": "web"})

    result = post(scoring_client, body).json()

    tx = Transaction.objects.get(transaction_id="tx-2")
    assert tx.amount == Decimal("99.90")
    assert tx.currency == "EUR"  # FRAUDSITE_DEFAULT_CURRENCY
    assert tx.metadata == {"channel": "web"}
    assert tx.label == "unknown"
    prediction = Prediction.objects.get(transaction=tx)
    assert prediction.score == result["score"]
    assert prediction.model_version == active_model_version
    assert prediction.thresholds == active_model_version.thresholds
    assert prediction.named_features["TX_AMOUNT"] == 99.9
    assert prediction.latency_ms > 0
    request = ScoringRequest.objects.get()
    assert prediction.request == request
    assert str(request.request_id) == result["request_id"]
    assert (request.status_code, request.endpoint, request.client) == (201, "transactions", "scoring-client")
    assert request.response == result
    assert json.loads(request.body) == body
    assert request.remote_addr == "127.0.0.1"


def test_the_answer_times_are_utc(scoring_client, active_model_version, transaction_payload):
    body = transaction_payload(transaction_id="tx-tz", timestamp="2026-03-07T04:00:00+01:00")

    post(scoring_client, body)

    assert Transaction.objects.get(transaction_id="tx-tz").timestamp == datetime(2026, 3, 7, 3, 0, tzinfo=UTC)


def test_an_amount_may_be_a_json_number(scoring_client, active_model_version, transaction_payload):
    response = post(scoring_client, transaction_payload(transaction_id="tx-n", amount=12.5))

    assert response.status_code == 201
    assert Transaction.objects.get(transaction_id="tx-n").amount == Decimal("12.50")


def test_a_transaction_id_may_use_dots_colons_dashes_and_underscores(
    scoring_client, active_model_version, transaction_payload
):
    response = post(scoring_client, transaction_payload(transaction_id="shop:eu-1.tx_0042"))

    assert response.status_code == 201


# --- input rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_id", ""),
        ("transaction_id", "has space"),
        ("transaction_id", "slash/inside"),
        ("transaction_id", "x" * 65),
        ("transaction_id", "tx-1\n"),
        ("timestamp", "2026-03-07T03:00:00"),  # no time zone
        ("timestamp", "yesterday"),
        ("customer_id", ""),
        ("customer_id", "c" * 65),
        ("terminal_id", ""),
        ("amount", "-0.01"),
        ("amount", "1000000000.01"),
        ("amount", "12.345"),
        ("amount", "NaN"),
        ("amount", "twelve"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", "ABC"),
        ("metadata", ["not", "an", "object"]),
        ("metadata", None),
    ],
)
def test_it_refuses_a_bad_field_with_400_naming_it(
    scoring_client, active_model_version, transaction_payload, field, value
):
    response = post(scoring_client, transaction_payload(**{field: value}))

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize("field", ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount"])
def test_it_refuses_a_missing_required_field(scoring_client, active_model_version, transaction_payload, field):
    body = transaction_payload()
    del body[field]

    response = post(scoring_client, body)

    assert response.status_code == 400
    assert response.json()["fields"] == {field: ["This field is required."]}


def test_it_rejects_an_unknown_field(scoring_client, active_model_version, transaction_payload):
    response = post(scoring_client, transaction_payload(colour="red"))

    assert response.status_code == 400
    assert response.json()["fields"] == {"colour": ["Unknown field."]}
    assert Transaction.objects.count() == 0


def test_it_names_every_bad_field_at_once(scoring_client, active_model_version, transaction_payload):
    response = post(scoring_client, transaction_payload(amount="-1", currency="xx", colour="red"))

    assert set(response.json()["fields"]) == {"amount", "currency", "colour"}
    assert response.json()["detail"] == "3 fields are not valid."


def test_the_limits_themselves_are_accepted(scoring_client, active_model_version, transaction_payload):
    # The rules' edges: 0 and 1e9 included, 64 characters, a 4 KiB metadata object.
    metadata = {"note": "x" * (4096 - len('{"note":""}'))}
    for index, amount in enumerate(["0", "1000000000.00"]):
        body = transaction_payload(transaction_id=f"{index}" * 64, amount=amount, metadata=metadata)
        assert post(scoring_client, body).status_code == 201


def test_metadata_over_4_kib_is_refused(scoring_client, active_model_version, transaction_payload):
    metadata = {"note": "x" * (4097 - len('{"note":""}'))}

    response = post(scoring_client, transaction_payload(metadata=metadata))

    assert response.status_code == 400
    assert response.json()["fields"]["metadata"] == ["is 4097 bytes as compact JSON; the limit is 4096"]


def test_a_timestamp_up_to_5_minutes_ahead_is_accepted_beyond_it_refused(
    scoring_client, active_model_version, transaction_payload
):
    soon = (timezone.now() + timedelta(minutes=4)).isoformat()
    later = (timezone.now() + timedelta(minutes=6)).isoformat()

    assert post(scoring_client, transaction_payload(timestamp=soon)).status_code == 201
    response = post(scoring_client, transaction_payload(timestamp=later))
    assert response.status_code == 400
    assert response.json()["fields"] == {"timestamp": [rules.FUTURE_MESSAGE]}


def test_a_body_that_is_not_an_object_is_refused(scoring_client, active_model_version):
    response = post(scoring_client, ["a", "list"])

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["body"]


def test_malformed_json_is_a_400_parse_error(scoring_client, active_model_version):
    response = scoring_client.post(URL, '{"transaction_id": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert ScoringRequest.objects.get().status_code == 400


def test_a_body_that_is_not_json_gets_415(scoring_client, active_model_version):
    response = scoring_client.post(URL, "transaction_id=tx-1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert ScoringRequest.objects.get().status_code == 415


def test_a_body_over_the_limit_gets_413_before_it_is_read(
    scoring_client, active_model_version, transaction_payload, settings
):
    settings.FRAUDSITE_MAX_BODY_BYTES = 2048
    body = transaction_payload(metadata={"padding": "x" * 3000})

    with mock.patch("predictions.api.views.request_audit_begin") as audit_begin_in_view:
        response = post(scoring_client, body)

    assert response.status_code == 413
    error = response.json()
    assert error["code"] == "payload_too_large"
    audit_begin_in_view.assert_not_called()  # refused by the middleware, the view never ran
    request = ScoringRequest.objects.get()
    assert (request.status_code, request.error, request.body) == (413, "payload_too_large", "")
    assert error["request_id"] == str(request.request_id)
    assert Transaction.objects.count() == 0


# --- refusals: access, model, database -----------------------------------------------------


def test_without_credentials_it_is_401_and_audited(client, active_model_version, transaction_payload):
    response = client.post(URL, transaction_payload(), content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"
    request = ScoringRequest.objects.get()
    assert (request.status_code, request.client, request.error) == (401, "", "not_authenticated")


def test_a_bad_token_is_401(client, active_model_version, transaction_payload):
    response = client.post(
        URL, transaction_payload(), content_type="application/json", HTTP_AUTHORIZATION="Token not-a-token"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_analyst_may_not_score(analyst_client, active_model_version, transaction_payload):
    response = post(analyst_client, transaction_payload())

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    request = ScoringRequest.objects.get()
    assert (request.status_code, request.client) == (403, "analyst")
    assert Transaction.objects.count() == 0


def test_without_an_active_model_it_is_503_and_nothing_is_stored(db, scoring_client, transaction_payload):
    response = post(scoring_client, transaction_payload())

    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert response.json()["detail"] == "no model version is active"
    assert Transaction.objects.count() == 0
    assert ScoringRequest.objects.get().status_code == 503


def test_when_the_database_fails_it_is_503_without_details(scoring_client, active_model_version, transaction_payload):
    from django.db import OperationalError

    failure = OperationalError("could not connect to server at 10.0.0.7")
    with mock.patch("predictions.services.scoring.fetch_many", side_effect=failure):  # its first read
        response = post(scoring_client, transaction_payload())

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert "10.0.0.7" not in response.content.decode()


def test_an_unexpected_error_is_a_500_that_reveals_nothing(scoring_client, active_model_version, transaction_payload):
    with mock.patch("predictions.api.views.transaction_score", side_effect=RuntimeError("secret internals")):
        response = post(scoring_client, transaction_payload())

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "secret" not in response.content.decode()
    assert ScoringRequest.objects.get().status_code == 500


def test_no_score_is_returned_when_storing_it_fails(
    scoring_client, active_model_version, transaction_payload, insert_fails
):
    with insert_fails(Prediction, RuntimeError("disk full")):
        response = post(scoring_client, transaction_payload())

    assert response.status_code == 500
    assert "score" not in response.json()
    assert Transaction.objects.count() == 0
    assert Prediction.objects.count() == 0
    # The refusal is still audited, on its own.
    assert list(ScoringRequest.objects.values_list("status_code", flat=True)) == [500]


# --- the audit: one row per request that reaches a scoring view ------------------------------


def test_every_scoring_request_leaves_exactly_one_audit_row(
    client, scoring_client, analyst_client, active_model_version, transaction_payload
):
    good = transaction_payload(transaction_id="tx-audit")
    answers = [
        post(scoring_client, good).status_code,  # 201
        post(scoring_client, good).status_code,  # 200 replay
        post(scoring_client, {**good, "amount": "1.00"}).status_code,  # 409
        post(scoring_client, transaction_payload(amount="x")).status_code,  # 400
        scoring_client.post(URL, "a=b", content_type="text/plain").status_code,  # 415
        client.post(URL, good, content_type="application/json").status_code,  # 401
        post(analyst_client, good).status_code,  # 403
        scoring_client.get("/api/v1/transactions/batch/").status_code,  # 405 on the batch route
    ]

    assert answers == [201, 200, 409, 400, 415, 401, 403, 405]
    stored = ScoringRequest.objects.order_by("received_at", "id").values_list("status_code", flat=True)
    assert sorted(stored) == sorted(answers)


def test_reading_transactions_is_not_a_scoring_request(analyst_client, active_model_version):
    analyst_client.get(URL)

    assert ScoringRequest.objects.count() == 0


def test_the_audit_keeps_at_most_the_configured_body_size(
    scoring_client, active_model_version, transaction_payload, settings
):
    settings.FRAUDSITE_AUDIT_BODY_BYTES = 50
    body = transaction_payload()

    post(scoring_client, body)

    request = ScoringRequest.objects.get()
    # The test client sends compact JSON (DRF's renderer); the audit keeps its first 50 bytes.
    assert request.body == json.dumps(body, separators=(",", ":"))[:50]
    assert request.body_truncated is True
