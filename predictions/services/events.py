"""Who did what: the AuditEvent log.

Every human or admin action (a label, a model activation, an API client's key) writes its event inside
the database transaction of the change itself, so a change that rolls back leaves no event and a change
that commits cannot lack one.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction

from predictions.models import AuditEvent, Transaction
from predictions.services.integrity import signed


@dataclass(frozen=True)
class Actor:
    """Who acts, and through what: the admin, the API, or a management command."""

    name: str
    via: str

    @classmethod
    def user(cls, user: AbstractBaseUser, *, via: str) -> Actor:
        return cls(name=user.get_username(), via=via)

    @classmethod
    def command(cls, command: str) -> Actor:
        """A management command's operator: the operating-system login that ran it."""
        try:
            login = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (some containers)
            login = f"uid {os.getuid()}"
        return cls(name=f"os:{login}", via=command)


@dataclass(frozen=True)
class Change:
    target_id: str
    before: Any
    after: Any


def events_record(*, actor: Actor, action: str, target_type: str, changes: Iterable[Change]) -> int:
    """One AuditEvent per change; the caller's atomic block must hold the changes themselves."""
    if not db_transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events are written inside the transaction of the change they record")
    events = [
        signed(
            AuditEvent(
                actor=actor.name,
                via=actor.via,
                action=action,
                target_type=target_type,
                target_id=change.target_id,
                before=change.before,
                after=change.after,
            )
        )
        for change in changes
    ]
    AuditEvent.objects.bulk_create(events)
    return len(events)


def label_state(transaction: Transaction) -> dict[str, str | None]:
    """A transaction's label as an event's before or after."""
    return label_fields(transaction.label, transaction.label_source, transaction.labelled_at)


def label_fields(label: str, source: str, labelled_at: datetime | None) -> dict[str, str | None]:
    return {"label": label, "source": source, "labelled_at": labelled_at.isoformat() if labelled_at else None}
