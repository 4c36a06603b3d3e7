"""Refuse oversized API request bodies (413) before anything reads or parses them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from predictions.api.errors import COMPACT_JSON, error_body
from predictions.services.audit import request_audit_begin
from predictions.services.records import refused_request_record


class BodySizeLimitMiddleware:
    """413 for an /api/ request whose Content-Length exceeds settings.FRAUDSITE_MAX_BODY_BYTES.

    The check uses the declared length, so the body is never read. A body sent without a
    Content-Length (chunked) is not read by Django at all (it sees an empty body).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            length = _content_length(request)
            limit = settings.FRAUDSITE_MAX_BODY_BYTES
            if length > limit:
                return _refuse(request, length=length, limit=limit)
        return self.get_response(request)


def _refuse(request: HttpRequest, *, length: int, limit: int) -> HttpResponse:
    body = error_body(
        status_code=413,
        code="payload_too_large",
        detail=f"The request body is {length} bytes; the limit is {limit} bytes.",
    )
    endpoint = _scoring_endpoint(request)
    if endpoint is not None:
        # A refused scoring request is audited too; its body is never read, so none is kept.
        audit = request_audit_begin(endpoint=endpoint, body=b"", remote_addr=request.META.get("REMOTE_ADDR"))
        audit.body_truncated = True
        body["request_id"] = str(audit.request_id)
        refused_request_record(audit=audit, status_code=413, response=body, error="payload_too_large")
    return JsonResponse(body, status=413, json_dumps_params=COMPACT_JSON)


def _scoring_endpoint(request: HttpRequest) -> str | None:
    from predictions.api.views import scoring_endpoint

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return scoring_endpoint(match.url_name, request.method or "")


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
