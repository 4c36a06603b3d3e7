"""POST /api/v1/transactions/{transaction_id}/label/: analysts record a transaction's ground truth."""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions.api.serializers import StrictSerializer
from predictions.models import LabelSource
from predictions.rules import TRANSACTION_ID_CHARACTERS, TRANSACTION_ID_MAX_LENGTH
from predictions.services.labels import GROUND_TRUTH_LABELS, LABEL_SOURCES, label_submit
from predictions.services.reviews import NOTES_MAX_LENGTH


class CanLabelTransactions(permissions.BasePermission):
    """Analysts: POST transactions/{transaction_id}/label/ (predictions.label_transaction)."""

    message = "This client may not label transactions (it needs the analyst role)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("predictions.label_transaction"))


class LabelInputSerializer(StrictSerializer):
    label = serializers.ChoiceField(choices=GROUND_TRUTH_LABELS)
    source = serializers.ChoiceField(choices=LABEL_SOURCES)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=NOTES_MAX_LENGTH, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("notes") and attrs["source"] != LabelSource.REVIEW:
            raise serializers.ValidationError({"notes": ["Notes are kept with reviews only (source: review)."]})
        return attrs


class LabelOutputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField()
    label = serializers.CharField()
    label_source = serializers.CharField()
    labelled_at = serializers.DateTimeField()


class TransactionLabelView(APIView):
    """Record ground truth: label fraud or legitimate, source review (also adds a Review row) or chargeback."""

    permission_classes = [CanLabelTransactions]
    throttle_scope = "analyst"

    @extend_schema(
        request=LabelInputSerializer, responses={200: LabelOutputSerializer}, operation_id="label_transaction"
    )
    def post(self, request: Request, transaction_id: str) -> Response:
        payload = LabelInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        transaction = label_submit(transaction_id=transaction_id, analyst=request.user, **payload.validated_data)
        return Response(LabelOutputSerializer(transaction).data)


# Included by predictions/api/urls.py; the same transaction_id rule as the rest of the API.
LABEL_PATH = rf"^transactions/(?P<transaction_id>{TRANSACTION_ID_CHARACTERS}{{1,{TRANSACTION_ID_MAX_LENGTH}}})/label/$"

urlpatterns = [re_path(LABEL_PATH, TransactionLabelView.as_view(), name="transaction-label")]
