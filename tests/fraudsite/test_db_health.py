"""PostgreSQL connection health checks (fraudsite/db/postgresql): no round trip for a live connection, and a
connection the server closed is still found unusable, so Django replaces it before a request uses it."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no server connection"),
]


@pytest.fixture
def kept():
    """A second connection to the test database, as a worker keeps one between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_a_live_connection_passes_without_a_query(kept, monkeypatch):
    def no_queries(*args, **kwargs):
        raise AssertionError("the health check of a live connection sent a query")

    monkeypatch.setattr(kept.connection, "cursor", no_queries)
    monkeypatch.setattr(kept.connection, "execute", no_queries)
    assert kept.is_usable()


def test_a_connection_the_server_terminated_is_unusable_and_replaced(kept):
    pid = kept.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)
    deadline = time.monotonic() + 5
    while kept.is_usable() and time.monotonic() < deadline:  # the server's message takes a moment to arrive
        time.sleep(0.01)
    assert not kept.is_usable()

    kept.health_check_enabled, kept.health_check_done = True, False
    kept.close_if_health_check_failed()
    with kept.cursor() as cursor:  # a new connection
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
