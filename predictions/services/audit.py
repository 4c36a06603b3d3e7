"""What is known of a scoring request before it is answered; predictions.services.records writes its row."""

from __future__ import annotations

import ipaddress
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone


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
    """Start the audit of a request: body capped at FRAUDSITE_AUDIT_BODY_BYTES, address checked.

    The body is kept as text: bytes that are not UTF-8, and NUL (which PostgreSQL's text cannot hold, so
    the row would not be written at all), become U+FFFD.
    """
    cap = settings.FRAUDSITE_AUDIT_BODY_BYTES
    return RequestAudit(
        endpoint=endpoint,
        body=body[:cap].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        body_truncated=len(body) > cap,
        remote_addr=_ip_or_none(remote_addr),
        client=client,
    )


def _ip_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
