"""Settings come from the environment; a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


AUDIT_KEY = "a-test-audit-key-of-32-characters!"


def fresh_python(tmp_path: Path, *argv: str, **env: str | None) -> subprocess.CompletedProcess:
    """Run python with argv in the project, with only these variables (plus PATH, a var dir and an audit key)
    set; a variable given as None is left unset."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "FRAUDSITE_VAR_DIR": str(tmp_path),
        "FRAUDSITE_AUDIT_KEY": AUDIT_KEY,
        **env,
    }
    environment = {name: value for name, value in environment.items() if value is not None}
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def start(tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess:
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
        ({"SECRET_KEY": "s", "FRAUDSITE_AUDIT_KEY": "short"}, "FRAUDSITE_AUDIT_KEY must have 32 or more characters"),
        ({"SECRET_KEY": "s", "API_PAGE_SIZE": "fifty"}, "API_PAGE_SIZE must be an integer"),
        ({"SECRET_KEY": "s", "FRAUDSITE_MAX_BODY_BYTES": "10"}, "FRAUDSITE_MAX_BODY_BYTES must be at least 1024"),
        ({"SECRET_KEY": "s", "THROTTLE_SCORING": "fast"}, "THROTTLE_SCORING must look like '100/minute'"),
        ({"SECRET_KEY": "s", "DATABASE_URL": "nonsense://db"}, "DATABASE_URL"),
        ({"SECRET_KEY": "s", "FRAUDSITE_DEFAULT_CURRENCY": "euro"}, "FRAUDSITE_DEFAULT_CURRENCY"),
        ({"SECRET_KEY": "s", "LOG_FORMAT": "xml"}, "LOG_FORMAT must be plain or json, got 'xml'"),
        ({"SECRET_KEY": "s", "METRICS_TOKEN": "short"}, "METRICS_TOKEN must have 16 or more characters"),
        ({"SECRET_KEY": "s", "SECURE_HSTS_SECONDS": "1 year"}, "SECURE_HSTS_SECONDS must be an integer"),
        ({"SECRET_KEY": "s", "SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS must be at least 0"),
        ({"SECRET_KEY": "s", "SECURE_HSTS_PRELOAD": "please"}, "SECURE_HSTS_PRELOAD must be a boolean"),
        ({"SECRET_KEY": "s", "SECURE_SSL_REDIRECT": "always"}, "SECURE_SSL_REDIRECT must be a boolean"),
        ({"SECRET_KEY": "s", "SESSION_COOKIE_SECURE": "y"}, "SESSION_COOKIE_SECURE must be a boolean"),
        ({"SECRET_KEY": "s", "CSRF_COOKIE_SECURE": "2"}, "CSRF_COOKIE_SECURE must be a boolean"),
        ({"SECRET_KEY": "s", "CACHE_URL": "memcached://cache:11211"}, "CACHE_URL must be a redis:// or rediss:// URL"),
        ({"SECRET_KEY": "s", "CACHE_URL": "redis://cache:six/0"}, "CACHE_URL must be a redis:// or rediss:// URL"),
        ({"SECRET_KEY": "s", "REDIS_URL": "redis:///0"}, "REDIS_URL must be a redis:// or rediss:// URL"),
        (
            {"SECRET_KEY": "s", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"},
            "SECURE_PROXY_SSL_HEADER must be an HTTP header name such as X-Forwarded-Proto",
        ),
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


def readme_production_env() -> dict[str, str]:
    """The variables of README.md's Production block, with a fresh secret key in place of its placeholder."""
    section = (ROOT / "README.md").read_text().split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```dotenv\n", 1)[1].split("```", 1)[0]
    env = dict(line.split("=", 1) for line in block.splitlines() if line.strip() and not line.startswith("#"))
    assert env["SECRET_KEY"].startswith("<"), "the README must show a placeholder, never a usable key"
    assert env["FRAUDSITE_AUDIT_KEY"].startswith("<"), "the README must show a placeholder, never a usable key"
    return {**env, "SECRET_KEY": secrets.token_urlsafe(50), "FRAUDSITE_AUDIT_KEY": secrets.token_hex(32)}


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return fresh_python(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **env)


def test_the_readme_production_variables_pass_check_deploy_without_a_warning(tmp_path):
    env = readme_production_env()

    result = check_deploy(tmp_path, **env)

    output = result.stdout + result.stderr
    assert env["DEBUG"] == "0"
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "(security.W" not in output
    assert "System check identified no issues" in output


def test_check_deploy_warns_without_the_production_variables(tmp_path):
    result = check_deploy(tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_check_deploy_warns_about_a_short_secret_key(tmp_path):
    result = check_deploy(tmp_path, **{**readme_production_env(), "SECRET_KEY": "short"})

    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_the_proxy_header_is_read_as_its_request_meta_key(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"

    result = fresh_python(
        tmp_path,
        "-c",
        code,
        DJANGO_SETTINGS_MODULE="fraudsite.settings",
        DEBUG="1",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )

    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def cache_of(tmp_path: Path, **env: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "cache = settings.CACHES['default']; print(cache['BACKEND'], cache['LOCATION'], cache.get('KEY_PREFIX'))"
    )
    result = fresh_python(tmp_path, "-c", code, DJANGO_SETTINGS_MODULE="fraudsite.settings", DEBUG="1", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_cache_is_redis_when_cache_url_or_else_redis_url_names_one(tmp_path):
    redis = "fraudsite.cache.SharedRedisCache"

    assert cache_of(tmp_path, CACHE_URL="redis://cache:6379/2") == f"{redis} redis://cache:6379/2 fraudsite"
    assert cache_of(tmp_path, REDIS_URL="rediss://cache/0", CACHE_KEY_PREFIX="fs") == f"{redis} rediss://cache/0 fs"
    assert cache_of(tmp_path, CACHE_URL="redis://a/1", REDIS_URL="redis://b/2").startswith(f"{redis} redis://a/1 ")


def test_without_redis_the_cache_is_files_the_hosts_processes_share(tmp_path):
    assert cache_of(tmp_path) == f"fraudsite.cache.HostFileCache {tmp_path / 'cache'} None"
    assert cache_of(tmp_path, CACHE_URL="").startswith("fraudsite.cache.HostFileCache ")


def test_a_cache_url_that_is_not_understood_is_named_without_its_password(tmp_path):
    result = start(tmp_path, SECRET_KEY="s", CACHE_URL="redis://:hunter2@cache:63790000/0")

    assert result.returncode != 0
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "CACHE_URL must be a redis:// or rediss:// URL such as redis://cache.internal:6379/0, "
            "got 'redis://:***@cache:63790000/0'"
        )
    )


def test_without_debug_the_audit_key_must_come_from_the_environment(tmp_path):
    result = start(tmp_path, SECRET_KEY="s", FRAUDSITE_AUDIT_KEY=None)

    assert result.returncode == 1
    assert "FRAUDSITE_AUDIT_KEY must be set" in result.stderr
    assert not (tmp_path / "audit-key").exists()


def test_with_debug_and_no_variable_a_local_key_is_made_once_readable_by_the_owner_only(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.FRAUDSITE_AUDIT_KEY)"

    first, second = (
        fresh_python(
            tmp_path, "-c", code, DJANGO_SETTINGS_MODULE="fraudsite.settings", DEBUG="1", FRAUDSITE_AUDIT_KEY=None
        )
        for _ in range(2)
    )

    assert first.stdout == second.stdout == (tmp_path / "audit-key").read_text()
    assert len(first.stdout.strip()) == 64
    assert stat.S_IMODE((tmp_path / "audit-key").stat().st_mode) == 0o600
