"""Two app hosts on one PostgreSQL and one Redis behave as one service (README, "Running on more than one machine").

Two more gunicorn masters, two workers each, on the live service's database, files and keys, stand for two
hosts behind a load balancer; requests are split between them. Their cache is the machine's Redis, under
a key prefix of this module's own, which is all that is removed after.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

pytestmark = pytest.mark.live

REDIS_URL = "redis://127.0.0.1:6379/0"
TRANSACTIONS = "/api/v1/transactions/"
LIMIT = 20  # THROTTLE_SCORING on both hosts: 20/minute
# The throttled requests must fall in one minute's window: with less than this left, wait for the next one.
WINDOW_MARGIN = 20  # seconds; the 60 requests take a few on a loaded 2-core machine


@pytest.fixture(scope="module")
def hosts(live_service, redis_server) -> Iterator[tuple]:
    """The two instances, on the same database and the same Redis."""
    if live_service.database_url is None:
        pytest.skip("PostgreSQL only: hosts share a database server, and SQLite is a file on one machine")
    redis = redis_server
    prefix = f"fraudsite-live-{secrets.token_hex(4)}"
    env = {"CACHE_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix, "THROTTLE_SCORING": f"{LIMIT}/minute"}
    try:
        with live_service.another_instance("host-a", **env) as a, live_service.another_instance("host-b", **env) as b:
            yield a, b
    finally:
        for key in redis.scan_iter(match=f"{prefix}:*"):
            redis.delete(key)


def transaction(transaction_id: str) -> dict[str, str]:
    return {
        "transaction_id": transaction_id,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "customer_id": "LIVE-TWO-HOSTS",
        "terminal_id": "LIVE-T3",
        "amount": "73.10",
    }


def at_once(send, n: int) -> list:
    """send(i) for i in range(n), from n threads released together."""
    start = threading.Barrier(n)

    def released(i: int):
        start.wait(timeout=60)
        return send(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(released, range(n)))


def stored_rows(database_url: str, transaction_id: str) -> tuple[int, int]:
    """(transactions, predictions) the database holds for transaction_id."""
    with psycopg.connect(database_url) as connection:
        transactions = connection.execute(
            "SELECT count(*) FROM predictions_transaction WHERE transaction_id = %s", [transaction_id]
        ).fetchone()[0]
        predictions = connection.execute(
            "SELECT count(*) FROM predictions_prediction AS p"
            " JOIN predictions_transaction AS t ON t.id = p.transaction_id WHERE t.transaction_id = %s",
            [transaction_id],
        ).fetchone()[0]
    return transactions, predictions


def test_sixteen_copies_of_a_transaction_sent_at_once_to_two_hosts_are_stored_once(live_service, hosts):
    body = transaction(f"live-two-hosts-{secrets.token_hex(4)}")

    answers = at_once(
        lambda i: hosts[i % 2].request("POST", TRANSACTIONS, token=live_service.scoring_token, json_body=body), 16
    )

    assert sorted(answer.status for answer in answers) == [200] * 15 + [201], [a.body for a in answers]
    first = next(answer for answer in answers if answer.status == 201)
    for replay in (answer for answer in answers if answer.status == 200):
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()  # the stored result, never a second score
    assert stored_rows(live_service.database_url, body["transaction_id"]) == (1, 1)


def test_a_limit_of_20_a_minute_lets_20_of_60_requests_through_across_both_hosts(live_service, hosts):
    # A client of its own: no other test's requests count against it.
    created = live_service.manage("create_api_client", "live-two-hosts-throttled", "--role", "scoring")
    assert created.returncode == 0, created.stderr
    token = created.stdout.split()[-1]
    left = 60 - time.time() % 60
    if left < WINDOW_MARGIN:
        time.sleep(left + 0.5)
    window = int(time.time() // 60)

    answers = at_once(
        lambda i: hosts[i % 2].request(
            "POST", TRANSACTIONS, token=token, json_body=transaction(f"live-throttled-{window}-{i:02d}")
        ),
        60,
    )

    assert int(time.time() // 60) == window, f"60 requests took over {WINDOW_MARGIN} s: they crossed a window's edge"
    assert Counter(answer.status for answer in answers) == {201: LIMIT, 429: 60 - LIMIT}
    for refused in (answer for answer in answers if answer.status == 429):
        assert refused.json()["code"] == "throttled"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
