"""POST /api/v1/transactions/{transaction_id}/label/: analysts record a transaction's ground truth."""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions import rules
from predictions.api.permissions import CanLabelTransactions
from predictions.api.schema import WITH_CREDENTIALS, ErrorDoc, error_responses
from predictions.api.serializers import StrictSerializer, TextField
from predictions.models import LabelSource
from predictions.services.reviews import label_submit


class LabelInputSerializer(StrictSerializer):
    """A transaction's ground truth, from a review (with optional notes) or a chargeback."""

    label = serializers.ChoiceField(
        choices=rules.GROUND_TRUTH_LABELS, error_messages={"invalid_choice": rules.LABEL_MESSAGE}
    )
    source = serializers.ChoiceField(
        choices=rules.LABEL_SOURCES, error_messages={"invalid_choice": rules.LABEL_SOURCE_MESSAGE}
    )
    notes = TextField(
        required=False,
        allow_blank=True,
        max_length=rules.NOTES_MAX_LENGTH,
        trim_whitespace=False,  # the limit is on what was sent; validate_notes trims
        default="",
        help_text="Only with source review: kept with the review. At most 2,000 characters.",
        error_messages={"max_length": rules.NOTES_MESSAGE},
    )

    # validate()'s rule for the schema: unless the source is review, notes are absent or only whitespace.
    # (A pattern, not an enum: drf-spectacular would merge an enum here with the source's own.)
    openapi_rules = {
        "anyOf": [
            {"properties": {"source": {"pattern": rf"^{LabelSource.REVIEW.value}{rules.END}"}}},
            {"properties": {"notes": {"pattern": rf"^\s*{rules.END}"}}},
        ]
    }

    def validate_notes(self, value: str) -> str:
        return value.strip()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("notes") and attrs["source"] != LabelSource.REVIEW:
            raise serializers.ValidationError({"notes": ["Notes are kept with reviews only (source: review)."]})
        return attrs


class LabelOutputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField()
    label = serializers.CharField()
    label_source = serializers.CharField()
    labelled_at = serializers.DateTimeField()


_UNKNOWN_TRANSACTION = ErrorDoc(
    "No transaction with this transaction_id is stored.",
    "not_found",
    "No transaction with transaction_id 'tx-1' is stored.",
)


class TransactionLabelView(APIView):
    """Record ground truth: label fraud or legitimate, source review (also adds a Review row) or chargeback."""

    permission_classes = [CanLabelTransactions]
    throttle_scope = "analyst"

    @extend_schema(
        summary="Record a transaction's ground truth (analysts)",
        request=LabelInputSerializer,
        responses={
            200: OpenApiResponse(LabelOutputSerializer, description="The label now stored (a newer one is kept)."),
            **error_responses(*WITH_CREDENTIALS, 400, 404, 415, variants={404: _UNKNOWN_TRANSACTION}),
        },
        operation_id="label_transaction",
    )
    def post(self, request: Request, transaction_id: str) -> Response:
        payload = LabelInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        transaction = label_submit(transaction_id=transaction_id, analyst=request.user, **payload.validated_data)
        return Response(LabelOutputSerializer(transaction).data)


# Included by predictions/api/urls.py; the same transaction_id rule as the rest of the API.
LABEL_PATH = rf"^transactions/(?P<transaction_id>{rules.TRANSACTION_ID_BODY})/label/$"

urlpatterns = [re_path(LABEL_PATH, TransactionLabelView.as_view(), name="transaction-label")]
