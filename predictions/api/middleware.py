"""The first thing an API request meets: bodies that cannot be read whole are refused, too large (413) or
without a length (411), and credentials that cannot be stored are dropped before anything looks them up.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from predictions.api.errors import COMPACT_JSON, error_body
from predictions.services.audit import request_audit_begin
from predictions.services.records import refused_request_record

# A refused body up to this size is read and thrown away before the 413 is sent: a client that sends
# without "Expect: 100-continue" is still sending, and a server that closes on unread data resets the
# connection, so the client would see the reset instead of the answer. Beyond it, the answer is sent anyway.
DRAIN_MAX_BYTES = 16 * 1024 * 1024
_DRAIN_BLOCK = 64 * 1024


class BodySizeLimitMiddleware:
    """413 for an /api/ request whose Content-Length exceeds settings.FRAUDSITE_MAX_BODY_BYTES, 411 for a
    chunked one (Django reads a body by its Content-Length only, so it would see an empty body).

    The check uses the declared length, so the refused body is never parsed. It also drops credentials that
    hold NUL (_drop_credentials_with_nul).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _drop_credentials_with_nul(request)  # every path: the admin's session lookup fails on NUL too
        if request.path.startswith("/api/"):
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                # Read what the client is still sending (gunicorn decodes the chunks), as for a 413. A length
                # beside the chunking comes only from a test client, whose body is exactly that long.
                _drain(request, _content_length(request) or DRAIN_MAX_BYTES)
                return _refuse(
                    request,
                    status_code=411,
                    code="length_required",
                    detail="Send the body with a Content-Length header; chunked transfer encoding is not accepted.",
                )
            length = _content_length(request)
            limit = settings.FRAUDSITE_MAX_BODY_BYTES
            if length > limit:
                _drain(request, length)
                detail = f"The request body is {length} bytes; the limit is {limit} bytes."
                return _refuse(request, status_code=413, code="payload_too_large", detail=detail)
        return self.get_response(request)


def _drop_credentials_with_nul(request: HttpRequest) -> None:
    """Forget a token or a session cookie that holds NUL: no stored one can, and PostgreSQL refuses to look
    one up (a 500). The request goes on as one without them (401 where credentials are needed).

    A cookie gets NUL from an octal escape in a quoted value ("abc\\000"), which passes any HTTP server.
    """
    if "\x00" in request.META.get("HTTP_AUTHORIZATION", ""):
        del request.META["HTTP_AUTHORIZATION"]
    for name, value in list(request.COOKIES.items()):
        if "\x00" in value:
            del request.COOKIES[name]


def _drain(request: HttpRequest, length: int) -> None:
    stream = request.META.get("wsgi.input")
    left = min(length, DRAIN_MAX_BYTES)
    while stream is not None and left > 0:
        block = stream.read(min(left, _DRAIN_BLOCK))
        if not block:
            return
        left -= len(block)


def _refuse(request: HttpRequest, *, status_code: int, code: str, detail: str) -> HttpResponse:
    body = error_body(status_code=status_code, code=code, detail=detail)
    endpoint = _scoring_endpoint(request)
    if endpoint is not None:
        # A refused scoring request is audited too; its body is never read, so none is kept.
        audit = request_audit_begin(endpoint=endpoint, body=b"", remote_addr=request.META.get("REMOTE_ADDR"))
        audit.body_truncated = True
        body["request_id"] = str(audit.request_id)
        refused_request_record(audit=audit, status_code=status_code, response=body, error=code)
    response = JsonResponse(body, status=status_code, json_dumps_params=COMPACT_JSON)
    if body["request_id"] is not None:
        from predictions.api.views import REQUEST_ID_HEADER

        response[REQUEST_ID_HEADER] = body["request_id"]  # as on every answer of a scoring endpoint
    return response


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
