"""Analyst reviews and labels: a review is a new row in the review history and sets the transaction's label."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.utils import timezone

from predictions import rules
from predictions.errors import DomainError
from predictions.models import LabelSource, Review, Transaction
from predictions.services.events import Actor
from predictions.services.integrity import signed
from predictions.services.labels import LabelError, label_record, labels_record_bulk

logger = logging.getLogger(__name__)


class ReviewError(DomainError):
    """A review that cannot be recorded; the message names the field."""


class UnknownTransaction(DomainError):
    """A label or review for a transaction_id that is not stored."""

    status_code = 404
    code = "not_found"

    def __init__(self, transaction_id: str) -> None:
        super().__init__(f"No transaction with transaction_id {transaction_id!r} is stored.")


def _check_review(*, outcome: str, notes: str) -> None:
    if outcome not in rules.GROUND_TRUTH_LABELS:
        raise ReviewError(f"outcome: {rules.LABEL_MESSAGE}, got {outcome!r}")
    if len(notes) > rules.NOTES_MAX_LENGTH:
        raise ReviewError(f"notes: {rules.NOTES_MESSAGE}")


def _admin_log(*, reviewer: AbstractBaseUser, transactions: list[Transaction], outcome: str) -> None:
    """The admin's own history (its "Recent actions" box and each transaction's History page), beside the
    AuditEvent that label_record writes: the AuditEvent is the record, this is the analyst's trail."""
    if transactions:
        LogEntry.objects.log_actions(
            user_id=reviewer.pk, queryset=transactions, action_flag=CHANGE, change_message=f"Reviewed: {outcome}."
        )


def review_record(
    *, transaction: Transaction, reviewer: AbstractBaseUser, outcome: str, notes: str = "", via: str
) -> Review:
    """Record the reviewer's verdict as a new Review and make it the transaction's label (source: review).

    via: where the reviewer acted (admin or api), for the label's AuditEvent.
    """
    _check_review(outcome=outcome, notes=notes)
    with db_transaction.atomic():
        review = Review(
            transaction=transaction, reviewer=reviewer, outcome=outcome, notes=notes, reviewed_at=timezone.now()
        )
        signed(review).save(force_insert=True)
        try:
            label_record(
                transaction=transaction,
                label=outcome,
                source=LabelSource.REVIEW,
                labelled_at=review.reviewed_at,
                actor=Actor.user(reviewer, via=via),
            )
        except LabelError as exc:  # cannot happen after _check_review; keep the one error type for callers
            raise ReviewError(str(exc)) from None
        _admin_log(reviewer=reviewer, transactions=[transaction], outcome=outcome)
    logger.info("transaction %s reviewed as %s by %s", transaction.transaction_id, outcome, reviewer)
    return review


def review_record_bulk(
    *, transactions: Iterable[Transaction], reviewer: AbstractBaseUser, outcome: str, notes: str = "", via: str
) -> list[Review]:
    """review_record for many transactions at once (the queue's bulk actions), in a fixed number of queries."""
    _check_review(outcome=outcome, notes=notes)
    transactions = list(transactions)
    now = timezone.now()
    with db_transaction.atomic():
        reviews = Review.objects.bulk_create(
            signed(Review(transaction=tx, reviewer=reviewer, outcome=outcome, notes=notes, reviewed_at=now))
            for tx in transactions
        )
        labels_record_bulk(
            transactions=transactions,
            label=outcome,
            source=LabelSource.REVIEW,
            labelled_at=now,
            actor=Actor.user(reviewer, via=via),
        )
        _admin_log(reviewer=reviewer, transactions=transactions, outcome=outcome)
    logger.info("%d transactions reviewed as %s by %s", len(reviews), outcome, reviewer)
    return reviews


def label_submit(
    *, transaction_id: str, label: str, source: str, analyst: AbstractBaseUser, notes: str = ""
) -> Transaction:
    """An analyst's label from the API: a review (a Review row, then the label) or a chargeback (the label only)."""
    transaction = Transaction.objects.filter(transaction_id=transaction_id).first()
    if transaction is None:
        raise UnknownTransaction(transaction_id)
    if source == LabelSource.REVIEW:
        review_record(transaction=transaction, reviewer=analyst, outcome=label, notes=notes, via="api")
    else:
        label_record(transaction=transaction, label=label, source=source, actor=Actor.user(analyst, via="api"))
        logger.info("transaction %s labelled %s from a %s by %s", transaction_id, label, source, analyst)
    return transaction
