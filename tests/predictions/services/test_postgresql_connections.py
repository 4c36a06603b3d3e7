"""PostgreSQL connections: a request's first reads are its health check (row_sql.fetch_many), and the scoring
path's statements are prepared on the server once per connection (settings: prepare_threshold)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection

from predictions.services.row_sql import fetch_many

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: a server that drops connections"),
    pytest.mark.django_db,
]


def in_a_request_thread(work: Callable[[], Any]) -> Any:
    """work() in a thread of its own, as a request runs: its own connection, in autocommit (not in the test's
    transaction), closed at the end."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            connection.ensure_connection()
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_requests_first_reads_replace_a_connection_the_server_dropped():
    # Django keeps connections between requests; PostgreSQL may terminate one meanwhile (a restart, a failover).
    def work():
        dropped = connection.connection.info.backend_pid
        with psycopg.connect(_database_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [dropped])
        connection.health_check_done = False  # as at the start of a request
        return dropped, fetch_many([("SELECT pg_backend_pid()", []), ("SELECT 2", [])])

    dropped, rows = in_a_request_thread(work)

    assert rows[0][0][0] != dropped  # answered on a new connection
    assert rows[1] == [(2,)]


def test_a_failing_read_on_a_sound_connection_is_raised_not_run_again():
    def work():
        kept = connection.connection.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 20")
        connection.health_check_done = False
        with pytest.raises(OperationalError, match="statement timeout"):
            fetch_many([("SELECT pg_sleep(0.2)", [])])
        return kept, connection.connection.info.backend_pid

    kept, after = in_a_request_thread(work)

    assert after == kept


def test_the_scoring_paths_statements_are_prepared_once_per_connection(
    active_model_version, scoring_client, transaction_payload
):
    for _ in range(6):  # psycopg prepares a statement on its fifth run on a connection
        assert scoring_client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 201

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("to_char" in statement for statement in prepared)  # the history reads
    assert any(statement.startswith("WITH w0 AS (INSERT") for statement in prepared)  # the one-statement write


def _database_url() -> str:
    settings = connection.settings_dict
    return f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
