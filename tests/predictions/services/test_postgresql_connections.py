"""PostgreSQL connections: a request's first reads are its health check (row_sql.fetch_many), and the scoring
path's statements are prepared on the server once per connection (settings: prepare_threshold)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection

from predictions.services.row_sql import fetch_many

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: a server that drops connections")


@pytest.fixture
def outside_a_transaction(django_db_setup, django_db_blocker):
    """The test database in autocommit, as a request sees it (not inside a test's transaction); for reads only."""
    with django_db_blocker.unblock():
        yield


# Not in a test's transaction (pytest.mark.django_db): a request's reads run in autocommit.
def test_a_requests_first_reads_replace_a_connection_the_server_dropped(outside_a_transaction):
    # Django keeps connections between requests; PostgreSQL may terminate one meanwhile (a restart, a failover).
    connection.ensure_connection()
    dropped = connection.connection.info.backend_pid
    with psycopg.connect(_database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dropped])
    connection.health_check_done = False  # as at the start of a request

    rows = fetch_many([("SELECT pg_backend_pid()", []), ("SELECT 2", [])])

    assert rows[0][0][0] != dropped  # answered on a new connection
    assert rows[1] == [(2,)]


def test_a_failing_read_on_a_sound_connection_is_raised_not_run_again(outside_a_transaction):
    connection.ensure_connection()
    kept = connection.connection.info.backend_pid
    connection.health_check_done = False
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 20")
    connection.health_check_done = False

    with pytest.raises(OperationalError, match="statement timeout"):
        fetch_many([("SELECT pg_sleep(0.2)", [])])

    assert connection.connection.info.backend_pid == kept
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")


@pytest.mark.django_db
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
