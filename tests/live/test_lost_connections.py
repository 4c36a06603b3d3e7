"""PostgreSQL drops the server's connections: the next requests still succeed (the scoring path's first read is its
health check, row_sql.fetch_many; other paths have Django's CONN_HEALTH_CHECKS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

pytestmark = pytest.mark.live


def score(live_service, transaction_id: str):
    return live_service.request(
        "POST",
        "/api/v1/transactions/",
        token=live_service.scoring_token,
        json_body={
            "transaction_id": transaction_id,
            "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "customer_id": "LIVE-LOST",
            "terminal_id": "LIVE-T2",
            "amount": "19.99",
        },
    )


def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend on every other connection to the live database; how many there were."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_requests_after_postgres_terminated_the_servers_connections_all_succeed(live_service):
    if live_service.database_url is None:
        pytest.skip("PostgreSQL only: SQLite has no server to drop connections")
    # Both workers keep a connection (CONN_MAX_AGE); a few requests give each one the chance to open it.
    for number in range(6):
        assert score(live_service, f"live-lost-warm-{number}").status == 201

    assert terminate_backends(live_service.database_url) >= 1

    statuses = [score(live_service, f"live-lost-{number}").status for number in range(10)]
    assert statuses == [201] * 10
