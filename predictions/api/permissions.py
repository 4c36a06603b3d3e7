"""Access by model permission: the "scoring" group may score, the "analyst" group may read (migration 0002)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class _HasPermission(BasePermission):
    permission: str = ""
    message = ""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(self.permission))


class CanScore(_HasPermission):
    """Scoring clients: POST transactions/ and transactions/batch/."""

    permission = "predictions.score_transaction"
    message = "This client may not score transactions (it needs the scoring role)."


class CanReadTransactions(_HasPermission):
    """Analysts: GET transactions/ and transactions/{transaction_id}/."""

    permission = "predictions.view_transaction"
    message = "This client may not read transactions (it needs the analyst role)."


class CanReadModels(_HasPermission):
    """Analysts: GET models/."""

    permission = "predictions.view_modelversion"
    message = "This client may not read model versions (it needs the analyst role)."
