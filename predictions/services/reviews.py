"""Analyst reviews: each one is a new row in the review history and sets the transaction's label."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.utils import timezone

from predictions.models import LabelSource, Review, Transaction
from predictions.services.labels import GROUND_TRUTH_LABELS, LabelError, label_record, replaceable_by

logger = logging.getLogger(__name__)

NOTES_MAX_LENGTH = 2000


class ReviewError(ValueError):
    """A review that cannot be recorded; the message names the field."""


def _check_review(*, outcome: str, notes: str) -> None:
    if outcome not in GROUND_TRUTH_LABELS:
        raise ReviewError(f"outcome: must be one of {', '.join(GROUND_TRUTH_LABELS)}, got {outcome!r}")
    if len(notes) > NOTES_MAX_LENGTH:
        raise ReviewError(f"notes: at most {NOTES_MAX_LENGTH} characters")


def review_record(*, transaction: Transaction, reviewer: AbstractBaseUser, outcome: str, notes: str = "") -> Review:
    """Record the reviewer's verdict as a new Review and make it the transaction's label (source: review)."""
    _check_review(outcome=outcome, notes=notes)
    with db_transaction.atomic():
        review = Review.objects.create(
            transaction=transaction, reviewer=reviewer, outcome=outcome, notes=notes, reviewed_at=timezone.now()
        )
        try:
            label_record(
                transaction=transaction, label=outcome, source=LabelSource.REVIEW, labelled_at=review.reviewed_at
            )
        except LabelError as exc:  # cannot happen after _check_review; keep the one error type for callers
            raise ReviewError(str(exc)) from None
    logger.info("transaction %s reviewed as %s by %s", transaction.transaction_id, outcome, reviewer)
    return review


def review_record_bulk(
    *, transactions: Iterable[Transaction], reviewer: AbstractBaseUser, outcome: str, notes: str = ""
) -> list[Review]:
    """review_record for many transactions at once (the queue's bulk actions), in a fixed number of queries."""
    _check_review(outcome=outcome, notes=notes)
    transactions = list(transactions)
    now = timezone.now()
    with db_transaction.atomic():
        reviews = Review.objects.bulk_create(
            Review(transaction=tx, reviewer=reviewer, outcome=outcome, notes=notes, reviewed_at=now)
            for tx in transactions
        )
        Transaction.objects.filter(pk__in=[tx.pk for tx in transactions]).filter(replaceable_by(now)).update(
            label=outcome, label_source=LabelSource.REVIEW, labelled_at=now
        )
    logger.info("%d transactions reviewed as %s by %s", len(reviews), outcome, reviewer)
    return reviews
