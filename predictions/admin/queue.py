"""The review queue: flagged transactions not yet reviewed, highest score first, with one-click bulk verdicts."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from predictions.admin.base import ReadOnlyAdmin, can_review
from predictions.models import Decision, Label, ReviewQueueItem
from predictions.selectors import ReviewState, review_queue
from predictions.services.reviews import review_record_bulk


def waited(age: timedelta) -> str:
    """How long an item has waited, in its largest unit and short, so the column stays narrow: 12 min, 3 h, 2 d."""
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)}\xa0min"
    if minutes < 48 * 60:
        return f"{minutes // 60}\xa0h"
    return f"{minutes // (24 * 60)}\xa0d"


BULK_VERDICTS = {Label.FRAUD.value: "confirmed as fraud", Label.LEGITIMATE.value: "marked legitimate"}


class DecisionFilter(admin.SimpleListFilter):
    title = "decision"
    parameter_name = "decision"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(Decision.REVIEW, "review"), (Decision.DECLINE, "decline")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(decision=self.value()) if self.value() else queryset


class TransactionTimeFilter(admin.DateFieldListFilter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = "transaction time"


class ReviewStateFilter(admin.SimpleListFilter):
    """Unreviewed by default: the queue is what is left to do; the other states are a click away."""

    title = "review state"
    parameter_name = "review_state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(ReviewState.UNREVIEWED, "not reviewed"), (ReviewState.REVIEWED, "reviewed"), (ReviewState.ANY, "all")]

    def value(self) -> str:
        return super().value() or ReviewState.UNREVIEWED

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == ReviewState.REVIEWED:
            return queryset.filter(is_reviewed=True)
        if self.value() == ReviewState.ANY:
            return queryset
        return queryset.filter(is_reviewed=False)

    def choices(self, changelist):
        # No "All" entry from the base class: "all" is one of the states, and none selected means "not reviewed".
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(ReadOnlyAdmin):
    list_display = (
        "transaction_link",
        "time",
        "customer",
        "terminal",
        "amount",
        "score_display",
        "decision",
        "version",
        "age",
        "label",
    )
    list_display_links = None
    list_filter = (
        DecisionFilter,
        ReviewStateFilter,
        ("transaction__label", admin.ChoicesFieldListFilter),
        "model_version",
        ("transaction__timestamp", TransactionTimeFilter),
    )
    date_hierarchy = "transaction__timestamp"
    search_fields = ("=transaction__transaction_id", "=transaction__customer_id", "=transaction__terminal_id")
    search_help_text = "An exact transaction, customer or terminal id."
    ordering = ("-score", "pk")
    list_per_page = 100
    show_full_result_count = False
    actions = ["confirm_fraud", "mark_legitimate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Every review state here; ReviewStateFilter narrows it (to "not reviewed" unless asked otherwise).
        return review_queue(base=super().get_queryset(request), state=ReviewState.ANY)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {"title": "Flagged transactions to review", **(extra_context or {})})

    def has_review_permission(self, request: HttpRequest) -> bool:
        return can_review(request)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """An item's page is its transaction's page, where the reasons, history and review form are."""
        item = self.get_object(request, object_id)
        if item is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return HttpResponseRedirect(reverse("admin:predictions_transaction_change", args=[item.transaction_id]))

    @admin.display(description="transaction", ordering="transaction__transaction_id")
    def transaction_link(self, item: ReviewQueueItem):
        url = reverse("admin:predictions_transaction_change", args=[item.transaction_id])
        return format_html('<a href="{}">{}</a>', url, item.transaction.transaction_id)

    @admin.display(description="time (UTC)", ordering="transaction__timestamp")
    def time(self, item: ReviewQueueItem) -> str:
        return item.transaction.timestamp.astimezone(UTC).strftime("%Y-%m-%d\xa0%H:%M")

    @admin.display(description="customer", ordering="transaction__customer_id")
    def customer(self, item: ReviewQueueItem) -> str:
        return item.transaction.customer_id

    @admin.display(description="terminal", ordering="transaction__terminal_id")
    def terminal(self, item: ReviewQueueItem) -> str:
        return item.transaction.terminal_id

    @admin.display(description="amount", ordering="transaction__amount")
    def amount(self, item: ReviewQueueItem) -> str:
        return f"{item.transaction.amount:,}\xa0{item.transaction.currency}"

    @admin.display(description="score", ordering="score")
    def score_display(self, item: ReviewQueueItem) -> str:
        return f"{item.score:.3f}"

    @admin.display(description="model version", ordering="model_version__version")
    def version(self, item: ReviewQueueItem) -> str:
        return item.model_version.version

    @admin.display(description="in queue for", ordering="-scored_at")
    def age(self, item: ReviewQueueItem) -> str:
        return waited(timezone.now() - item.scored_at)

    @admin.display(description="label", ordering="transaction__label")
    def label(self, item: ReviewQueueItem) -> str:
        return item.transaction.get_label_display()

    @admin.action(description="Confirm fraud", permissions=["review"])
    def confirm_fraud(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._review(request, queryset, action="confirm_fraud", outcome=Label.FRAUD)

    @admin.action(description="Mark legitimate", permissions=["review"])
    def mark_legitimate(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._review(request, queryset, action="mark_legitimate", outcome=Label.LEGITIMATE)

    def _review(
        self, request: HttpRequest, queryset: QuerySet, *, action: str, outcome: str
    ) -> TemplateResponse | None:
        """A verdict on many transactions is asked twice: the first post shows them, the confirmation records."""
        items = list(queryset)
        if request.POST.get("post") != "yes":
            return self._confirmation(request, items, action=action, outcome=outcome)
        reviews = review_record_bulk(
            transactions=[item.transaction for item in items], reviewer=request.user, outcome=outcome, via="admin"
        )
        count = len(reviews)
        verdict = BULK_VERDICTS[outcome]
        self.message_user(request, f"{count} transaction{'s' if count != 1 else ''} {verdict}.", messages.SUCCESS)
        return None

    def _confirmation(self, request: HttpRequest, items: list, *, action: str, outcome: str) -> TemplateResponse:
        verdict = BULK_VERDICTS[outcome]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Are you sure? {len(items)} transaction{pluralize(len(items))} to be {verdict}",
            "opts": self.opts,
            "items": items,
            "action": action,
            "outcome": outcome,
            "verdict": verdict,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/predictions/reviewqueueitem/review_confirmation.html", context)
