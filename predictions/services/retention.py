"""Audit retention: the one path that deletes audit rows, and it logs what it deletes.

Deleted, when older than the cutoff: predictions and the challenger's shadow predictions (by scored_at),
then the scoring requests (by received_at) that no remaining prediction references, and reviews (by
reviewed_at). Transactions and their labels stay: they are the history the features and the next model are made of.
Deletion runs in atomic chunks, so an interrupted purge leaves whole chunks and a re-run finishes it.

Each chunk's transaction holds the database triggers' permit (models.audit_deletion_allowed) and writes
an AuditEvent naming the primary keys it removed, so verify_audit tells a purged row from a removed one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from predictions.errors import DomainError
from predictions.models import (
    AuditAction,
    Prediction,
    Review,
    ScoringRequest,
    ShadowPrediction,
    audit_deletion_allowed,
)
from predictions.services.events import Actor, Change, events_record
from predictions.services.integrity import KINDS_BY_MODEL, pk_ranges

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5_000


class PurgeError(DomainError):
    """A purge that must not run (a retention period that makes no sense); the message says why."""


@dataclass(frozen=True)
class PurgeItem:
    """What goes (or went) from one table: how many rows and their time span."""

    table: str
    rows: int
    oldest: datetime | None
    newest: datetime | None

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.table}: none"
        return f"{self.table}: {self.rows:,} ({self.oldest:%Y-%m-%d %H:%M} to {self.newest:%Y-%m-%d %H:%M} UTC)"


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    dry_run: bool
    items: tuple[PurgeItem, ...]

    @property
    def total(self) -> int:
        return sum(item.rows for item in self.items)


def audit_purge(
    *,
    older_than_days: int,
    actor: Actor,
    dry_run: bool = False,
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> PurgeResult:
    """Delete the audit rows older than older_than_days (nothing with dry_run); says what it deleted."""
    if older_than_days < 1:
        raise PurgeError(f"--older-than must be at least 1 day, got {older_than_days}")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    items = []
    # Predictions first: a request is deleted only once no kept prediction refers to it.
    for table, queryset, time_field in _targets(cutoff):
        item = _describe(table, queryset(), time_field)
        if not dry_run and item.rows:
            _delete_in_chunks(queryset, chunk_rows=chunk_rows, actor=actor, cutoff=cutoff)
            logger.warning("purge_audit deleted %s older than %s", item, cutoff.isoformat())
        items.append(item)
    if dry_run:
        logger.info("purge_audit --dry-run: would delete %s", "; ".join(str(item) for item in items))
    return PurgeResult(cutoff=cutoff, dry_run=dry_run, items=tuple(items))


def _targets(cutoff: datetime):
    def predictions() -> QuerySet:
        return Prediction.objects.filter(scored_at__lt=cutoff)

    def shadow_predictions() -> QuerySet:
        return ShadowPrediction.objects.filter(scored_at__lt=cutoff)

    def requests() -> QuerySet:
        # With dry_run the old predictions are still there: judge by the predictions that will be kept.
        return (
            ScoringRequest.objects.filter(received_at__lt=cutoff)
            .exclude(predictions__scored_at__gte=cutoff)
            .exclude(shadow_predictions__scored_at__gte=cutoff)
        )

    def reviews() -> QuerySet:
        return Review.objects.filter(reviewed_at__lt=cutoff)

    return [
        ("predictions", predictions, "scored_at"),
        ("shadow predictions", shadow_predictions, "scored_at"),
        ("scoring requests", requests, "received_at"),
        ("reviews", reviews, "reviewed_at"),
    ]


def _describe(table: str, queryset: QuerySet, time_field: str) -> PurgeItem:
    ordered = queryset.order_by(time_field).values_list(time_field, flat=True)
    rows = queryset.count()
    if not rows:
        return PurgeItem(table, 0, None, None)
    return PurgeItem(table, rows, ordered.first(), ordered.last())


def _delete_in_chunks(queryset, *, chunk_rows: int, actor: Actor, cutoff: datetime) -> None:
    model: type[Model] = queryset().model
    kind = KINDS_BY_MODEL[model].name
    while True:
        with transaction.atomic(), audit_deletion_allowed():
            ids = list(queryset().order_by("pk").values_list("pk", flat=True)[:chunk_rows])
            if not ids:
                return
            model.objects.filter(pk__in=ids).delete()
            after = {"older_than": cutoff.isoformat(), "pks": pk_ranges(ids)}
            events_record(
                actor=actor, action=AuditAction.AUDIT_PURGED, target_type=kind, changes=[Change(kind, None, after)]
            )
