"""OpenAPI: the error answers every endpoint documents, and what drf-spectacular cannot see by itself.

The statuses come from the layers a request passes (README, "Errors"):

- any /api/ request: 411 and 413 from the body-size middleware, 405 and 406 from DRF, 500 for a bug;
- an endpoint with credentials adds 401, 403, 429, and 503 when the database cannot be reached;
- each endpoint adds its own: 400 for input (a body or a query), 404, 409, 415, 503 without a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from predictions import rules
from predictions.api.serializers import ErrorSerializer

_REQUEST_ID = "6f1c2b7e-4a0d-4d8e-9a57-0f3c1e2d4b5a"


@dataclass(frozen=True)
class ErrorDoc:
    """One documented error answer: when it happens, and an example of its body."""

    description: str
    code: str
    detail: str
    fields: dict[str, list[str]] = field(default_factory=dict)


_ERRORS: dict[int, ErrorDoc] = {
    400: ErrorDoc(
        "Invalid input: `fields` names each bad field, with the item index in a batch; unknown fields are "
        "refused. Also `parse_error` when the body is not UTF-8 JSON the service would store as sent "
        "(a key twice, a number that is not finite, NUL or a lone surrogate, nesting deeper than 32).",
        "invalid",
        "2 fields are not valid.",
        {
            "items[3].amount": [rules.AMOUNT_PLACES_MESSAGE],
            "items[3].colour": ["Unknown field."],
        },
    ),
    401: ErrorDoc(
        "No valid token (or session) was given.",
        "not_authenticated",
        "Authentication credentials were not provided.",
    ),
    403: ErrorDoc(
        "The client's role does not allow this endpoint.",
        "permission_denied",
        "This client may not score transactions (it needs the scoring role).",
    ),
    404: ErrorDoc("Nothing is stored under this id.", "not_found", "No Transaction matches the given query."),
    405: ErrorDoc("This method is not allowed here.", "method_not_allowed", 'Method "PUT" not allowed.'),
    406: ErrorDoc(
        "The Accept header asks for something other than JSON.",
        "not_acceptable",
        "Could not satisfy the request Accept header.",
    ),
    409: ErrorDoc(
        "The transaction_id is already stored with different content (or was loaded as history and never scored).",
        "duplicate_transaction",
        "A transaction_id is already used for other content.",
        {"transaction_id": ["transaction tx-1 is already stored with different content"]},
    ),
    411: ErrorDoc(
        "The body was sent chunked (Transfer-Encoding), without a Content-Length.",
        "length_required",
        "Send the body with a Content-Length header; chunked transfer encoding is not accepted.",
    ),
    413: ErrorDoc(
        "The body is larger than FRAUDSITE_MAX_BODY_BYTES (default 2 MiB); it is not parsed.",
        "payload_too_large",
        "The request body is 3145728 bytes; the limit is 2097152 bytes.",
    ),
    415: ErrorDoc(
        "The body is not JSON (send Content-Type: application/json).",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
    ),
    429: ErrorDoc(
        "Too many requests for this client's role; see the Retry-After header.",
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
    ),
    500: ErrorDoc(
        "An unexpected error; it is logged, nothing about it is revealed.",
        "server_error",
        "Internal server error. The error has been logged.",
    ),
    503: ErrorDoc(
        "The database cannot be reached; see the Retry-After header.",
        "database_unavailable",
        "The database cannot be reached.",
    ),
}

# Variants for the endpoints where the general description would mislead.
MODEL_UNAVAILABLE = ErrorDoc(
    "No model version is active, its artifact cannot be verified, or the database cannot be reached "
    "(`database_unavailable`, with Retry-After).",
    "model_unavailable",
    "no model version is active",
)
INVALID_PAGE = ErrorDoc(
    "The page is past the last one. (A page or page_size that is not a whole number in range is a 400.)",
    "not_found",
    "Invalid page.",
)
INVALID_QUERY = ErrorDoc(
    "A filter, the ordering, page or page_size is not valid: `fields` names it. An empty value leaves a filter out.",
    "invalid",
    "1 field is not valid.",
    {"page_size": [rules.PAGE_SIZE_MESSAGE]},
)
INVALID_PAGE_QUERY = ErrorDoc(
    "page or page_size is not a whole number in range: `fields` names it.",
    "invalid",
    "1 field is not valid.",
    {"page": [rules.PAGE_MESSAGE]},
)
NO_ACTIVE_MODEL = ErrorDoc("No model version is active.", "not_found", "No model version is active.")

# Every operation under /api/ can answer these ...
ANY_REQUEST = (405, 406, 411, 413, 500)
# ... and every one that needs credentials, these too.
WITH_CREDENTIALS = (*ANY_REQUEST, 401, 403, 429, 503)


def error_responses(
    *statuses: int, scoring: bool = False, variants: Mapping[int, ErrorDoc] | None = None
) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for these error statuses, each with an example of the one error body."""
    docs = {**_ERRORS, **(variants or {})}
    return {status: _response(status, docs[status], scoring=scoring) for status in sorted(set(statuses))}


def _response(status: int, doc: ErrorDoc, *, scoring: bool) -> OpenApiResponse:
    example: dict[str, Any] = {
        "status": status,
        "code": doc.code,
        "detail": doc.detail,
        "fields": doc.fields,
        "request_id": _REQUEST_ID if scoring else None,
    }
    return OpenApiResponse(
        response=ErrorSerializer,
        description=doc.description,
        examples=[OpenApiExample(doc.code, value=example, response_only=True, status_codes=[str(status)])],
    )


class StrictSerializerExtension(OpenApiSerializerExtension):
    """A StrictSerializer refuses unknown fields (additionalProperties: false), its lists say their sizes, and
    its openapi_rules (JSON Schema keywords for what no single field can state) are added."""

    target_class = "predictions.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        for name, serializer_field in force_instance(self.target).fields.items():
            if isinstance(serializer_field, serializers.ListSerializer):
                prop = schema["properties"][name]
                if not serializer_field.allow_empty:
                    prop["minItems"] = max(prop.get("minItems", 0), 1)
                if serializer_field.max_length is not None:
                    prop["maxItems"] = serializer_field.max_length
        _merge(schema, getattr(self.target, "openapi_rules", {}))
        return schema


def _merge(schema: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Add extra's keywords to schema, into its nested objects where both have one."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(schema.get(key), dict):
            _merge(schema[key], value)
        else:
            schema[key] = value


class FilterParametersExtension(DjangoFilterExtension):
    """django-filter's parameters, each marked allowEmptyValue: an empty value leaves that filter out."""

    priority = 1

    def get_schema_operation_parameters(self, auto_schema: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters
