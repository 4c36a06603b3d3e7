"""Django's PostgreSQL backend, with a connection health check that costs no round trip while it passes.

Django checks a kept connection once a request (CONN_HEALTH_CHECKS) with `SELECT 1`: on the scoring path that
was one of ten round trips and 11 % of a worker's time under load (bench/RESULTS.md, issue 13). A connection the
server has closed (a restart, pg_terminate_backend, an idle timeout) has a readable socket: the server's FATAL
message, then the end of the stream. A live, idle connection has nothing to read. So the socket is polled
without waiting, and only a readable one gets Django's `SELECT 1` (which also reads a harmless message the
server may have sent, such as a NOTICE).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
