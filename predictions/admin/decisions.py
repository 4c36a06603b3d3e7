"""The decision layer in the admin: block and allow lists, rule set versions.

Analysts add list entries and rule set versions; staff given delete_listentry remove entries, and those
given activate_rulesetversion activate a rule set. Nothing is edited in place: an entry is removed and
another added, a rule set is replaced by a new version. Every change goes through services.policy, which
writes its AuditEvent.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from predictions.models import ListEntry, RuleSetVersion
from predictions.services.decisions import RuleSetInvalid, rule_set_compile
from predictions.services.events import Actor
from predictions.services.policy import (
    PolicyError,
    list_entry_add,
    list_entry_remove,
    rule_set_activate,
    rule_set_create,
)

ACTIVATE_RULES_PERMISSION = "predictions.activate_rulesetversion"
REMOVE_ENTRY_PERMISSION = "predictions.delete_listentry"


def _actor(request: HttpRequest) -> Actor:
    return Actor.user(request.user, via="admin")


class ListEntryForm(forms.ModelForm):
    class Meta:
        model = ListEntry
        fields = ["list", "field", "value", "reason", "expires_at"]

    def clean_value(self) -> str:
        return self.cleaned_data["value"].strip()

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


@admin.register(ListEntry)
class ListEntryAdmin(admin.ModelAdmin):
    form = ListEntryForm
    list_display = ("value", "list", "field", "reason", "author", "created_at", "expires_at", "in_force")
    list_filter = ("list", "field", ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("=value", "reason")
    readonly_fields = ("author", "created_at", "removed_at", "removed_by")
    actions = ["remove"]

    @admin.display(boolean=True, description="in force")
    def in_force(self, entry: ListEntry) -> bool:
        return entry.removed_at is None and (entry.expires_at is None or entry.expires_at > timezone.now())

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # entries are removed (the remove action), never deleted

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REMOVE_ENTRY_PERMISSION)

    def save_model(self, request: HttpRequest, obj: ListEntry, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ListEntryForm.Meta.fields}
        created = list_entry_add(actor=_actor(request), **fields)
        obj.pk, obj.author, obj.created_at = created.pk, created.author, created.created_at

    @admin.action(description="Remove the selected entries from their lists", permissions=["remove"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> None:
        removed = 0
        for entry_id in queryset.filter(removed_at__isnull=True).values_list("pk", flat=True):
            list_entry_remove(entry_id=entry_id, actor=_actor(request))
            removed += 1
        self.message_user(request, f"{removed} list entries removed.")


class RuleSetVersionForm(forms.ModelForm):
    class Meta:
        model = RuleSetVersion
        fields = ["version", "description", "rules"]
        help_texts = {
            "rules": (
                'A JSON list of {"name", "condition", "decision"}: condition in JSON Logic over amount, currency, '
                "customer_id, terminal_id, score and the feature names; decision review or decline."
            )
        }

    def clean_rules(self) -> Any:
        rules = self.cleaned_data["rules"]
        try:
            rule_set_compile(rules)
        except RuleSetInvalid as exc:
            raise forms.ValidationError(str(exc)) from None
        return rules


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
    form = RuleSetVersionForm
    list_display = ("version", "is_active", "rule_count", "author", "created_at", "activated_at")
    list_filter = ("is_active",)
    search_fields = ("=version",)
    readonly_fields = ("author", "created_at", "is_active", "activated_at")
    actions = ["activate"]

    @admin.display(description="rules")
    def rule_count(self, rule_set: RuleSetVersion) -> int:
        return len(rule_set.rules)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ACTIVATE_RULES_PERMISSION)

    def save_model(self, request: HttpRequest, obj: RuleSetVersion, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        created = rule_set_create(
            version=data["version"], rules=data["rules"], description=data["description"], actor=_actor(request)
        )
        obj.pk, obj.author, obj.created_at = created.pk, created.author, created.created_at

    @admin.action(description="Activate the selected rule set version", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        versions = list(queryset.values_list("version", flat=True)[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one rule set version to activate.", messages.ERROR)
            return
        try:
            rule_set_activate(version=versions[0], actor=_actor(request))
        except PolicyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rule set {versions[0]} is now active; new requests are decided with it.")
