"""The API's views: parse, call one service, render. Errors are mapped in predictions.api.errors."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions import rules
from predictions.api.filters import StrictOrderingFilter, TransactionFilter
from predictions.api.permissions import CanReadModels, CanReadTransactions, CanScore
from predictions.api.schema import (
    ANY_REQUEST,
    INVALID_PAGE,
    INVALID_PAGE_QUERY,
    INVALID_QUERY,
    MODEL_UNAVAILABLE,
    NO_ACTIVE_MODEL,
    WITH_CREDENTIALS,
    error_responses,
)
from predictions.api.serializers import (
    BatchInSerializer,
    BatchResultSerializer,
    HealthSerializer,
    ModelVersionSerializer,
    ScoringResultSerializer,
    TransactionDetailSerializer,
    TransactionInSerializer,
    TransactionListSerializer,
)
from predictions.models import ModelVersion, Transaction
from predictions.selectors import transactions_with_latest_score, transactions_with_predictions_and_reviews
from predictions.services.audit import RequestAudit, request_audit_begin
from predictions.services.model_loader import active_model
from predictions.services.records import TransactionInput, refused_request_record
from predictions.services.scoring import transaction_score, transactions_score_batch

REPLAYED_HEADER = "Idempotent-Replayed"
REQUEST_ID_HEADER = "X-Request-ID"

# Router url names of the scoring routes -> the ScoringRequest.endpoint they are audited as.
_SCORING_ROUTES = {"transaction-list": "transactions", "transaction-batch": "batch"}


def scoring_endpoint(url_name: str | None, method: str) -> str | None:
    """The audit endpoint of a request to this route, or None when it is not a scoring request.

    Every request to transactions/batch/ is one; on transactions/ only POST is (GET lists, for analysts).
    """
    endpoint = _SCORING_ROUTES.get(url_name or "")
    if endpoint == "transactions" and method.upper() != "POST":
        return None
    return endpoint


_REPLAY_HEADER_DOC = OpenApiParameter(
    REPLAYED_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description='"true" when the answer is the stored result of an earlier identical request.',
)
_REQUEST_ID_DOC = OpenApiParameter(
    REQUEST_ID_HEADER,
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    response=True,
    description="The audit id (ScoringRequest) of this request, on every answer of the scoring endpoints.",
)
_EXAMPLE_TRANSACTION = {
    "transaction_id": "tx-2026-000123",
    "timestamp": "2026-11-24T14:03:12Z",
    "customer_id": "C00042",
    "terminal_id": "T00042",
    "amount": "57.30",
    "currency": "EUR",
    "metadata": {"channel": "pos"},
}
_SCORING_ERRORS = error_responses(*WITH_CREDENTIALS, 400, 409, 415, scoring=True, variants={503: MODEL_UNAVAILABLE})
# A list: 400 for a filter, the ordering, page or page_size; 404 for a page past the last one.
_LIST_ERRORS = error_responses(*WITH_CREDENTIALS, 400, 404, variants={400: INVALID_QUERY, 404: INVALID_PAGE})


@extend_schema_view(
    list=extend_schema(
        summary="List stored transactions (analysts)",
        description="Newest first, with the latest prediction of each; filters combine with AND.",
        responses={200: TransactionListSerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One transaction with its predictions and reviews (analysts)",
        responses={200: TransactionDetailSerializer, **error_responses(*WITH_CREDENTIALS, 404)},
    ),
)
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scoring (scoring clients) and reading (analysts) transactions."""

    lookup_field = "transaction_id"
    lookup_value_regex = rules.TRANSACTION_ID_BODY
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = TransactionFilter
    ordering_fields = ["timestamp", "score", "amount"]
    audit: RequestAudit | None = None

    @property
    def throttle_scope(self) -> str:
        return "scoring" if self.audit is not None else "analyst"

    def get_permissions(self) -> list[Any]:
        # By route, not action: a wrong method on the batch route is still a scoring client's 405.
        # The action counts too where there is no audit: the browsable API asks, as a "create", whether to
        # offer the scoring form on the list page, which an analyst may read but not post to.
        if self.audit is not None or self.action in {"create", "batch"}:
            return [CanScore()]
        return [CanReadTransactions()]

    def get_queryset(self) -> QuerySet[Transaction]:
        if self.action == "retrieve":
            return transactions_with_predictions_and_reviews()
        return transactions_with_latest_score()

    def get_serializer_class(self) -> type:
        return {
            "create": TransactionInSerializer,
            "batch": BatchInSerializer,
            "retrieve": TransactionDetailSerializer,
        }.get(self.action or "", TransactionListSerializer)

    # --- the audit of scoring requests ---------------------------------------------------

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        endpoint = scoring_endpoint(request.resolver_match.url_name if request.resolver_match else None, request.method)
        if endpoint is None:
            return super().dispatch(request, *args, **kwargs)
        # request.body is read here, before DRF parses it; the 413 middleware has capped its size.
        self.audit = request_audit_begin(
            endpoint=endpoint, body=request.body, remote_addr=request.META.get("REMOTE_ADDR")
        )
        response = super().dispatch(request, *args, **kwargs)
        if not self.audit.recorded:
            # Refused or failed: nothing was stored, so record the answer on its own.
            data = response.data if isinstance(response.data, dict) else None
            error = str(data.get("code", "")) if data else ""
            refused_request_record(audit=self.audit, status_code=response.status_code, response=data, error=error)
        response[REQUEST_ID_HEADER] = str(self.audit.request_id)
        return response

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if self.audit is not None and request.user.is_authenticated:
            self.audit.client = request.user.get_username()

    # --- scoring ----------------------------------------------------------------------------

    @extend_schema(
        summary="Score one transaction (scoring clients)",
        description=(
            "Computes the features from the stored history, scores with the active model, stores the "
            "transaction, the prediction and the audit record together, then answers 201. The same "
            "transaction_id with the same content answers 200 with the stored result and "
            f"`{REPLAYED_HEADER}: true`, scoring nothing again; with other content, 409."
        ),
        request=TransactionInSerializer,
        responses={
            201: OpenApiResponse(ScoringResultSerializer, description="Scored and stored."),
            200: OpenApiResponse(ScoringResultSerializer, description="A replay: the stored result."),
            **_SCORING_ERRORS,
        },
        parameters=[_REPLAY_HEADER_DOC, _REQUEST_ID_DOC],
        examples=[OpenApiExample("a card payment", value=_EXAMPLE_TRANSACTION, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        serializer = TransactionInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = transaction_score(
            transaction_input=TransactionInput(**serializer.validated_data), audit=self._audit()
        )
        if outcome.replayed:
            return Response(outcome.result, status=200, headers={REPLAYED_HEADER: "true"})
        location = reverse("transaction-detail", kwargs={"transaction_id": outcome.result["transaction_id"]})
        return Response(outcome.result, status=201, headers={"Location": location})

    @extend_schema(
        summary="Score up to 1,000 transactions (scoring clients)",
        description=(
            "Every item is validated before any is stored; a 400 names each bad item and field "
            '("items[3].amount"). Items are scored in time order, each seeing the earlier ones as history, '
            "and stored in one atomic write. Items already stored with the same content are replayed "
            "(`replayed: true`); one stored with other content refuses the whole batch with 409. "
            f"All items replayed: 200 and `{REPLAYED_HEADER}: true`; otherwise 201."
        ),
        request=BatchInSerializer,
        responses={
            201: OpenApiResponse(BatchResultSerializer, description="At least one item scored and stored."),
            200: OpenApiResponse(BatchResultSerializer, description="Every item was a replay."),
            **_SCORING_ERRORS,
        },
        parameters=[_REPLAY_HEADER_DOC, _REQUEST_ID_DOC],
        examples=[OpenApiExample("two payments", value={"items": [_EXAMPLE_TRANSACTION]}, request_only=True)],
    )
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        serializer = BatchInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = [TransactionInput(**item) for item in serializer.validated_data["items"]]
        outcome = transactions_score_batch(transactions=items, audit=self._audit())
        if outcome.all_replayed:
            return Response(outcome.result, status=200, headers={REPLAYED_HEADER: "true"})
        return Response(outcome.result, status=201)

    def _audit(self) -> RequestAudit:
        if self.audit is None:
            raise APIException("scoring request without an audit record")
        return self.audit


@extend_schema_view(
    list=extend_schema(
        summary="Model versions, newest first (analysts)",
        responses={
            200: ModelVersionSerializer(many=True),
            **error_responses(*WITH_CREDENTIALS, 400, 404, variants={400: INVALID_PAGE_QUERY, 404: INVALID_PAGE}),
        },
    ),
    retrieve=extend_schema(
        summary="One model version (analysts)",
        responses={200: ModelVersionSerializer, **error_responses(*WITH_CREDENTIALS, 404)},
    ),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions with their metrics and decision thresholds."""

    queryset = ModelVersion.objects.order_by("-registered_at", "-pk")
    serializer_class = ModelVersionSerializer
    permission_classes = [CanReadModels]
    throttle_scope = "analyst"
    lookup_field = "version"
    # Any text but a slash, and never NUL: PostgreSQL cannot compare a string holding it (a 500, once).
    lookup_value_regex = r"[^/\x00]+"
    filter_backends: list[type] = []

    @extend_schema(
        summary="The active model version (analysts)",
        responses={
            200: ModelVersionSerializer,
            **error_responses(*WITH_CREDENTIALS, 404, variants={404: NO_ACTIVE_MODEL}),
        },
    )
    @action(detail=False, methods=["get"])
    def active(self, request: Request) -> Response:
        model_version = self.get_queryset().filter(is_active=True).first()
        if model_version is None:
            raise NotFound("No model version is active.")
        return Response(self.get_serializer(model_version).data)


class _OpenView(APIView):
    # Health checks are for load balancers and monitors: no credentials, no throttling.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []


class HealthLiveView(_OpenView):
    @extend_schema(
        summary="Liveness: the process answers",
        responses={200: HealthSerializer, **error_responses(*ANY_REQUEST)},
        examples=[OpenApiExample("alive", value={"status": "ok"}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class HealthReadyView(_OpenView):
    @extend_schema(
        summary="Readiness: the database answers and the active model is loaded and verified",
        responses={200: HealthSerializer, **error_responses(*ANY_REQUEST, 503, variants={503: MODEL_UNAVAILABLE})},
        examples=[OpenApiExample("ready", value={"status": "ok", "model_version": "rf-20261124"}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        model_version, _ = active_model()
        return Response({"status": "ok", "model_version": model_version.version})
