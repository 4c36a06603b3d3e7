"""Settings come from the environment; a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fresh_python(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """Run python with argv in the project, with only these variables (plus PATH and a var dir) set."""
    environment = {"PATH": os.environ.get("PATH", ""), "FRAUDSITE_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Start Django in a fresh interpreter with only these variables set."""
    return fresh_python(
        tmp_path, "-c", "import django; django.setup()", DJANGO_SETTINGS_MODULE="fraudsite.settings", **env
    )


def test_it_starts_with_a_secret_key_and_defaults(tmp_path):
    assert start(tmp_path, SECRET_KEY="s3cret").returncode == 0


def test_debug_may_run_without_a_secret_key(tmp_path):
    assert start(tmp_path, DEBUG="1").returncode == 0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "s", "DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"SECRET_KEY": "s", "API_PAGE_SIZE": "fifty"}, "API_PAGE_SIZE must be an integer"),
        ({"SECRET_KEY": "s", "FRAUDSITE_MAX_BODY_BYTES": "10"}, "FRAUDSITE_MAX_BODY_BYTES must be at least 1024"),
        ({"SECRET_KEY": "s", "THROTTLE_SCORING": "fast"}, "THROTTLE_SCORING must look like '100/minute'"),
        ({"SECRET_KEY": "s", "DATABASE_URL": "nonsense://db"}, "DATABASE_URL"),
        ({"SECRET_KEY": "s", "FRAUDSITE_DEFAULT_CURRENCY": "euro"}, "FRAUDSITE_DEFAULT_CURRENCY"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, env, named):
    result = start(tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_a_command_with_a_bad_setting_exits_with_one_line_naming_it(tmp_path):
    result = fresh_python(tmp_path, "manage.py", "list_models", DEBUG="maybe")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: DEBUG must be a boolean (1/0, true/false, yes/no, on/off), got 'maybe' "
        "(see Configuration in README.md; DEBUG=1 for local use)"
    ]


def test_a_command_whose_database_cannot_be_opened_exits_with_one_line(tmp_path):
    missing = f"sqlite:///{tmp_path}/missing-directory/db.sqlite3"

    result = fresh_python(tmp_path, "manage.py", "list_models", DEBUG="1", DATABASE_URL=missing)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: database: unable to open database file (is DATABASE_URL right, and has `migrate` run?)"
    ]
