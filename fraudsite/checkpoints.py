"""SQLite's WAL checkpoints off the request path, in the web server's worker processes.

SQLite appends every commit to its write-ahead log; a checkpoint copies the log back into the database
file and fsyncs it. By default the commit that takes the log past 1,000 pages runs the checkpoint itself:
one scoring request in about a hundred then waited 8-22 ms on the disk (measured in-process: the commit's
own time). In a worker, a daemon thread checkpoints every second instead (the fsync runs outside the GIL),
and the commits' own threshold is raised to a backstop that bounds the log should the thread not run.

RESTART, not PASSIVE: under steady traffic a PASSIVE checkpoint never let the log start again from its
beginning, so it grew to the backstop (40 MB within 1,200 requests) and the commits checkpointed after
all. RESTART waits until the log is fully copied and then lets the next writer start it over (it stayed
under 15 MB); writers that arrive meanwhile wait for the copy of one second's frames.

Only the WSGI application starts this (fraudsite/wsgi.py): management commands keep SQLite's default.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
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
            database.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        except sqlite3.Error as exc:  # another process's checkpoint, a full disk: the next one tries again
            logger.warning("background WAL checkpoint of %s failed: %s", path, exc)
