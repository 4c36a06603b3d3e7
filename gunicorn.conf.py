"""gunicorn's settings for fraudsite, read by `gunicorn -c gunicorn.conf.py fraudsite.wsgi` (make run, the README's
production command, tests/live); the bind address and the number of workers are given on the command line.

Prometheus' multiprocess mode, so that /metrics, which one worker answers, counts every worker's requests: each
worker writes its values to files of its own in PROMETHEUS_MULTIPROC_DIR (default FRAUDSITE_VAR_DIR/prometheus),
set here before any worker imports prometheus_client. The directory is emptied when gunicorn starts (the files of
a previous run would count again), and a worker that exits is marked dead, so its live gauges stop counting; its
counters stay, as a counter must.
"""

import os
from pathlib import Path

_VAR_DIR = Path(os.environ.get("FRAUDSITE_VAR_DIR") or Path(__file__).resolve().parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_VAR_DIR / "prometheus"))

# LOG_FORMAT=json: fraudsite writes one JSON line per request itself (fraudsite.requests), with its request id.
accesslog = None if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "-"


def on_starting(server):
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
