"""The audit tables, read-only for everyone: scoring requests, predictions, reviews, audit events."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import truncatechars

from predictions.admin.base import ReadOnlyAdmin
from predictions.models import AuditEvent, Prediction, Review, ScoringRequest


@admin.register(ScoringRequest)
class ScoringRequestAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "endpoint", "client", "status_code", "duration_ms", "replayed", "error")
    list_filter = ("endpoint", "status_code", "replayed")
    search_fields = ("=request_id", "=client")
    date_hierarchy = "received_at"
    show_full_result_count = False


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("transaction", "score", "decision", "model_version", "latency_ms", "scored_at")
    list_filter = ("decision", "model_version")
    list_select_related = ("transaction", "model_version")
    search_fields = ("=transaction__transaction_id",)
    date_hierarchy = "scored_at"
    show_full_result_count = False


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("transaction", "outcome", "reviewer", "reviewed_at", "short_notes")
    list_filter = ("outcome", "reviewer")
    list_select_related = ("transaction", "reviewer")
    search_fields = ("=transaction__transaction_id", "=reviewer__username")
    date_hierarchy = "reviewed_at"
    show_full_result_count = False

    @admin.display(description="notes")
    def short_notes(self, review: Review) -> str:
        return truncatechars(review.notes, 60)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "actor", "via", "action", "target_type", "target_id", "before", "after")
    list_filter = ("action", "via", "target_type")
    search_fields = ("=actor", "=target_id")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
