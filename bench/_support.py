"""What the benchmarks share: a fresh database to run against, and the environment of the commands they start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


@dataclass
class Database:
    url: str
    label: str
    admin_url: str | None = None
    name: str | None = None

    def drop(self) -> None:
        if self.admin_url and self.name:
            _postgres(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def fresh_database(url: str | None, work: Path, purpose: str) -> Database:
    """SQLite in the working directory, or a new database on the PostgreSQL server DATABASE_URL names."""
    if not url or url.startswith("sqlite"):
        label = "SQLite (WAL), file in a temporary directory"
        return Database(url=f"sqlite:///{work / f'bench-{purpose}.sqlite3'}", label=label)
    parts = urlsplit(url)
    name = f"fraudsite_bench_{purpose}_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    _postgres(admin_url, f'CREATE DATABASE "{name}"')
    return Database(
        url=urlunsplit(parts._replace(path=f"/{name}")),
        label=f"PostgreSQL at {parts.hostname}:{parts.port or 5432}, fresh database {name}",
        admin_url=admin_url,
        name=name,
    )


def _postgres(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def environment(work: Path, database_url: str) -> dict[str, str]:
    """The environment for manage.py and gunicorn: production settings, no throttles, quiet logs."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key",
        "FRAUDSITE_AUDIT_KEY": "bench-only-audit-key-0123456789abcdef",
        "DEBUG": "0",
        "FRAUDSITE_VAR_DIR": str(work),
        "FRAUDSITE_MODEL_DIR": str(work / "models"),
        "THROTTLE_SCORING": "none",
        "THROTTLE_ANON": "none",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
    }


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
