"""Rate limits per role, with the rates of settings.REST_FRAMEWORK (set from THROTTLE_* variables).

Each client and scope has one counter per fixed window of the rate's period, in Django's cache: Redis when
CACHE_URL names one, so the limit holds across every worker of every host; otherwise a cache in files that
the workers of one host share (fraudsite/cache.py), so it holds per host. A request adds one to its
window's counter (the caches' count(), atomic in both) and passes while the count is within the limit;
a refused request gets 429 with Retry-After, the seconds until its window ends.

Why not DRF's own throttles: they keep a list of timestamps per client, read and rewritten whole on each
request. Two processes that read the same list both append and one write is lost, so the real limit
grew with the number of processes, and a rate of 100000/minute pickled a list of up to 100,000 floats
on every request.

Fixed windows, aligned to the clock (a minute's window starts on the minute, on every host alike): a
client may send the whole limit at the end of one window and the whole limit again at the start of the
next, so up to twice the limit can pass within a short time across an edge; within any one window,
never more than the limit. The hosts' clocks must agree (NTP) for their requests to count in the same
window.

A cache that fails (Redis unreachable) does not refuse scoring: the rate limit is not worth an outage of
the fraud check. The request passes, a warning is logged, and for the next few seconds this process lets
requests through without asking the cache, so that an unreachable Redis costs one connect timeout per
interval, not one per request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# As DRF reads a rate: "100/minute" is 100 per 60 seconds; the period is named by its first letter.
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A counter outlives its window by this much, so a request that computed its window just before the edge
# never finds the counter already expired.
_COUNTER_GRACE_SECONDS = 60
# After the cache failed, this process lets requests through for this long without asking it again.
CACHE_RETRY_SECONDS = 5.0

_cache_retry_at = 0.0  # time.monotonic() before which this process does not ask the cache


def parse_rate(rate: str) -> tuple[int, int]:
    """'100/minute' -> (100, 60): the limit and the period in seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIOD_SECONDS[period[0]]


class FixedWindowThrottle(BaseThrottle):
    """At most `limit` requests per client and scope in each window of the rate's period."""

    timer = time.time  # as DRF's throttles have it: tests set another clock
    wait_seconds: float | None = None

    def scope_of(self, request: Request, view: Any) -> str | None:
        """The rate's name in DEFAULT_THROTTLE_RATES, or None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = self.scope_of(request, view)
        if scope is None:
            return True
        # Read per request, not at import, so that a change of settings (as in tests) takes effect.
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if scope not in rates:
            raise ImproperlyConfigured(f"REST_FRAMEWORK's DEFAULT_THROTTLE_RATES has no rate for {scope!r}")
        rate = rates[scope]
        if rate is None:
            return True
        limit, period = parse_rate(rate)
        now = self.timer()
        window_start = int(now // period) * period
        count = _counted(f"throttle:{scope}:{self.ident_of(request)}:{period}:{window_start}", timeout=period)
        if count is None or count <= limit:
            return True
        self.wait_seconds = window_start + period - now
        return False

    def wait(self) -> float | None:
        """Seconds until the refused request's window ends (DRF rounds it up for Retry-After)."""
        return self.wait_seconds

    def ident_of(self, request: Request) -> str:
        """The client: its user id, or the address DRF's get_ident gives for an anonymous one."""
        user = request.user
        if user is not None and user.is_authenticated:
            return f"user-{user.pk}"
        return f"addr-{self.get_ident(request)}"


class RoleRateThrottle(FixedWindowThrottle):
    """The view's throttle_scope: "scoring" or "analyst", per client."""

    def scope_of(self, request: Request, view: Any) -> str | None:
        return getattr(view, "throttle_scope", None)


class AnonymousRateThrottle(FixedWindowThrottle):
    """The "anon" rate, per address, for requests without credentials."""

    def scope_of(self, request: Request, view: Any) -> str | None:
        user = request.user
        return None if user is not None and user.is_authenticated else "anon"


def _counted(key: str, *, timeout: int) -> int | None:
    """The window's count with this request; None when the cache failed, now or a moment ago."""
    global _cache_retry_at
    if time.monotonic() < _cache_retry_at:
        return None
    try:
        # count(): atomic across processes, in one round trip to Redis (fraudsite/cache.py).
        return cache.count(key, timeout + _COUNTER_GRACE_SECONDS)
    except Exception as exc:
        if not _is_cache_failure(exc):
            raise
        _cache_retry_at = time.monotonic() + CACHE_RETRY_SECONDS
        logger.warning(
            "rate limits are off in this process for %.0f s: the cache failed (%s: %s)",
            CACHE_RETRY_SECONDS,
            type(exc).__name__,
            exc,
        )
        return None


def _is_cache_failure(exc: Exception) -> bool:
    if isinstance(exc, OSError | ValueError):  # the file cache's disk; a counter that vanished twice
        return True
    # Imported here, not at the top: it takes 0.1 s, and a host without Redis never needs it.
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError)
