"""The rate limits: one atomic counter per client, scope and fixed window, in Django's cache, and a cache that
fails lets requests through."""

from __future__ import annotations

import logging
import secrets
import socket
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import ConnectionError as RedisConnectionError

from predictions.api import throttling
from predictions.api.throttling import AnonymousRateThrottle, RoleRateThrottle
from predictions.models import ScoringRequest

MINUTE_START = 1_800_000_000  # a window's start: a multiple of 60, and of 3600
REDIS_URL = "redis://127.0.0.1:6379/0"


def rates(settings, **rates: str | None) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "scoring": None, "analyst": None, **rates},
    }


def request_of(user_id: int | None = 7, address: str = "192.0.2.1") -> SimpleNamespace:
    user = SimpleNamespace(is_authenticated=user_id is not None, pk=user_id)
    return SimpleNamespace(user=user, META={"REMOTE_ADDR": address})


def view_of(scope: str | None) -> SimpleNamespace:
    return SimpleNamespace(throttle_scope=scope)


def allowed(at: float, *, user_id: int | None = 7, scope: str | None = "scoring", throttle=RoleRateThrottle):
    """(passed, the refusal's wait) for one request at time `at`."""
    check = throttle()
    check.timer = lambda: at
    passed = check.allow_request(request_of(user_id), view_of(scope))
    return passed, check.wait()


def passed_count(at: float, n: int, **kwargs) -> int:
    return sum(allowed(at, **kwargs)[0] for _ in range(n))


@pytest.fixture(autouse=True)
def cache_answers(monkeypatch):
    """No test inherits another's memory of a failed cache."""
    monkeypatch.setattr(throttling, "_cache_retry_at", 0.0)


# --- the counter and the window ---------------------------------------------------------------


def test_a_client_passes_its_limit_then_is_refused_until_the_window_ends(settings):
    rates(settings, scoring="3/minute")

    passes = [allowed(MINUTE_START + 10 + i)[0] for i in range(3)]
    refused, wait = allowed(MINUTE_START + 45.5)

    assert passes == [True, True, True]
    assert refused is False
    assert wait == pytest.approx(14.5)


def test_the_next_window_starts_again_from_zero_whatever_was_refused(settings):
    rates(settings, scoring="3/minute")
    assert passed_count(MINUTE_START + 30, 10) == 3

    assert passed_count(MINUTE_START + 60, 10) == 3


def test_at_a_window_edge_twice_the_limit_may_pass_within_a_second(settings):
    # The fixed window's known burst (README, THROTTLE_*): the limit holds per window, not per sliding minute.
    rates(settings, scoring="3/minute")

    late = passed_count(MINUTE_START + 59.5, 3)
    early = passed_count(MINUTE_START + 60.2, 3)

    assert (late, early) == (3, 3)
    assert allowed(MINUTE_START + 60.4)[0] is False


def test_an_hourly_rate_counts_over_the_whole_hour(settings):
    rates(settings, analyst="2/hour")

    assert passed_count(MINUTE_START + 5, 1, scope="analyst") == 1
    assert passed_count(MINUTE_START + 3000, 5, scope="analyst") == 1
    assert allowed(MINUTE_START + 3599, scope="analyst")[1] == pytest.approx(1)


def test_each_client_and_each_scope_has_its_own_counter(settings):
    rates(settings, scoring="2/minute", analyst="2/minute")
    at = MINUTE_START + 1

    counts = [
        passed_count(at, 5, user_id=1, scope="scoring"),
        passed_count(at, 5, user_id=2, scope="scoring"),
        passed_count(at, 5, user_id=1, scope="analyst"),
    ]

    assert counts == [2, 2, 2]


def test_an_anonymous_client_is_counted_by_address_and_a_known_one_not_at_all(settings):
    rates(settings, anon="1/minute")
    at = MINUTE_START + 1

    assert passed_count(at, 3, user_id=None, scope=None, throttle=AnonymousRateThrottle) == 1
    assert passed_count(at, 3, user_id=5, scope=None, throttle=AnonymousRateThrottle) == 3


def test_a_rate_of_none_is_no_limit_and_a_scope_with_no_rate_is_an_error(settings):
    rates(settings, scoring=None)
    assert passed_count(MINUTE_START, 5) == 5

    with pytest.raises(ImproperlyConfigured, match="no rate for 'reporting'"):
        allowed(MINUTE_START, scope="reporting")


def test_a_window_holds_one_integer_however_many_requests_it_counted(settings):
    # DRF's throttles kept a list of one timestamp per request, pickled on each: at 100000/minute, 100,000 floats.
    rates(settings, scoring="100000/minute")

    passed_count(MINUTE_START + 1, 500)

    assert cache.get(f"throttle:scoring:user-7:60:{MINUTE_START}") == 500


# --- across processes: one cache for every gunicorn worker (and, with Redis, every host) ---------------


@pytest.fixture(params=["host files", "redis"])
def shared_cache(request, settings):
    """The two caches settings.CACHES chooses from; Redis under a key prefix of this test's own, removed after."""
    if request.param == "host files":
        yield settings.CACHES["default"]["BACKEND"]
        return
    prefix = f"fraudsite-test-{secrets.token_hex(4)}"
    client = request.getfixturevalue("redis_server")  # only for the Redis case: it skips without Redis
    settings.CACHES = {
        "default": {
            "BACKEND": "fraudsite.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield settings.CACHES["default"]["BACKEND"]
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def test_requests_from_many_processes_at_once_pass_exactly_the_limit(settings, shared_cache, in_processes):
    # DRF's read-append-write let lost updates through: 6 processes passed well over the limit.
    rates(settings, scoring="100/minute")
    at = MINUTE_START + 30

    passed = in_processes(lambda _: passed_count(at, 40), 6)

    assert sum(passed) == 100


# --- a cache that fails ------------------------------------------------------------------------


@pytest.fixture
def unreachable_redis(settings):
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "fraudsite.cache.SharedRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


@pytest.mark.django_db
def test_scoring_goes_on_when_the_cache_is_down_and_a_warning_says_so(
    scoring_client, active_model_version, transaction_payload, settings, unreachable_redis, caplog
):
    rates(settings, scoring="1/minute")

    with caplog.at_level(logging.WARNING, logger="predictions.api.throttling"):
        statuses = [
            scoring_client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code
            for _ in range(3)
        ]

    assert statuses == [201, 201, 201]
    assert ScoringRequest.objects.filter(status_code=201).count() == 3
    # Once, not per request: the process does not ask the failed cache again for a few seconds.
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("rate limits are off in this process for 5 s: the cache failed (ConnectionError")


class FailingCache:
    def __init__(self) -> None:
        self.calls = 0

    def count(self, key: str, timeout: int) -> int:
        self.calls += 1
        raise RedisConnectionError("Timeout connecting to server")


def test_after_a_failure_the_cache_is_asked_again_only_after_a_few_seconds(settings, monkeypatch):
    rates(settings, scoring="1/minute")
    failing = FailingCache()
    monkeypatch.setattr(throttling, "cache", failing)

    passes = [allowed(MINUTE_START)[0] for _ in range(3)]
    asked_meanwhile = failing.calls
    monkeypatch.setattr(throttling, "_cache_retry_at", 0.0)  # the few seconds are over
    allowed(MINUTE_START)

    assert passes == [True, True, True]
    assert (asked_meanwhile, failing.calls) == (1, 2)


def test_an_error_that_is_not_the_caches_is_not_swallowed(settings, monkeypatch):
    rates(settings, scoring="1/minute")
    monkeypatch.setattr(throttling, "cache", SimpleNamespace(count=lambda key, timeout: 1 / 0))

    with pytest.raises(ZeroDivisionError):
        allowed(MINUTE_START)
