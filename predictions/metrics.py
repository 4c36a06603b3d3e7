"""The service's Prometheus metrics, and the few calls that record them (served at /metrics, fraudsite/observability).

Under gunicorn each worker writes its values to its own files in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets
it) and /metrics adds up every worker's; without that variable (tests, runserver, management commands) values live
in the process and /metrics shows that process's. A leaf module: prometheus_client and Django's transaction only,
so services, the API and the middleware can all record here.

What an operator reads (README, "Metrics"):

- fraudsite_http_requests_total{endpoint,method,status}, fraudsite_http_request_duration_seconds{endpoint,method}:
  every request, by route name (never the raw path, whose ids would make a series per transaction);
- fraudsite_scores{model_version} (a histogram of the scores) and fraudsite_decisions_total{model_version,decision}:
  new scores only, not replays;
- fraudsite_model_load_seconds{model_version}, fraudsite_model_load_failures_total{model_version}: a worker's load
  and hash check of an artifact; the active version itself is read from the database when /metrics is asked;
- fraudsite_audit_rows_total{table}: audit rows committed (transaction, request, prediction, shadow, review, event);
- fraudsite_database_errors_total{error}: database errors that reached an answer, by exception class;
- fraudsite_challenger_failures_total{model_version,stage}: scoring requests on which the challenger (shadow) model
  was skipped, because its artifact would not load ("load") or it raised while scoring ("score").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from prometheus_client import Counter, Histogram

# Seconds; a scoring request takes a few milliseconds, a batch of 1,000 a second or two.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Finer near both ends, where the approve and decline thresholds sit.
_SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0)
_LOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Any other method (a client may send anything) is counted as "other": one series, not one per spelling.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "fraudsite_http_requests", "Requests answered, by route name, method and status.", ["endpoint", "method", "status"]
)
HTTP_DURATION = Histogram(
    "fraudsite_http_request_duration_seconds",
    "Time from the request reaching Django to its answer, by route name and method.",
    ["endpoint", "method"],
    buckets=_LATENCY_BUCKETS,
)
SCORES = Histogram(
    "fraudsite_scores",
    "Scores of new transactions (not replays), by model version.",
    ["model_version"],
    buckets=_SCORE_BUCKETS,
)
DECISIONS = Counter(
    "fraudsite_decisions",
    "Decisions on new transactions (not replays), by model version.",
    ["model_version", "decision"],
)
MODEL_LOAD = Histogram(
    "fraudsite_model_load_seconds",
    "Time a worker took to load and verify a model artifact, by model version.",
    ["model_version"],
    buckets=_LOAD_BUCKETS,
)
MODEL_LOAD_FAILURES = Counter(
    "fraudsite_model_load_failures", "Artifacts that failed to load or verify, by model version.", ["model_version"]
)
AUDIT_ROWS = Counter("fraudsite_audit_rows", "Audit rows committed, by table.", ["table"])
DATABASE_ERRORS = Counter(
    "fraudsite_database_errors", "Database errors that reached an answer, by exception class.", ["error"]
)
CHALLENGER_FAILURES = Counter(
    "fraudsite_challenger_failures",
    "Scoring requests on which the challenger model was skipped, by its version and the stage that failed.",
    ["model_version", "stage"],
)


# Series at 0 from the start, so that a rate or an alert on them has something to read before the first one.
for _table in ("transaction", "request", "prediction", "shadow", "review", "event"):
    AUDIT_ROWS.labels(_table)
for _error in ("OperationalError", "InterfaceError", "DatabaseError", "IntegrityError", "DataError"):
    DATABASE_ERRORS.labels(_error)


def request_observe(*, endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    count, latency = _request_series(endpoint, method if method in _METHODS else "other", status)
    count.inc()
    latency.observe(seconds)


def scores_observe(results: Iterable[Mapping[str, Any]]) -> None:
    """Count new scoring results (the API's answer items: model_version, score, decision)."""
    for result in results:
        scores, decisions = _score_series(result["model_version"], result["decision"])
        scores.observe(result["score"])
        decisions.inc()


def audit_row_written(table: str) -> None:
    """Count an audit row once the transaction that inserts it commits (at once outside a transaction).

    robust: the row is stored whatever happens to the counter, and the answer must say so.
    """
    transaction.on_commit(_audit_rows_series(table).inc, robust=True)


def challenger_failed(*, version: str, stage: str) -> None:
    """Count a scoring request on which the challenger was skipped (services/shadow.py)."""
    CHALLENGER_FAILURES.labels(version, stage).inc()


def database_error(exc: BaseException) -> None:
    """Count a database error that reached an answer (a 503, a 500) or a /metrics read."""
    DATABASE_ERRORS.labels(type(exc).__name__).inc()


# The series of a label set, looked up once per process: labels() checks and locks on every call, which was a
# third of the cost of these calls on the scoring path (bench/metrics.py). Their number is bounded by the
# routes, methods, statuses, model versions and decisions there are.


@functools.cache
def _request_series(endpoint: str, method: str, status: int) -> tuple[Any, Any]:
    return HTTP_REQUESTS.labels(endpoint, method, str(status)), HTTP_DURATION.labels(endpoint, method)


@functools.cache
def _score_series(model_version: str, decision: str) -> tuple[Any, Any]:
    return SCORES.labels(model_version), DECISIONS.labels(model_version, decision)


@functools.cache
def _audit_rows_series(table: str) -> Any:
    return AUDIT_ROWS.labels(table)
