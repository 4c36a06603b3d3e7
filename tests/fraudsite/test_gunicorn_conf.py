"""gunicorn.conf.py's default number of workers: one per core, one more on PostgreSQL (bench/RESULTS.md, issue 13)."""

import os
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _workers(monkeypatch, tmp_path, database_url: str | None) -> int:
    monkeypatch.setenv("FRAUDSITE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    return runpy.run_path(str(CONF))["workers"]


@pytest.mark.parametrize("url", ["postgres://postgres@127.0.0.1:5432/fraudsite", "postgresql://db.internal/fraud"])
def test_on_postgresql_one_worker_more_than_cores(monkeypatch, tmp_path, url):
    assert _workers(monkeypatch, tmp_path, url) == CORES + 1


@pytest.mark.parametrize("url", [None, "", "sqlite:////srv/fraudsite/var/fraudsite.sqlite3"])
def test_on_sqlite_one_worker_per_core(monkeypatch, tmp_path, url):
    assert _workers(monkeypatch, tmp_path, url) == CORES


def test_a_database_url_settings_will_refuse_does_not_stop_gunicorn_reading_its_settings(monkeypatch, tmp_path):
    # settings.py refuses it with a clear error when a worker starts; the config file itself must still load.
    assert _workers(monkeypatch, tmp_path, "bogus://nowhere") == CORES
