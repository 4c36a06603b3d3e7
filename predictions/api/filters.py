"""The analysts' transaction list: its filters and its ordering (the annotated queryset is predictions.selectors').

Every filter says no to a value it cannot use (400, naming the parameter) rather than ignoring it, so that
the OpenAPI schema, which shows each one's type and range, is the whole truth. An empty value (`?decision=`,
as an HTML filter form sends) leaves that filter out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

from predictions import rules
from predictions.models import Decision, Label, Transaction


class _AwareDateTimeField(forms.Field):
    """An ISO 8601 time with a time zone, as UTC; a time that does not exist in UTC is refused, not a 500."""

    default_error_messages = {"invalid": rules.FILTER_TIME_MESSAGE}

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(str(value).strip())
            if parsed is None or parsed.tzinfo is None:
                raise ValueError
            # In UTC, 0001-01-01T00:00:00+14:00 is in year 0: the database adapters would overflow.
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class _BooleanField(forms.Field):
    """true or false, exactly as the schema's boolean is written in a query."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        if value not in ("true", "false"):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value == "true"


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _AwareDateTimeField


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = _BooleanField


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 1})
class ScoreFilter(django_filters.NumberFilter):
    """A score bound: scores are probabilities, so a bound outside 0-1 is a mistake, not an empty list."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=1, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^[^\x00]*$"})
class TextFilter(django_filters.CharFilter):
    """Exact text; Django's form field refuses NUL, which PostgreSQL cannot compare."""


class TransactionFilter(django_filters.FilterSet):
    decision = django_filters.ChoiceFilter(
        field_name="decision", choices=Decision.choices, label="The latest prediction's decision."
    )
    flagged = StrictBooleanFilter(
        method="filter_flagged", label="true: decision review or decline; false: approve. Unscored rows match neither."
    )
    reviewed = StrictBooleanFilter(field_name="reviewed", label="Has at least one analyst review.")
    label = django_filters.ChoiceFilter(field_name="label", choices=Label.choices, label="The ground-truth label.")
    customer_id = TextFilter(field_name="customer_id", label="Exact customer id.")
    terminal_id = TextFilter(field_name="terminal_id", label="Exact terminal id.")
    timestamp_after = AwareDateTimeFilter(
        field_name="timestamp",
        lookup_expr="gte",
        label="Transactions at or after this ISO 8601 time, with its time zone (a time in years 1-9999 in UTC).",
    )
    timestamp_before = AwareDateTimeFilter(
        field_name="timestamp",
        lookup_expr="lt",
        label="Transactions before this ISO 8601 time, with its time zone (a time in years 1-9999 in UTC).",
    )
    score_min = ScoreFilter(field_name="score", lookup_expr="gte", label="Latest score >= this (0 to 1).")
    score_max = ScoreFilter(field_name="score", lookup_expr="lte", label="Latest score <= this (0 to 1).")

    class Meta:
        model = Transaction
        fields: list[str] = []

    def filter_flagged(self, queryset: QuerySet[Transaction], name: str, value: bool | None) -> QuerySet[Transaction]:
        if value is None:
            return queryset
        if value:
            return queryset.filter(decision__in=[Decision.REVIEW, Decision.DECLINE])
        return queryset.filter(decision=Decision.APPROVE)


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, with an unknown term refused (400) instead of silently ignored."""

    def get_ordering(self, request: Request, queryset: QuerySet, view: Any) -> list[str] | None:
        text = request.query_params.get(self.ordering_param)
        if not text:
            return self.get_default_ordering(view)
        terms = text.split(",")
        allowed = _ordering_terms(view)
        if any(term not in allowed for term in terms):
            message = f"must be one or more of {', '.join(allowed)}, separated by commas"
            raise exceptions.ValidationError({self.ordering_param: [message]})
        return terms

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by these, in order; a leading - sorts descending.",
                "schema": {"type": "array", "items": {"type": "string", "enum": _ordering_terms(view)}},
                "style": "form",
                "explode": False,
                "allowEmptyValue": True,
            }
        ]


def _ordering_terms(view: Any) -> list[str]:
    return [term for name in view.ordering_fields for term in (name, f"-{name}")]
