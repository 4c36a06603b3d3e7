"""Access by model permission: the "scoring" group scores, the "analyst" group reads and labels (migration 0002)."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def user_has_permission(user, permission: str) -> bool:
    """Django's user.has_perm for the model backend, in one small query, memoised on the user object.

    user.has_perm loads every permission of the user and of its groups (two queries with joins) on
    each request; on the scoring path that was a fifth of the time, so ask only for the one needed.
    The answer is kept on the user object, as Django's backend keeps its own: an API client's user
    object lives as long as its key is remembered (api/authentication.py), a session's for one request.
    """
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    known = user.__dict__.setdefault("_fraudsite_permissions", {})
    if permission not in known:
        app_label, codename = permission.split(".", 1)
        known[permission] = Permission.objects.filter(
            Q(group__user=user) | Q(user=user), codename=codename, content_type__app_label=app_label
        ).exists()
    return known[permission]


class _HasPermission(BasePermission):
    permission: str = ""
    message = ""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_has_permission(request.user, self.permission)


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


class CanLabelTransactions(_HasPermission):
    """Analysts: POST transactions/{transaction_id}/label/."""

    permission = "predictions.label_transaction"
    message = "This client may not label transactions (it needs the analyst role)."


class CanReadLists(_HasPermission):
    """Analysts: GET lists/."""

    permission = "predictions.view_listentry"
    message = "This client may not read the block and allow lists (it needs the analyst role)."


class CanAddToLists(_HasPermission):
    """Analysts: POST lists/."""

    permission = "predictions.add_listentry"
    message = "This client may not add list entries (it needs the analyst role)."


class CanRemoveFromLists(_HasPermission):
    """Staff given the permission: DELETE lists/{id}/."""

    permission = "predictions.delete_listentry"
    message = "This client may not remove list entries (it needs the permission to remove them)."


class CanReadRuleSets(_HasPermission):
    """Analysts: GET rule-sets/."""

    permission = "predictions.view_rulesetversion"
    message = "This client may not read rule sets (it needs the analyst role)."


class CanAddRuleSets(_HasPermission):
    """Analysts: POST rule-sets/."""

    permission = "predictions.add_rulesetversion"
    message = "This client may not add rule sets (it needs the analyst role)."


class CanActivateRuleSets(_HasPermission):
    """Staff given the permission: POST rule-sets/{version}/activate/."""

    permission = "predictions.activate_rulesetversion"
    message = "This client may not activate rule sets (it needs the permission to activate them)."
