"""SQLite's WAL checkpoints off the request path, in the web server's worker processes.

SQLite appends every commit to its write-ahead log (about 20 pages for a scoring request: three rows and
their indexes); a checkpoint copies the log back into the database file and fsyncs it. By default the
commit that takes the log past 1,000 pages runs the checkpoint itself, so one scoring request in about
fifty waited for it. In a worker, a daemon thread runs a PASSIVE checkpoint every 50 ms instead (the copy
and the fsync run outside the GIL), and the commits' own threshold is raised to a backstop that bounds
the log should the thread fall behind.

PASSIVE, because it never blocks a writer: it copies what is committed while requests keep committing.
RESTART and FULL take the database's write lock for the whole copy, so every scoring request that arrived
meanwhile waited for it: one second's log (about 7,000 pages) took 35-60 ms to copy, and the p99 at one
connection was 47 ms. Often, because then the log stays short: copying 50 ms of commits takes about 2 ms, and
the log starts over whenever a writer finds it fully copied. Measured under wrk, one connection, one worker
(bench/RESULTS.md, issue 13): p99 47 ms with RESTART every second, 9.9 ms with SQLite's own checkpoints in
the commits, 10.7 ms with PASSIVE every 100 ms, 5.2 ms every 50 ms and 4.4 ms every 20 ms (which costs 4 %
more CPU per request).

Only the WSGI application starts this (fraudsite/wsgi.py): management commands keep SQLite's default.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.05
BACKSTOP_PAGES = 10_000  # about 40 MB of log at SQLite's 4 KiB pages

_started_in_pid: int | None = None
_lock = threading.Lock()


def checkpoint_in_background() -> None:
    """From now on, SQLite connections of this process leave checkpoints to a background thread."""
    connection_created.connect(_on_connection_created, dispatch_uid="fraudsite-background-checkpoints")


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
    _start_checkpointer(str(connection.settings_dict["NAME"]))


def _start_checkpointer(path: str) -> None:
    # Once per process, and after gunicorn's fork: a thread started before a fork does not run in the child.
    global _started_in_pid
    with _lock:
        if _started_in_pid == os.getpid():
            return
        _started_in_pid = os.getpid()
    never = threading.Event()
    thread = threading.Thread(target=checkpoint_until, args=(path, never), name="sqlite-checkpoints", daemon=True)
    thread.start()


def checkpoint_until(path: str, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
    """Checkpoint the database at path every interval seconds until stop is set."""
    database = sqlite3.connect(path, timeout=1.0, check_same_thread=False)
    while not stop.wait(interval):
        try:
            database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # another process's checkpoint, a full disk: the next one tries again
            logger.warning("background WAL checkpoint of %s failed: %s", path, exc)
