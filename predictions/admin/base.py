"""What the fraudsite ModelAdmins share."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

REVIEW_PERMISSIONS = ("predictions.add_review", "predictions.label_transaction")


def can_review(request: HttpRequest) -> bool:
    """An analyst (or superuser) may record reviews and set labels."""
    return request.user.has_perms(REVIEW_PERMISSIONS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, for anyone, superusers included: rows change through services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
