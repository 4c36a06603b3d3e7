"""The analysts' transaction list: its filters (the annotated queryset is predictions.selectors')."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from predictions.models import Decision, Label, Transaction


class TransactionFilter(django_filters.FilterSet):
    decision = django_filters.ChoiceFilter(
        field_name="decision", choices=Decision.choices, label="The latest prediction's decision."
    )
    flagged = django_filters.BooleanFilter(
        method="filter_flagged", label="true: decision review or decline; false: approve. Unscored rows match neither."
    )
    reviewed = django_filters.BooleanFilter(field_name="reviewed", label="Has at least one analyst review.")
    label = django_filters.ChoiceFilter(field_name="label", choices=Label.choices, label="The ground-truth label.")
    customer_id = django_filters.CharFilter(field_name="customer_id", label="Exact customer id.")
    terminal_id = django_filters.CharFilter(field_name="terminal_id", label="Exact terminal id.")
    timestamp_after = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", label="Transactions at or after this ISO 8601 time."
    )
    timestamp_before = django_filters.IsoDateTimeFilter(
        field_name="timestamp", lookup_expr="lt", label="Transactions before this ISO 8601 time."
    )
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", label="Latest score >= this.")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", label="Latest score <= this.")

    class Meta:
        model = Transaction
        fields: list[str] = []

    def filter_flagged(self, queryset: QuerySet[Transaction], name: str, value: bool | None) -> QuerySet[Transaction]:
        if value is None:
            return queryset
        if value:
            return queryset.filter(decision__in=[Decision.REVIEW, Decision.DECLINE])
        return queryset.filter(decision=Decision.APPROVE)
