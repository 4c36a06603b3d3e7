"""The audit record of scoring requests: one ScoringRequest row per request, accepted or refused."""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from predictions.models import ScoringRequest

logger = logging.getLogger(__name__)


@dataclass
class RequestAudit:
    """What is known about a scoring request before it is answered; becomes one ScoringRequest row."""

    endpoint: str
    body: str
    body_truncated: bool
    remote_addr: str | None
    client: str = ""
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    received_at: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.perf_counter)
    recorded: bool = False

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


def request_audit_begin(*, endpoint: str, body: bytes, remote_addr: str | None, client: str = "") -> RequestAudit:
    """Start the audit of a request: body capped at FRAUDSITE_AUDIT_BODY_BYTES, address checked."""
    cap = settings.FRAUDSITE_AUDIT_BODY_BYTES
    return RequestAudit(
        endpoint=endpoint,
        body=body[:cap].decode("utf-8", errors="replace"),
        body_truncated=len(body) > cap,
        remote_addr=_ip_or_none(remote_addr),
        client=client,
    )


def scoring_request_create(
    *, audit: RequestAudit, status_code: int, response: Any, error: str = "", replayed: bool = False
) -> ScoringRequest:
    """Write the request's audit row; call it inside the atomic block that stores the request's effects.

    The caller sets audit.recorded once that block has committed: a rolled-back row does not count.
    """
    if audit.recorded:
        raise RuntimeError(f"scoring request {audit.request_id} is already recorded")
    row = ScoringRequest.objects.create(
        request_id=audit.request_id,
        received_at=audit.received_at,
        endpoint=audit.endpoint,
        client=audit.client[:150],
        remote_addr=audit.remote_addr,
        body=audit.body,
        body_truncated=audit.body_truncated,
        status_code=status_code,
        response=response,
        duration_ms=audit.elapsed_ms(),
        error=error[:200],
        replayed=replayed,
    )
    return row


def refused_request_record(*, audit: RequestAudit, status_code: int, response: Any, error: str) -> None:
    """Record a request that stored nothing (refused or failed); a database outage only logs."""
    try:
        with transaction.atomic():
            scoring_request_create(audit=audit, status_code=status_code, response=response, error=error)
        audit.recorded = True
    except DatabaseError:
        # The refusal may itself be "database unavailable": the log line is then the only trace.
        logger.warning(
            "scoring request %s (%s, status %s, %s) could not be audited: database unavailable",
            audit.request_id,
            audit.endpoint,
            status_code,
            error,
        )


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
