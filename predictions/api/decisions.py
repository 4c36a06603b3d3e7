"""The decision layer over the API: block/allow list entries under lists/, rule set versions under rule-sets/.

Analysts read both, add list entries and write rule set versions; removing an entry (DELETE) and
activating a rule set take permissions that staff are given (migration 0011). Each change is a service
of predictions.services.policy, which writes its AuditEvent.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from predictions import rules
from predictions.api.permissions import (
    CanActivateRuleSets,
    CanAddRuleSets,
    CanAddToLists,
    CanReadLists,
    CanReadRuleSets,
    CanRemoveFromLists,
)
from predictions.api.schema import INVALID_PAGE, INVALID_PAGE_QUERY, WITH_CREDENTIALS, error_responses
from predictions.api.serializers import AwareDateTimeField, StrictSerializer, TextField
from predictions.models import ListEntry, ListField, ListName, RuleSetVersion
from predictions.services.decisions import MAX_RULES, RULE_DECISIONS, RULE_NAME
from predictions.services.events import Actor
from predictions.services.policy import (
    list_entry_add,
    list_entry_remove,
    rule_set_activate,
    rule_set_create,
)

_LIST_ERRORS = error_responses(*WITH_CREDENTIALS, 400, 404, variants={400: INVALID_PAGE_QUERY, 404: INVALID_PAGE})


# --- lists --------------------------------------------------------------------------------------


class ListEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ListEntry
        fields = [
            "id",
            "list",
            "field",
            "value",
            "reason",
            "author",
            "created_at",
            "expires_at",
            "removed_at",
            "removed_by",
        ]


class ListEntryInSerializer(StrictSerializer):
    """A customer or terminal to put on the block or the allow list."""

    list = serializers.ChoiceField(choices=ListName.choices, help_text="block: decline; allow: approve.")
    field = serializers.ChoiceField(choices=ListField.choices, help_text="What value names: a customer or terminal.")
    value = TextField(
        pattern=rules.PARTY_ID_PATTERN,
        trim_whitespace=False,
        help_text="The customer_id or terminal_id, as transactions send it.",
        error_messages={"invalid": rules.PARTY_ID_MESSAGE, "blank": rules.PARTY_ID_MESSAGE},
    )
    # Not blank: the schema states it (a pattern with one visible character), so a client can know before sending.
    reason = TextField(
        max_length=500,
        trim_whitespace=False,
        pattern=r"[\s\S]*\S[\s\S]*",
        error_messages={"invalid": "must not be blank", "blank": "must not be blank"},
        help_text="Why: shown with every decision it makes.",
    )
    expires_at = AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="When it stops applying; null or absent: never."
    )

    def validate_value(self, value: str) -> str:
        return value.strip()

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value


_ENTRY_EXAMPLE = {
    "list": "block",
    "field": "terminal_id",
    "value": "T00042",
    "reason": "compromised terminal, case 2026-118",
    "expires_at": "2026-12-31T00:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="Block and allow list entries, newest first, removed ones too (analysts)",
        responses={200: ListEntrySerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One list entry (analysts)",
        responses={200: ListEntrySerializer, **error_responses(*WITH_CREDENTIALS, 404)},
    ),
    create=extend_schema(
        summary="Put a customer or terminal on the block or allow list (analysts)",
        description=(
            "From the next scoring request on, a blocked customer or terminal is declined and an allowed one "
            "approved, whatever the score and the rules; block wins over allow. Written with an audit event."
        ),
        request=ListEntryInSerializer,
        responses={201: ListEntrySerializer, **error_responses(*WITH_CREDENTIALS, 400, 415)},
        examples=[OpenApiExample("block a terminal", value=_ENTRY_EXAMPLE, request_only=True)],
    ),
    destroy=extend_schema(
        summary="Remove a list entry (staff)",
        description="It stops applying from the next request; the entry stays, marked removed, for the audit.",
        responses={
            200: OpenApiResponse(ListEntrySerializer, description="The entry, now removed."),
            **error_responses(*WITH_CREDENTIALS, 400, 404),
        },
    ),
)
class ListEntryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = ListEntry.objects.order_by("-created_at", "-pk")
    serializer_class = ListEntrySerializer
    throttle_scope = "analyst"
    filter_backends: list[type] = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_permissions(self) -> list[Any]:
        permission = {"create": CanAddToLists, "destroy": CanRemoveFromLists}.get(self.action or "", CanReadLists)
        return [permission()]

    def create(self, request: Request) -> Response:
        payload = ListEntryInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = list_entry_add(actor=Actor.user(request.user, via="api"), **payload.validated_data)
        return Response(ListEntrySerializer(entry).data, status=201)

    def destroy(self, request: Request, pk: str) -> Response:
        entry = list_entry_remove(entry_id=int(pk), actor=Actor.user(request.user, via="api"))
        return Response(ListEntrySerializer(entry).data)


# --- rule sets ----------------------------------------------------------------------------------


CONDITION_HELP = (
    "A JSON Logic condition over amount, currency, customer_id, terminal_id, score and the feature names "
    "(models' feature_names). Operators: var, and, or, !, !!, if, ?:, ==, !=, ===, !==, <, <=, >, >=, in, "
    "+, -, *, /, %, min, max."
)


class RuleSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="1-64 letters, digits, '_', '.' or '-'; unique in the set.")
    condition = serializers.JSONField(help_text=CONDITION_HELP)
    decision = serializers.ChoiceField(choices=RULE_DECISIONS, help_text="What the rule gives when it holds.")


class RuleSetSerializer(serializers.ModelSerializer):
    rules = RuleSerializer(many=True)

    class Meta:
        model = RuleSetVersion
        fields = ["version", "description", "rules", "author", "created_at", "is_active", "activated_at"]


class RuleInSerializer(StrictSerializer):
    """One rule; its condition's operators and names are checked by services.decisions.rule_set_compile."""

    name = TextField(
        pattern=RULE_NAME.pattern,
        trim_whitespace=False,
        help_text="1-64 letters, digits, '_', '.' or '-'; unique in the set.",
    )
    condition = serializers.JSONField(help_text=CONDITION_HELP)
    decision = serializers.ChoiceField(choices=RULE_DECISIONS, help_text="What the rule gives when it holds.")


# A field below is named rules, like the module.
_VERSION_PATTERN = rules.TRANSACTION_ID_PATTERN


class RuleSetInSerializer(StrictSerializer):
    """A new rule set version; every rule is checked (structure, operators, names) before it is saved."""

    version = TextField(
        pattern=_VERSION_PATTERN, trim_whitespace=False, help_text="Its name: 1-64 of A-Z a-z 0-9 . _ : -"
    )
    description = TextField(required=False, allow_blank=True, trim_whitespace=False, max_length=2000, default="")
    # Checked whole by services.decisions.rule_set_compile, which names the rule and the problem.
    rules = RuleInSerializer(many=True, max_length=MAX_RULES, help_text="The rules, in order.")

    def validate_rules(self, value: list[Any]) -> list[dict[str, Any]]:
        return [dict(rule) for rule in value]  # stored as plain JSON


_RULE_SET_EXAMPLE = {
    "version": "rules-2026-12-03",
    "description": "large amounts at risky terminals",
    "rules": [
        {
            "name": "big_amount_risky_terminal",
            "condition": {
                "and": [{">": [{"var": "amount"}, 1000]}, {">": [{"var": "TERMINAL_ID_RISK_7DAY_WINDOW"}, 0.2]}]
            },
            "decision": "review",
        }
    ],
}


@extend_schema_view(
    list=extend_schema(
        summary="Rule set versions, newest first (analysts)",
        responses={200: RuleSetSerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One rule set version (analysts)",
        responses={200: RuleSetSerializer, **error_responses(*WITH_CREDENTIALS, 404)},
    ),
    create=extend_schema(
        summary="Save a new rule set version, inactive (analysts)",
        request=RuleSetInSerializer,
        responses={201: RuleSetSerializer, **error_responses(*WITH_CREDENTIALS, 400, 415)},
        examples=[OpenApiExample("one rule", value=_RULE_SET_EXAMPLE, request_only=True)],
    ),
)
class RuleSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = RuleSetVersion.objects.order_by("-created_at", "-pk")
    serializer_class = RuleSetSerializer
    throttle_scope = "analyst"
    filter_backends: list[type] = []
    lookup_field = "version"
    lookup_value_regex = rules.TRANSACTION_ID_BODY

    def get_permissions(self) -> list[Any]:
        permission = {"create": CanAddRuleSets, "activate": CanActivateRuleSets}.get(self.action or "", CanReadRuleSets)
        return [permission()]

    def create(self, request: Request) -> Response:
        payload = RuleSetInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rule_set = rule_set_create(actor=Actor.user(request.user, via="api"), **payload.validated_data)
        return Response(RuleSetSerializer(rule_set).data, status=201)

    @extend_schema(
        summary="Activate a rule set version (staff)",
        description="The next scoring request evaluates it. Written with an audit event.",
        request=None,
        responses={200: RuleSetSerializer, **error_responses(*WITH_CREDENTIALS, 404)},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, version: str) -> Response:
        rule_set = rule_set_activate(version=version, actor=Actor.user(request.user, via="api"))
        return Response(RuleSetSerializer(rule_set).data)


router = SimpleRouter()
router.register("lists", ListEntryViewSet, basename="listentry")
router.register("rule-sets", RuleSetViewSet, basename="ruleset")

urlpatterns = [path("", include(router.urls))]
