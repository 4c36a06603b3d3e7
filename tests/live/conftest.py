"""A real gunicorn on a fresh database, for the tests that talk to the service over sockets only.

It starts once for the package, as `make run` would (two sync workers, DEBUG=0), on SQLite in a temporary
directory or, when DATABASE_URL names PostgreSQL, on a database of its own (`<name>_live`) created here
and dropped at the end. The tests never touch the database through Django: no `db` fixture.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 30  # seconds for gunicorn to answer its first health check
REQUEST_TIMEOUT = 120  # seconds for one answer; a 5 MB upload or 16 queued batches take a few
SERVER_LOGS = pytest.StashKey[list[tuple[Path, int]]]()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class LiveService:
    port: int
    scoring_token: str
    analyst_token: str
    database_url: str | None  # the live PostgreSQL database; None on SQLite
    log: Path  # gunicorn's stderr
    env: dict[str, str]  # the server's environment, for manage.py beside it

    def manage(self, *argv: str) -> subprocess.CompletedProcess:
        """manage.py with the server's settings and database; the caller judges the exit status."""
        return subprocess.run(
            [sys.executable, "manage.py", *argv], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )

    @contextmanager
    def another_instance(self, name: str, **env: str) -> Iterator[LiveService]:
        """Another gunicorn master (two workers, as this one) on this service's database, keys and files, on a
        port of its own, with these variables changed: a second host, as far as the service can tell."""
        env = {**self.env, **env}
        log = self.log.with_name(f"gunicorn-{name}.stderr")
        port = _free_port()
        # Metrics files of its own: gunicorn empties the directory when it starts, which would lose the others'.
        metrics = {"PROMETHEUS_MULTIPROC_DIR": str(self.log.with_name(f"prometheus-{name}"))}
        with _gunicorn({**metrics, **env}, port, log):
            yield replace(self, port=port, log=log, env=env)

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request on a new connection; a JSON body is sent with its Content-Length, an iterable chunked."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Token {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()


@pytest.fixture(scope="package")
def live_service(tmp_path_factory) -> Iterator[LiveService]:
    """gunicorn serving fraudsite.wsgi on a free port, on a fresh database prepared by bootstrap_demo."""
    var_dir = tmp_path_factory.mktemp("live") / "var"
    (var_dir / "static").mkdir(parents=True)  # WhiteNoise warns on every worker start without it
    with _live_database() as database_url:
        env = _server_env(var_dir, database_url)
        _manage(env, "migrate", "--noinput")
        _manage(env, "bootstrap_demo")
        # The token is the last line (create_api_client's help says so).
        scoring_token = _manage(env, "create_api_client", "live-scoring", "--role", "scoring").split()[-1]
        analyst_token = _manage(env, "create_api_client", "live-analyst", "--role", "analyst").split()[-1]
        log = var_dir / "gunicorn.stderr"
        port = _free_port()
        with _gunicorn(env, port, log):
            yield LiveService(port, scoring_token, analyst_token, database_url, log, env)


@pytest.fixture(autouse=True)
def _server_log_mark(request, live_service: LiveService) -> None:
    """Where each gunicorn's stderr (another_instance's too) stands as the test starts, so a failing test
    shows what the servers logged."""
    logs = sorted(live_service.log.parent.glob("gunicorn*.stderr"))
    request.node.stash[SERVER_LOGS] = [(log, log.stat().st_size) for log in logs]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if not report.failed:
        return report
    for log, offset in item.stash.get(SERVER_LOGS, []):
        with log.open("rb") as handle:
            handle.seek(offset)
            logged = handle.read().decode(errors="replace")
        report.sections.append((f"{log.name} during the test", logged or "(nothing)"))
    return report


@contextmanager
def _live_database() -> Iterator[str | None]:
    """None for SQLite (in FRAUDSITE_VAR_DIR); for PostgreSQL the URL of `<name>_live`, recreated, dropped after."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        yield None
        return
    name = parts.path.lstrip("/") + "_live"
    maintenance = urlunsplit(parts._replace(path="/postgres"))

    def run(sql: str) -> None:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(sql)

    # FORCE: a worker's kept connection must not keep the database alive after a failed run.
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    """Only what the server needs: none of the test run's own settings (DJANGO_SETTINGS_MODULE, DEBUG) leak in."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
        "DEBUG": "0",
        "SECRET_KEY": "live-tests-" + secrets.token_urlsafe(40),
        "FRAUDSITE_AUDIT_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": HOST,
        "FRAUDSITE_VAR_DIR": str(var_dir),
        "FRAUDSITE_MODEL_DIR": str(var_dir / "models"),
        "LOG_LEVEL": "WARNING",
        # A 429 is documented and correct, but it would cut schemathesis' runs short.
        "THROTTLE_SCORING": "none",
        "THROTTLE_ANALYST": "none",
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def _manage(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py {' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def _gunicorn(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "fraudsite.wsgi"]
    command += ["--bind", f"{HOST}:{port}", "--workers", "2"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _wait_until_live(process, port, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_live(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", "/api/v1/health/live/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    logged = log.read_text(errors="replace")
    pytest.fail(f"gunicorn did not answer /api/v1/health/live/ within {START_TIMEOUT} s:\n{logged}")
