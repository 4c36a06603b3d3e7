"""The transaction page: why the model flagged it, the customer's and terminal's recent past, and the review form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from predictions.admin.base import ReadOnlyAdmin, can_review
from predictions.models import Label, Prediction, Transaction
from predictions.rules import NOTES_MAX_LENGTH
from predictions.selectors import (
    customer_history,
    terminal_fraud_rate,
    transaction_latest_prediction,
    transaction_reviews,
)
from predictions.services.reviews import ReviewError, review_record

VERDICTS = {Label.FRAUD.value: "confirmed as fraud", Label.LEGITIMATE.value: "marked legitimate"}


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(choices=[(Label.FRAUD, "Confirm fraud"), (Label.LEGITIMATE, "Mark legitimate")])
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
        return {
            "prediction": prediction,
            "features": feature_rows(prediction) if prediction else [],
            "reviews": list(transaction_reviews(transaction=transaction)),
            "customer_history": list(
                customer_history(customer_id=transaction.customer_id, until=transaction.timestamp)
            ),
            "terminal_rate": terminal_fraud_rate(terminal_id=transaction.terminal_id, until=transaction.timestamp),
            "can_review": can_review(request),
            "review_form": ReviewForm(),
            "review_url": reverse("admin:predictions_transaction_review", args=[transaction.pk]),
        }

    @staticmethod
    def queue_url() -> str:
        return reverse("admin:predictions_reviewqueueitem_changelist")

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST the review form: record the review, then go back to the queue for the next item."""
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
        return HttpResponseRedirect(self.queue_url())
