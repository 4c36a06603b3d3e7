"""One JSON error shape for everything under /api/, and the one place that maps errors to statuses.

Every 4xx and 5xx answer under /api/ has this body (see "Errors" in README.md):

    {"status": 400, "code": "invalid", "detail": "1 field is not valid.",
     "fields": {"items[3].amount": ["must have at most 2 decimal places"]},
     "request_id": "6f1c..."}

`fields` names each bad field (with the item index in a batch) and is empty for other errors;
`request_id` is the audit row's id on the scoring endpoints, null elsewhere. Domain errors
(predictions.errors.DomainError, each with its status and code) are raised by the services and
mapped here; anything unexpected is logged and answered with a bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from predictions.errors import DomainError
from predictions.metrics import database_error

logger = logging.getLogger(__name__)

_DEFAULT_DETAILS = {
    400: "The request is not valid.",
    404: "Not found.",
    413: "The request body is too large.",
    500: "Internal server error. The error has been logged.",
    503: "The service is unavailable.",
}


# As DRF renders: the same bytes whichever layer answers.
COMPACT_JSON = {"separators": (",", ":"), "ensure_ascii": False}


def error_body(
    *, status_code: int, code: str, detail: str | None = None, fields: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """The error body of every 4xx/5xx answer under /api/."""
    return {
        "status": status_code,
        "code": code,
        "detail": detail or _DEFAULT_DETAILS.get(status_code, "Error."),
        "fields": dict(fields or {}),
        "request_id": None,
    }


def error_response(
    *, status_code: int, code: str, detail: str | None = None, fields: Mapping[str, list[str]] | None = None
) -> JsonResponse:
    """The error as a plain Django response, for answers given outside DRF views (middleware, 404, 500)."""
    return JsonResponse(
        error_body(status_code=status_code, code=code, detail=detail, fields=fields),
        status=status_code,
        json_dumps_params=COMPACT_JSON,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error raised in an API view becomes the one error shape."""
    status_code, code, detail, fields, headers = _describe(exc)
    body = error_body(status_code=status_code, code=code, detail=detail, fields=fields)
    audit = getattr(context.get("view"), "audit", None)
    if audit is not None:
        body["request_id"] = str(audit.request_id)
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"items[3].amount": [messages]}; non-field errors go to their parent."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                path = prefix or "body"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for name, messages in flatten_errors(value, path).items():
                flat.setdefault(name, []).extend(messages)
        return flat
    if isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            for name, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                flat.setdefault(name, []).extend(messages)
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    # Two validators of one field can break one rule (a 65-character id is too long and off its pattern):
    # predictions.rules gives both the same message, said once.
    return {prefix or "body": list(dict.fromkeys(str(message) for message in messages))}


def _describe(exc: Exception) -> tuple[int, str, str | None, dict[str, list[str]], dict[str, str]]:
    """(status, code, detail, fields, headers) for any exception."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        return 400, "invalid", _count_fields(fields), fields, {}
    if isinstance(exc, exceptions.APIException):
        return exc.status_code, _code_of(exc), str(exc.detail), {}, _headers_of(exc)
    if isinstance(exc, DomainError):
        return exc.status_code, exc.code, str(exc) or None, exc.fields(), {}
    if isinstance(exc, ObjectDoesNotExist):
        return 404, "not_found", str(exc) or None, {}, {}
    if isinstance(exc, OperationalError | InterfaceError):
        database_error(exc)
        logger.error("database unavailable: %s", exc)
        return 503, "database_unavailable", "The database cannot be reached.", {}, {"Retry-After": "5"}
    if isinstance(exc, DatabaseError):
        database_error(exc)
        logger.exception("database error")
        return 500, "server_error", None, {}, {}
    logger.exception("unhandled error in an API view")
    return 500, "server_error", None, {}, {}


def _count_fields(fields: dict[str, list[str]]) -> str:
    count = len(fields)
    return f"{count} field is not valid." if count == 1 else f"{count} fields are not valid."


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _headers_of(exc: exceptions.APIException) -> dict[str, str]:
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return headers


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 404 view: the JSON error shape for /api/ paths, Django's page elsewhere."""
    if _is_api(request):
        return error_response(status_code=404, code="not_found", detail=f"No endpoint at {request.path}.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> JsonResponse:
    """Django's 500 view: the JSON error shape for /api/ paths, Django's page elsewhere."""
    if _is_api(request):
        return error_response(status_code=500, code="server_error")
    from django.views.defaults import server_error

    return server_error(request)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown /api/ paths: JSON 404 even with DEBUG on (Django's debug 404 page is HTML)."""
    return error_response(status_code=404, code="not_found", detail=f"No endpoint at {request.path}.")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")
