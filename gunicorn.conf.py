"""gunicorn's settings for fraudsite, read by `gunicorn -c gunicorn.conf.py fraudsite.wsgi` (make run, the README's
production command, tests/live); the bind address is given on the command line, and the number of workers there
overrides the default below.

Prometheus' multiprocess mode, so that /metrics, which one worker answers, counts every worker's requests: each
worker writes its values to files of its own in PROMETHEUS_MULTIPROC_DIR (default FRAUDSITE_VAR_DIR/prometheus),
set here before any worker imports prometheus_client. The directory is emptied when gunicorn starts (the files of
a previous run would count again), and a worker that exits is marked dead, so its live gauges stop counting; its
counters stay, as a counter must.
"""

import os
from pathlib import Path

import dj_database_url

_VAR_DIR = Path(os.environ.get("FRAUDSITE_VAR_DIR") or Path(__file__).resolve().parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_VAR_DIR / "prometheus"))

# LOG_FORMAT=json: fraudsite writes one JSON line per request itself (fraudsite.requests), with its request id.
accesslog = None if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "-"

# Sync workers, one per core: the request path is CPU-bound Python. On PostgreSQL one more, which works while the
# others wait for the database: on 2 cores, 3 workers scored 12-14 % more a second than 2 at 16 connections, and 4
# no more than 3. On SQLite, where the writes take turns for one lock, 3 scored 8-11 % less than 2 (bench/RESULTS.md,
# issue 13).
# `--workers N` on the command line overrides this.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)  # Linux; macOS


def _default_workers() -> int:
    try:
        engine = dj_database_url.parse(os.environ.get("DATABASE_URL", "").strip()).get("ENGINE", "")
    except ValueError:  # no or a bad URL: settings.py says so when the workers start
        engine = ""
    return _CORES + 1 if "postgresql" in engine else _CORES


workers = _default_workers()


def on_starting(server):
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
