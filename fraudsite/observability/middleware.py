"""One observation per request: its metrics (predictions.metrics) and, with LOG_FORMAT=json, its log line.

First in MIDDLEWARE, so its time covers every other middleware and every answer, the 413s included.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from predictions import metrics

access_logger = logging.getLogger("fraudsite.requests")

# The header of the scoring endpoints' audit id (predictions.api.views.REQUEST_ID_HEADER).
REQUEST_ID_HEADER = "X-Request-ID"
# Route names whose successful answers carry new scores: one result (201; a replay is a 200), or a batch's results.
_SCORE_ROUTE = "transaction-list"
_BATCH_ROUTE = "transaction-batch"


class RequestObservationMiddleware:
    """Counts and times each request by its route name; logs it as one JSON line when LOG_FORMAT=json."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.log_requests = settings.LOG_FORMAT == "json"
        # Database errors outside the API (the admin's, whose 500 is Django's): the API's error handler
        # counts its own, and never lets one reach this signal.
        got_request_exception.connect(_count_database_error, dispatch_uid="fraudsite.observability")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        endpoint = endpoint_name(request)
        metrics.request_observe(
            endpoint=endpoint, method=request.method or "", status=response.status_code, seconds=seconds
        )
        new_scores = _new_scores(endpoint, request.method, response)
        if new_scores:
            metrics.scores_observe(new_scores)
        if self.log_requests:
            _log_request(request, response, endpoint=endpoint, seconds=seconds)
        return response


def endpoint_name(request: HttpRequest) -> str:
    """The route's name ("transaction-list", "admin:index"); "static" or "unmatched" when no route answered.

    A request answered before URL resolution (a 413, a static file) is resolved here, which only they pay for.
    """
    match = request.resolver_match
    if match is None:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return "static"
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.view_name


def _new_scores(endpoint: str, method: str | None, response: HttpResponse) -> list[dict[str, Any]]:
    """The results of transactions this answer scored; replays scored nothing and are left out."""
    data = getattr(response, "data", None)
    if method != "POST" or not isinstance(data, dict):
        return []
    if endpoint == _SCORE_ROUTE and response.status_code == 201:
        return [data]
    if endpoint == _BATCH_ROUTE and response.status_code in (200, 201):
        return [item for item in data["results"] if not item["replayed"]]
    return []


def _log_request(request: HttpRequest, response: HttpResponse, *, endpoint: str, seconds: float) -> None:
    # The path without its query: filters name customers, and the audit, not the log, keeps such things.
    fields = {
        "request_id": response.get(REQUEST_ID_HEADER),
        "method": request.method,
        "path": request.path,
        "endpoint": endpoint,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000.0, 3),
        "remote_addr": request.META.get("REMOTE_ADDR"),
    }
    access_logger.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})


def _count_database_error(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    exc = sys.exception()
    if isinstance(exc, DatabaseError):
        metrics.database_error(exc)
