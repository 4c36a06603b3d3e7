"""Typed readers for settings that come from the environment.

Every reader raises ImproperlyConfigured naming the variable when its value is bad, so a
misconfigured deployment stops at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as '100/minute'; 'none' switches the throttle off."""
    raw = os.environ.get(name, default).strip()
    if raw.lower() == "none":
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or period not in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}:
        raise ImproperlyConfigured(f"{name} must look like '100/minute' (or 'none'), got {raw!r}")
    return raw


def env_header(name: str) -> str | None:
    """An HTTP header name such as 'X-Forwarded-Proto', as its request.META key; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not _HEADER_NAME.fullmatch(raw):
        raise ImproperlyConfigured(f"{name} must be an HTTP header name such as X-Forwarded-Proto, got {raw!r}")
    return "HTTP_" + raw.upper().replace("-", "_")


def env_redis_url(name: str) -> str | None:
    """A redis:// or rediss:// URL (redis://[:password@]host[:port][/db]); None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        understood = (
            parts.scheme in {"redis", "rediss"}
            and bool(parts.hostname)
            and (parts.port or 0) >= 0  # .port raises ValueError for a port that is not a number or out of range
            and re.fullmatch(r"/?[0-9]*", parts.path) is not None
        )
    except ValueError:
        understood = False
    if not understood:
        raise ImproperlyConfigured(
            f"{name} must be a redis:// or rediss:// URL such as redis://cache.internal:6379/0, got {_redacted(raw)!r}"
        )
    return raw


def _redacted(url: str) -> str:
    """The URL with any password masked, fit for an error message."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
    except ValueError:
        return "(not a URL)"


AUDIT_KEY_MIN_LENGTH = 32


def env_audit_key(name: str, *, local_file: Path | None) -> str:
    """The audit's HMAC key: from the environment, or (local_file given, for DEBUG) a key kept in that file,
    made on first use with mode 0600, as bootstrap_demo keeps the demo credentials."""
    value = os.environ.get(name)
    if value is None and local_file is not None:
        value = _local_key(local_file)
    if value is None:
        raise ImproperlyConfigured(
            f"{name} must be set: the audit's hash key, {AUDIT_KEY_MIN_LENGTH} or more characters, kept out of "
            "the database (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if len(value) < AUDIT_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(f"{name} must have {AUDIT_KEY_MIN_LENGTH} or more characters, got {len(value)}")
    return value


def _local_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
