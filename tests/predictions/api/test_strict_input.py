"""Input an adversarial client sends: every answer is a deliberate 4xx in the error shape, and audited."""

from __future__ import annotations

import pytest

from predictions import rules
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


def test_a_number_where_text_is_expected_is_a_400_not_turned_into_text(scoring_client, active_model_version):
    body = _transaction_text(transaction_id="123", customer_id="7", terminal_id="1.5", currency="978")

    response = post_raw(scoring_client, body)

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "transaction_id": [rules.STRING_MESSAGE],
        "customer_id": [rules.STRING_MESSAGE],
        "terminal_id": [rules.STRING_MESSAGE],
        "currency": [rules.CURRENCY_MESSAGE],
    }
    assert Transaction.objects.count() == 0


def test_a_number_as_a_batch_items_transaction_id_is_a_400_naming_the_item(scoring_client, active_model_version):
    body = '{"items": [' + _transaction_text(transaction_id="123") + "]}"

    response = post_raw(scoring_client, body, url="/api/v1/transactions/batch/")

    assert response.status_code == 400
    assert response.json()["fields"] == {"items[0].transaction_id": [rules.STRING_MESSAGE]}


# --- NUL in a path, a query or a credential: PostgreSQL cannot compare a string that holds it ------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/%00/",
        "/api/v1/models/v1%00/",
        "/api/v1/transactions/%00/",
        "/api/v1/transactions/tx%00/",
    ],
)
def test_nul_in_a_path_is_a_json_404(analyst_client, active_model_version, path):
    response = analyst_client.get(path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_nul_in_a_label_path_is_a_json_404(analyst_client, make_transaction):
    make_transaction(transaction_id="tx")

    response = post_raw(
        analyst_client, '{"label": "fraud", "source": "chargeback"}', url="/api/v1/transactions/tx%00/label/"
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "customer_id",
        "terminal_id",
        "decision",
        "label",
        "flagged",
        "reviewed",
        "timestamp_after",
        "score_min",
        "ordering",
        "page",
        "page_size",
    ],
)
def test_nul_in_a_list_query_is_a_400_naming_the_parameter(analyst_client, make_transaction, name):
    make_transaction()

    response = analyst_client.get("/api/v1/transactions/", {name: "a\x00b"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [name]


@pytest.mark.parametrize(
    "credentials",
    [{"HTTP_AUTHORIZATION": "Token abc\x00def"}, {"HTTP_COOKIE": 'sessionid="abcdefgh\\000"'}],
    ids=["token", "session cookie (an octal escape)"],
)
@pytest.mark.parametrize("path", ["/api/v1/models/", "/api/v1/transactions/"])
def test_a_credential_holding_nul_is_no_credential(client, active_model_version, credentials, path):
    response = client.get(path, **credentials)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_session_cookie_holding_nul_sends_the_admin_to_its_login_page(client):
    # As gunicorn passes it on: Django unquotes the octal escape into NUL, which PostgreSQL refuses to look up.
    response = client.get("/admin/", HTTP_COOKIE='sessionid="abcdefgh\\000"')

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_scoring_request_with_a_token_holding_nul_is_a_401_and_audited(client, active_model_version):
    response = post_raw(client, _transaction_text(), HTTP_AUTHORIZATION="Token abc\x00def")

    assert response.status_code == 401
    assert ScoringRequest.objects.get().status_code == 401


@pytest.mark.parametrize("body", [b"\x00", b'{"transaction_id": "tx"}\x00', b"\xff\x00{"])
def test_a_body_with_a_raw_nul_byte_is_a_parse_error_and_still_audited(scoring_client, active_model_version, body):
    # PostgreSQL's text cannot hold NUL: the audit row keeps U+FFFD in its place, as for bytes that are not UTF-8.
    response = post_raw(scoring_client, body)

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert "\x00" not in ScoringRequest.objects.get().body


def test_a_refused_large_scoring_body_carries_its_audit_id_in_the_header(scoring_client, settings):
    settings.FRAUDSITE_MAX_BODY_BYTES = 10

    response = post_raw(scoring_client, _transaction_text())

    assert response.status_code == 413
    assert response["X-Request-ID"] == response.json()["request_id"] == str(ScoringRequest.objects.get().request_id)
