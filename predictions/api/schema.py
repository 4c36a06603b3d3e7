"""OpenAPI descriptions of the error answers, shared by every endpoint's extend_schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from predictions.api.serializers import ErrorSerializer

_REQUEST_ID = "6f1c2b7e-4a0d-4d8e-9a57-0f3c1e2d4b5a"

_ERRORS: dict[int, tuple[str, str, str, dict[str, list[str]]]] = {
    400: (
        "Invalid input: `fields` names each bad field, with the item index in a batch; unknown fields are refused.",
        "invalid",
        "2 fields are not valid.",
        {
            "items[3].amount": ["Ensure that there are no more than 2 decimal places."],
            "items[3].colour": ["Unknown field."],
        },
    ),
    401: (
        "No valid token (or session) was given.",
        "not_authenticated",
        "Authentication credentials were not provided.",
        {},
    ),
    403: (
        "The client's role does not allow this endpoint.",
        "permission_denied",
        "This client may not score transactions (it needs the scoring role).",
        {},
    ),
    404: (
        "Nothing is stored under this id, or no such endpoint.",
        "not_found",
        "No Transaction matches the given query.",
        {},
    ),
    405: ("This method is not allowed here.", "method_not_allowed", 'Method "PUT" not allowed.', {}),
    409: (
        "The transaction_id is already stored with different content (or was loaded as history and never scored).",
        "duplicate_transaction",
        "A transaction_id is already used for other content.",
        {"transaction_id": ["transaction tx-1 is already stored with different content"]},
    ),
    413: (
        "The body is larger than FRAUDSITE_MAX_BODY_BYTES (default 2 MiB).",
        "payload_too_large",
        "The request body is 3145728 bytes; the limit is 2097152 bytes.",
        {},
    ),
    415: (
        "The body is not JSON (send Content-Type: application/json).",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
        {},
    ),
    429: (
        "Too many requests for this client's role; see the Retry-After header.",
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
        {},
    ),
    500: (
        "An unexpected error; it is logged, nothing about it is revealed.",
        "server_error",
        "Internal server error. The error has been logged.",
        {},
    ),
    503: (
        "No model version is active, its artifact cannot be verified, or the database cannot be reached.",
        "model_unavailable",
        "no model version is active",
        {},
    ),
}

# Every authenticated endpoint can answer these.
COMMON = (401, 403, 405, 429, 500)


def error_responses(*statuses: int, scoring: bool = False) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for these error statuses, each with an example of the one error body."""
    return {status: _response(status, scoring=scoring) for status in sorted(set(statuses))}


def _response(status: int, *, scoring: bool) -> OpenApiResponse:
    description, code, detail, fields = _ERRORS[status]
    example: dict[str, Any] = {
        "status": status,
        "code": code,
        "detail": detail,
        "fields": fields,
        "request_id": _REQUEST_ID if scoring else None,
    }
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value=example, response_only=True, status_codes=[str(status)])],
    )
