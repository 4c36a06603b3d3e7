"""Bodies the service cannot take whole: the client gets the JSON refusal, never a reset, and nothing is stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.live

TRANSACTIONS = "/api/v1/transactions/"


def transaction(transaction_id: str, **extra: object) -> dict[str, object]:
    return {
        "transaction_id": transaction_id,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "customer_id": "LIVE-FRAMING",
        "terminal_id": "LIVE-T1",
        "amount": "42.00",
        **extra,
    }


def assert_error(answer, *, status: int, code: str) -> None:
    """The README's error shape; request_id is the audit id, since transactions/ is a scoring endpoint."""
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"status", "code", "detail", "fields", "request_id"}
    assert (body["status"], body["code"], body["fields"]) == (status, code, {})
    assert body["detail"]
    assert body["request_id"]


def send(live_service, body):
    """POST transactions/ as a scoring client; a connection the server broke fails the test with what was seen."""
    try:
        return live_service.request(
            "POST",
            TRANSACTIONS,
            token=live_service.scoring_token,
            body=body,
            headers={"Content-Type": "application/json"},
        )
    except ConnectionError as exc:
        pytest.fail(f"the client saw {exc!r} instead of an answer")


def assert_not_stored(live_service, transaction_id: str) -> None:
    answer = live_service.request("GET", f"{TRANSACTIONS}{transaction_id}/", token=live_service.analyst_token)
    assert answer.status == 404, answer.body


def test_a_5_mb_body_sent_without_expect_100_continue_gets_the_413_answer(live_service):
    body = json.dumps(transaction("live-too-large", metadata={"padding": "x" * (5 * 1024 * 1024)})).encode()

    # http.client sends the whole body before it reads the answer, and never sends Expect: 100-continue.
    answer = send(live_service, body)

    assert_error(answer, status=413, code="payload_too_large")
    assert_not_stored(live_service, "live-too-large")


def test_a_chunked_body_gets_411_and_nothing_is_stored(live_service):
    body = json.dumps(transaction("live-chunked")).encode()

    def streamed() -> Iterator[bytes]:
        # Chunked is how a client streams a body of unknown length: its chunks come as they are made.
        yield body[:20]
        time.sleep(0.3)
        yield body[20:]

    # An iterable body and no Content-Length: http.client sends it with Transfer-Encoding: chunked.
    answer = send(live_service, streamed())

    assert_error(answer, status=411, code="length_required")
    assert_not_stored(live_service, "live-chunked")
