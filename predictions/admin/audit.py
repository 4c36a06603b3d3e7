"""The audit tables, read-only for everyone: scoring requests, predictions, reviews, audit events."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import truncatechars
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from predictions.admin.base import ReadOnlyAdmin
from predictions.models import AuditEvent, Prediction, Review, ScoringRequest


def milliseconds(value: float) -> str:
    """A duration for people: 0.011 ms, 3.27 ms, 148 ms (three significant figures, no float noise)."""
    return f"{value:.3g} ms" if value < 100 else f"{value:.0f} ms"


def rounded_reasons(reasons: list[dict]) -> str:
    """The stored reasons, one a line, with values and contributions at four significant figures."""
    lines = (f"{r['feature']} = {r['value']:.4g}: contribution {r['contribution']:+.3f}" for r in reasons)
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "-"


@admin.register(ScoringRequest)
class ScoringRequestAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "endpoint", "client", "status_code", "duration", "replayed", "error")
    exclude = ("duration_ms",)
    readonly_fields = ("duration",)
    list_filter = ("endpoint", "status_code", "replayed")
    search_fields = ("=request_id", "=client")
    date_hierarchy = "received_at"
    show_full_result_count = False

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, request: ScoringRequest) -> str:
        return milliseconds(request.duration_ms)


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("transaction", "score_shown", "decision", "model_version", "latency", "scored_at")
    exclude = ("score", "reasons", "latency_ms")
    readonly_fields = ("score_shown", "reasons_shown", "latency")
    list_filter = ("decision", "model_version")
    list_select_related = ("transaction", "model_version")
    search_fields = ("=transaction__transaction_id",)
    date_hierarchy = "scored_at"
    show_full_result_count = False

    @admin.display(description="score", ordering="score")
    def score_shown(self, prediction: Prediction) -> str:
        return f"{prediction.score:.3f}"

    @admin.display(description="reasons")
    def reasons_shown(self, prediction: Prediction) -> str:
        return rounded_reasons(prediction.reasons)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, prediction: Prediction) -> str:
        return milliseconds(prediction.latency_ms)


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
