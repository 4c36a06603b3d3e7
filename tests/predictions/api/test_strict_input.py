"""Input an adversarial client sends: every answer is a deliberate 4xx in the error shape, and audited."""

from __future__ import annotations

import pytest

from predictions.api.parsers import MAX_DEPTH
from predictions.models import ScoringRequest, Transaction

pytestmark = pytest.mark.django_db

URL = "/api/v1/transactions/"


def post_raw(client, body: str | bytes, url: str = URL, **extra):
    return client.post(url, body, content_type="application/json", **extra)


def _transaction_text(**fields: str) -> str:
    values = {
        "transaction_id": '"tx-strict"',
        "timestamp": '"2026-01-05T10:00:00Z"',
        "customer_id": '"C1"',
        "terminal_id": '"T1"',
        "amount": '"12.50"',
        **fields,
    }
    return "{" + ",".join(f'"{name}":{value}' for name, value in values.items()) + "}"


BAD_BODIES = {
    "nested 2,000 levels": "[" * 2000 + "]" * 2000,
    "metadata nested deeper than the limit": _transaction_text(metadata='{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH),
    "a key twice": _transaction_text(amount='"1.00","amount":"999.00"'),
    "a number too large for a float": _transaction_text(metadata='{"n":1e400}'),
    "NaN": _transaction_text(metadata='{"n":NaN}'),
    "Infinity": _transaction_text(amount="Infinity"),
    "NUL in metadata": _transaction_text(metadata='{"note":"a\\u0000b"}'),
    "a lone surrogate in metadata": _transaction_text(metadata='{"note":"\\ud800"}'),
    "a lone surrogate as an unknown key": _transaction_text(**{"\\udc00": "1"}),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_json_the_service_would_not_store_as_sent_is_a_parse_error(scoring_client, active_model_version, body):
    response = post_raw(scoring_client, body)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Transaction.objects.count() == 0
    assert ScoringRequest.objects.get().status_code == 400


@pytest.mark.parametrize("url", ["/api/v1/transactions/batch/", "/api/v1/transactions/tx-a/label/"])
def test_deep_nesting_is_a_parse_error_on_every_endpoint(scoring_client, analyst_client, make_transaction, url):
    make_transaction(transaction_id="tx-a")
    client = analyst_client if url.endswith("label/") else scoring_client

    response = post_raw(client, "[" * 5000 + "]" * 5000, url=url)

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_nesting_within_the_limit_and_escaped_text_are_accepted(scoring_client, active_model_version):
    metadata = '{"a":' * 5 + '"caf\\u00e9 \\ud83d\\ude00"' + "}" * 5

    response = post_raw(scoring_client, _transaction_text(metadata=metadata))

    assert response.status_code == 201, response.content
    assert Transaction.objects.get().metadata["a"]["a"]["a"]["a"]["a"] == "café 😀"


def test_a_chunked_body_is_refused_with_411_and_audited(scoring_client, active_model_version):
    response = post_raw(scoring_client, _transaction_text(), HTTP_TRANSFER_ENCODING="chunked")

    assert response.status_code == 411
    assert response.json()["code"] == "length_required"
    assert ScoringRequest.objects.get().status_code == 411
    assert Transaction.objects.count() == 0


def test_a_refused_large_body_is_read_and_discarded_before_the_413(settings):
    # A client that sends without "Expect: 100-continue" is still sending when the 413 is ready; unread
    # data on a closed socket resets the connection, and the client would never see the answer.
    import io

    from django.http import HttpResponse
    from django.test import RequestFactory

    from predictions.api.middleware import BodySizeLimitMiddleware

    settings.FRAUDSITE_MAX_BODY_BYTES = 1024
    body = io.BytesIO(b"x" * 300_000)
    request = RequestFactory().post("/api/v1/models/", data=b"", content_type="application/json")
    request.META.update({"wsgi.input": body, "CONTENT_LENGTH": "300000"})

    response = BodySizeLimitMiddleware(lambda request: HttpResponse())(request)

    assert response.status_code == 413
    assert body.tell() == 300_000
