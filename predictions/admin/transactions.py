"""The transaction page: why the model flagged it, the customer's and terminal's recent past, and the review form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from predictions.admin.base import ReadOnlyAdmin, can_review
from predictions.admin.reasons import reasons_in_words
from predictions.models import Label, Prediction, Transaction
from predictions.rules import NOTES_MAX_LENGTH
from predictions.selectors import (
    customer_history,
    review_queue,
    terminal_fraud_rate,
    transaction_latest_prediction,
    transaction_reviews,
)
from predictions.services.reviews import ReviewError, review_record

VERDICTS = {Label.FRAUD.value: "confirmed as fraud", Label.LEGITIMATE.value: "marked legitimate"}
HISTORY_SHOWN = 10  # the customer's latest transactions on the page; the link lists them all
SAVE_AND_NEXT = "_next"  # the name of the "Save and next" button


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(Label.FRAUD, "Confirm fraud"), (Label.LEGITIMATE, "Mark legitimate")], widget=forms.RadioSelect
    )
    notes = forms.CharField(
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "What you checked, who you called…"}),
    )


def feature_rows(prediction: Prediction) -> list[tuple[str, Any]]:
    """The stored feature vector as (name, value), in the model's feature order."""
    return list(prediction.named_features.items())


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "label")
    list_filter = ("label", "label_source", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("=transaction_id", "=customer_id", "=terminal_id")
    search_help_text = "An exact transaction, customer or terminal id."
    date_hierarchy = "timestamp"
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency"]}),
        ("Ground truth", {"fields": ["label", "label_source", "labelled_at"]}),
        ("Other", {"fields": ["metadata", "created_at"], "classes": ["collapse"]}),
    ]

    def get_urls(self):
        review = self.admin_site.admin_view(self.review_view)
        return [path("<path:object_id>/review/", review, name="predictions_transaction_review"), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        transaction = self.get_object(request, unquote(object_id))
        if transaction is not None and self.has_view_permission(request, transaction):
            extra_context = {**(extra_context or {}), **self.review_context(request, transaction)}
        return super().change_view(request, object_id, form_url, extra_context)

    def review_context(self, request: HttpRequest, transaction: Transaction) -> dict:
        """What the analyst needs to decide: the model's view, the reviews so far, the customer and terminal."""
        prediction = transaction_latest_prediction(transaction=transaction)
        features = feature_rows(prediction) if prediction else []
        return {
            "prediction": prediction,
            "features": features,
            "reasons": reasons_in_words(prediction.reasons, dict(features)) if prediction else [],
            "reviews": list(transaction_reviews(transaction=transaction)),
            "customer_history": list(
                customer_history(customer_id=transaction.customer_id, until=transaction.timestamp, limit=HISTORY_SHOWN)
            ),
            "history_shown": HISTORY_SHOWN,
            "customer_list_url": self._changelist_url(customer_id=transaction.customer_id),
            "terminal_list_url": self._changelist_url(terminal_id=transaction.terminal_id),
            "terminal_rate": terminal_fraud_rate(terminal_id=transaction.terminal_id, until=transaction.timestamp),
            "can_review": can_review(request),
            "review_form": ReviewForm(),
            "review_url": reverse("admin:predictions_transaction_review", args=[transaction.pk]),
        }

    @staticmethod
    def _changelist_url(**lookup: str) -> str:
        return f"{reverse('admin:predictions_transaction_changelist')}?{urlencode(lookup)}"

    @staticmethod
    def queue_url() -> str:
        return reverse("admin:predictions_reviewqueueitem_changelist")

    def next_url(self, request: HttpRequest) -> str:
        """The page of the queue's next item (highest score not yet reviewed), or the queue when it is empty."""
        next_transaction = review_queue().values_list("transaction_id", flat=True).first()
        if next_transaction is None:
            self.message_user(request, "The queue is empty: nothing left to review.", messages.INFO)
            return self.queue_url()
        return reverse("admin:predictions_transaction_change", args=[next_transaction])

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST the review form: record the review, then open the queue's next item ("Save and next")
        or go back to the queue ("Save")."""
        return require_POST(self._review)(request, object_id)

    def _review(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not can_review(request):
            raise PermissionDenied
        transaction = get_object_or_404(Transaction, pk=unquote(object_id))
        form = ReviewForm(request.POST)
        try:
            if form.is_valid():
                review_record(transaction=transaction, reviewer=request.user, via="admin", **form.cleaned_data)
        except ReviewError as exc:
            form.add_error(None, str(exc))
        if form.errors:
            problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
            messages.error(request, f"The review was not recorded ({problems}).")
            return HttpResponseRedirect(reverse("admin:predictions_transaction_change", args=[transaction.pk]))
        verdict = VERDICTS[form.cleaned_data["outcome"]]
        self.message_user(request, f"{transaction.transaction_id} {verdict}.", messages.SUCCESS)
        return HttpResponseRedirect(self.next_url(request) if SAVE_AND_NEXT in request.POST else self.queue_url())
