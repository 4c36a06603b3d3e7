"""Tamper evidence: a keyed hash on every audit row, and sealed blocks that show removed or inserted rows.

Every Transaction (its own fields, not its label), ScoringRequest, Prediction, ShadowPrediction (the
challenger's), Review and AuditEvent row
carries `digest`: HMAC-SHA256 under FRAUDSITE_AUDIT_KEY of its canonical content, a JSON array of its
fields (content() below). The key comes from the environment and is never stored in the database, so
someone who can write to the database but does not hold the key cannot make a changed or an inserted row
carry a valid digest; a row copied over another keeps its own primary key in the content, so it does not
match either.

A digest cannot show a row that is gone. For that, `seal_audit` seals blocks: an AuditSeal names the
primary keys of one table's rows that existed at sealing time, the sha256 of their digests in key order,
and the digest of the seal before it, so the seals form one chain. verify_audit compares each sealed
block with the rows now stored. Rows are sealed once they are SEAL_DELAY old, when every transaction that
wrote them has long committed (a row committed after its block was sealed would look inserted).

Why blocks and not a chain through the rows themselves: a chain needs each writer to know the row written
just before, which is a global lock on the scoring path on PostgreSQL; the digests cost one HMAC per row
and nothing is shared between requests. The price is a window: a row removed before it is sealed (at most
SEAL_DELAY plus the sealing interval) is not detected.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from predictions.metrics import audit_row_written
from predictions.models import (
    AuditAction,
    AuditEvent,
    AuditSeal,
    Prediction,
    Review,
    ScoringRequest,
    ShadowPrediction,
    Transaction,
)

if TYPE_CHECKING:
    import pandas as pd

SEAL_DELAY = timedelta(seconds=60)
SEAL_MAX_ROWS = 100_000  # rows per sealed block
_SCAN_CHUNK = 5_000


# --- canonical content --------------------------------------------------------------------------


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _address(value: str | None) -> str | None:
    # The packed bytes: PostgreSQL's inet and Python spell some addresses differently.
    return ipaddress.ip_address(value).packed.hex() if value else None


def transaction_content(row: Transaction) -> list[Any]:
    """The transaction's own fields; the label is not among them (it changes, with an AuditEvent)."""
    return [
        "transaction",
        row.transaction_id,
        _time(row.timestamp),
        row.customer_id,
        row.terminal_id,
        f"{Decimal(row.amount):.2f}",
        row.currency,
        row.metadata,
        _time(row.created_at),
    ]


def request_content(row: ScoringRequest) -> list[Any]:
    return [
        "request",
        str(row.request_id),
        _time(row.received_at),
        row.endpoint,
        row.client,
        _address(row.remote_addr),
        row.body,
        row.body_truncated,
        row.status_code,
        row.response,
        float(row.duration_ms),
        row.error,
        row.replayed,
    ]


_DECIDED_FIELDS = ("model_decision", "rules", "rule_errors", "list_entry", "rule_set_id")


def prediction_content(row: Prediction | ShadowPrediction) -> list[Any]:
    """The decision layer's fields (services/decisions.py) are appended when any is set; a prediction made
    before them (or by score_file before it applied them) keeps the content it was signed with. Setting one on
    such a row changes its content, so it shows as changed. A shadow (challenger) prediction decides nothing
    and has none."""
    content = [
        "shadow" if isinstance(row, ShadowPrediction) else "prediction",
        row.transaction_id,
        row.model_version_id,
        row.request_id,
        float(row.score),
        row.decision,
        row.thresholds,
        row.features,
        row.reasons,
        float(row.latency_ms),
        _time(row.scored_at),
    ]
    # getattr: the historical Prediction of a migration before 0011 has none of them.
    decided = [getattr(row, name, None) for name in _DECIDED_FIELDS]
    if any(value is not None for value in decided):
        content.append(["decided", *decided])
    return content


def review_content(row: Review) -> list[Any]:
    return ["review", row.transaction_id, row.reviewer_id, row.outcome, row.notes, _time(row.reviewed_at)]


def event_content(row: AuditEvent) -> list[Any]:
    return [
        "event",
        _time(row.occurred_at),
        row.actor,
        row.via,
        row.action,
        row.target_type,
        row.target_id,
        row.before,
        row.after,
    ]


def digest(content: list[Any], key: bytes | None = None) -> str:
    """HMAC-SHA256 of the content's canonical JSON (keys sorted, no spaces, UTF-8), under the current key."""
    return hmac.digest(key or _key(), canonical(content).encode(), "sha256").hex()


def _key() -> bytes:
    return settings.FRAUDSITE_AUDIT_KEY.encode()


def _matches(stored: str, content: list[Any]) -> bool:
    """Does `stored` sign `content` under the current key, or under a retired one (rows written before a
    key rotation: settings.FRAUDSITE_AUDIT_RETIRED_KEYS)?"""
    keys = [_key(), *(key.encode() for key in settings.FRAUDSITE_AUDIT_RETIRED_KEYS)]
    return any(hmac.compare_digest(stored, digest(content, key)) for key in keys)


def signed(row: models.Model, *, counted: bool = True) -> models.Model:
    """The row with its digest set; call it just before the row is inserted, once every field is final.

    The row is counted in fraudsite_audit_rows_total when its transaction commits (predictions.metrics); with
    counted=False the caller counts it (audit_rows_counted) once it is stored.
    """
    kind = KINDS_BY_MODEL[type(row)]
    row.digest = digest(kind.content(row))
    if counted:
        audit_row_written(kind.name)
    return row


def audit_rows_counted(rows: Iterable[models.Model]) -> None:
    """Count rows signed with counted=False, now that they are stored."""
    for row in rows:
        audit_row_written(KINDS_BY_MODEL[type(row)].name)


def _digest_of_parts(parts: Iterable[str], key: bytes) -> str:
    """digest() of a content whose items are already canonical JSON texts: the same bytes, spliced."""
    return hmac.digest(key, ("[" + ",".join(parts) + "]").encode(), "sha256").hex()


# One encoder for every call: json.dumps with these options builds a new JSONEncoder each time, which was 90 % of
# the cost of a short string's text (2.1 us against 0.25 us; bench/RESULTS.md, issue 13). The output is the same.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> str:
    """The canonical JSON text of a value: keys sorted, no spaces, not ASCII-escaped."""
    return _CANONICAL.encode(value)


def utc_texts(timestamps: pd.Series) -> list[str]:
    """_time() of many aware timestamps at once."""
    import numpy as np  # here, not at the top: the admin and every command's --help import this module

    utc = timestamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return [f'"{text}Z"' for text in np.datetime_as_string(utc, unit="us")]


def transaction_digests(rows: pd.DataFrame, *, created_at: datetime) -> list[str]:
    """The digests of new Transaction rows written column-wise (empty metadata), as transaction_content."""
    key = _key()
    created = canonical(_time(created_at))
    columns = zip(
        rows["transaction_id"].tolist(),
        utc_texts(rows["timestamp"]),
        rows["customer_id"].tolist(),
        rows["terminal_id"].tolist(),
        rows["amount"].tolist(),
        rows["currency"].tolist(),
        strict=True,
    )
    return [
        _digest_of_parts(
            [
                '"transaction"',
                canonical(transaction_id),
                timestamp,
                canonical(customer_id),
                canonical(terminal_id),
                f'"{Decimal(amount):.2f}"',
                canonical(currency),
                "{}",
                created,
            ],
            key,
        )
        for transaction_id, timestamp, customer_id, terminal_id, amount, currency in columns
    ]


def prediction_digests(
    columns: dict[str, list], *, transaction_pks: list[int], model_version_pk: int, request_pk: int, scored_at: datetime
) -> list[str]:
    """The digests of new Prediction rows written column-wise: records.prediction_columns' JSON texts with the
    decision layer's (records.decided_columns), as prediction_content signs them."""
    key = _key()
    scored = canonical(_time(scored_at))
    thresholds_texts = {text: canonical(json.loads(text)) for text in set(columns["thresholds"])}
    rows = zip(
        transaction_pks,
        columns["score"],
        columns["decision"],
        columns["thresholds"],
        columns["features"],  # a list of floats as json.dumps writes it: already canonical
        columns["reasons"],
        columns["latency_ms"],
        _decided_texts(columns),
        strict=True,
    )
    return [
        _digest_of_parts(
            [
                '"prediction"',
                str(transaction_pk),
                str(model_version_pk),
                str(request_pk),
                repr(float(score)),
                canonical(decision),
                thresholds_texts[thresholds],
                features,
                "[]" if reasons == "[]" else canonical(json.loads(reasons)),  # most rows have no reason
                repr(float(latency_ms)),
                scored,
                decided,
            ],
            key,
        )
        for transaction_pk, score, decision, thresholds, features, reasons, latency_ms, decided in rows
    ]


def _decided_texts(columns: dict[str, list]) -> list[str]:
    """prediction_content's ["decided", ...] item of each row, as canonical JSON (model_decision is set, so the
    item is there). rules, rule_errors and list_entry are JSON texts (list_entry None for NULL).

    Most rows share their values (the model's decision, [], [], null and the rule set): each distinct row is
    made once, 10x faster than one join per row.
    """
    texts: dict[tuple, str] = {}
    decided = []
    for row in zip(*(columns[name] for name in _DECIDED_FIELDS), strict=True):
        text = texts.get(row)
        if text is None:
            model_decision, rules, rule_errors, list_entry, rule_set_id = row
            entry = None if list_entry is None else json.loads(list_entry)
            item = ["decided", model_decision, json.loads(rules), json.loads(rule_errors), entry, rule_set_id]
            text = texts[row] = canonical(item)
        decided.append(text)
    return decided


# --- the audited tables -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[models.Model]
    time_field: str
    content: Callable[[Any], list[Any]]
    select_related: tuple[str, ...] = ()

    def label(self, row: models.Model) -> str:
        """How verify_audit names a row."""
        if isinstance(row, Transaction):
            return f"transaction {row.transaction_id}"
        return f"{self.name} {row.pk}"


KINDS = (
    Kind("transaction", Transaction, "created_at", transaction_content),
    Kind("request", ScoringRequest, "received_at", request_content),
    Kind("prediction", Prediction, "scored_at", prediction_content),
    Kind("review", Review, "reviewed_at", review_content),
    Kind("event", AuditEvent, "occurred_at", event_content),
    Kind("shadow", ShadowPrediction, "scored_at", prediction_content),
)
KINDS_BY_MODEL: dict[type[models.Model], Kind] = {kind.model: kind for kind in KINDS}
KINDS_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}


# --- sealing ------------------------------------------------------------------------------------


def seal_content(seal: AuditSeal) -> list[Any]:
    return [
        "seal",
        seal.kind,
        seal.first_pk,
        seal.last_pk,
        seal.pk_ranges,
        seal.count,
        seal.root,
        _time(seal.first_time),
        _time(seal.last_time),
        _time(seal.sealed_at),
        seal.previous,
    ]


def _root(digests: Iterable[str]) -> str:
    hasher = hashlib.sha256()
    for value in digests:
        hasher.update(value.encode())
    return hasher.hexdigest()


def pk_ranges(pks: list[int]) -> list[list[int]]:
    """Sorted primary keys as closed ranges: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    ranges: list[list[int]] = []
    for pk in sorted(pks):
        if ranges and ranges[-1][1] == pk - 1:
            ranges[-1][1] = pk
        else:
            ranges.append([pk, pk])
    return ranges


def _pks_in(ranges: list[list[int]]) -> Iterator[int]:
    for first, last in ranges:
        yield from range(first, last + 1)


def audit_seal(*, now: datetime | None = None) -> list[AuditSeal]:
    """Seal every table's rows that are older than SEAL_DELAY and not sealed yet; returns the new seals.

    Two sealers that run at once both read the same last seal; the second one's insert breaks the chain's
    unique constraint and its transaction rolls back, leaving the first one's seals.
    """
    cutoff = (now or timezone.now()) - SEAL_DELAY
    sealed: list[AuditSeal] = []
    try:
        with transaction.atomic():
            previous = AuditSeal.objects.order_by("-pk").first()
            for kind in KINDS:
                while seal := _next_seal(kind, cutoff, previous):
                    sealed.append(seal)
                    previous = seal
    except IntegrityError:
        return []  # another sealer sealed the same rows first
    return sealed


def _sealed_to(kind: Kind) -> int:
    """The highest primary key of `kind` that a seal covers; 0 when none does."""
    return AuditSeal.objects.filter(kind=kind.name).order_by("-last_pk").values_list("last_pk", flat=True).first() or 0


def _next_seal(kind: Kind, cutoff: datetime, previous: AuditSeal | None) -> AuditSeal | None:
    last = _sealed_to(kind)
    # The newest row old enough bounds the block: every row below it has committed by now.
    bound = (
        kind.model.objects.filter(pk__gt=last, **{f"{kind.time_field}__lt": cutoff})
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if bound is None:
        return None
    rows = list(
        kind.model.objects.filter(pk__gt=last, pk__lte=bound)
        .order_by("pk")
        .values_list("pk", "digest", kind.time_field)[:SEAL_MAX_ROWS]
    )
    times = [row[2] for row in rows]
    seal = AuditSeal(
        kind=kind.name,
        first_pk=rows[0][0],
        last_pk=rows[-1][0],
        pk_ranges=pk_ranges([row[0] for row in rows]),
        count=len(rows),
        root=_root(row[1] for row in rows),
        first_time=min(times),
        last_time=max(times),
        sealed_at=timezone.now(),
        previous=previous.digest if previous else "",
    )
    seal.digest = digest(seal_content(seal))
    seal.save()
    return seal


# --- verifying ----------------------------------------------------------------------------------


@dataclass
class Finding:
    record: str  # "transaction TX1", "prediction 42", "seal 3"
    problem: str  # changed, removed, inserted, duplicate

    def __str__(self) -> str:
        return f"{self.record}: {self.problem}"


@dataclass
class Verification:
    findings: list[Finding]
    checked: dict[str, int]  # rows checked per kind
    seals: int
    unsealed: int  # rows checked that no seal covers yet: a removal among them would not show

    @property
    def intact(self) -> bool:
        return not self.findings


def audit_verify(*, since: datetime | None = None, until: datetime | None = None) -> Verification:
    """Check every row in [since, until) against its digest, and every seal that covers part of the range."""
    findings: list[Finding] = []
    checked: dict[str, int] = {}
    sealed_to = {
        kind.name: AuditSeal.objects.filter(kind=kind.name)
        .order_by("-last_pk")
        .values_list("last_pk", flat=True)
        .first()
        or 0
        for kind in KINDS
    }
    unsealed = 0
    for kind in KINDS:
        checked[kind.name], newer = _verify_rows(kind, since, until, sealed_to[kind.name], findings)
        unsealed += newer
    seals = _verify_seals(since, until, findings, _purged())
    from predictions.services.policy import policy_verify  # here: policy's events import this module

    findings += policy_verify()
    return Verification(findings=findings, checked=checked, seals=seals, unsealed=unsealed)


def _in_range(queryset: models.QuerySet, field: str, since: datetime | None, until: datetime | None):
    if since is not None:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


def _verify_rows(
    kind: Kind, since: datetime | None, until: datetime | None, sealed_to: int, findings: list[Finding]
) -> tuple[int, int]:
    seen: dict[str, int] = {}
    count = newer = 0
    rows = _in_range(kind.model.objects.order_by("pk"), kind.time_field, since, until)
    for row in rows.iterator(chunk_size=_SCAN_CHUNK):
        count += 1
        newer += row.pk > sealed_to
        if not _matches(row.digest, kind.content(row)):
            findings.append(Finding(kind.label(row), "changed, or inserted outside fraudsite"))
        elif row.digest in seen:
            findings.append(Finding(kind.label(row), f"inserted: a copy of {kind.name} {seen[row.digest]}"))
        else:
            seen[row.digest] = row.pk
    return count, newer


def _purged() -> dict[str, set[int]]:
    """The primary keys purge_audit removed, by kind (its AuditEvents, themselves digested and sealed)."""
    purged: dict[str, set[int]] = {kind.name: set() for kind in KINDS}
    for kind, after in AuditEvent.objects.filter(action=AuditAction.AUDIT_PURGED).values_list("target_type", "after"):
        purged.setdefault(kind, set()).update(_pks_in(after["pks"]))
    return purged


def _verify_seals(
    since: datetime | None, until: datetime | None, findings: list[Finding], purged: dict[str, set[int]]
) -> int:
    """The whole chain's links and digests (a few rows per 100,000 sealed), and the blocks in the range."""
    previous = ""
    count = 0
    for seal in AuditSeal.objects.order_by("pk"):
        if not _matches(seal.digest, seal_content(seal)):
            findings.append(Finding(f"seal {seal.pk}", "changed, or inserted outside fraudsite"))
        elif seal.previous != previous:
            findings.append(Finding(f"seal {seal.pk}", "the seal before it was removed or replaced"))
        previous = seal.digest
        if (since is None or seal.last_time >= since) and (until is None or seal.first_time < until):
            _verify_block(seal, findings, purged.get(seal.kind, set()))
            count += 1
    return count


def _verify_block(seal: AuditSeal, findings: list[Finding], purged: set[int]) -> None:
    kind = KINDS_BY_NAME.get(seal.kind)
    if kind is None:
        findings.append(Finding(f"seal {seal.pk}", f"names an unknown table {seal.kind!r}"))
        return
    stored = dict(
        kind.model.objects.filter(pk__gte=seal.first_pk, pk__lte=seal.last_pk)
        .order_by("pk")
        .values_list("pk", "digest")
    )
    sealed = set(_pks_in(seal.pk_ranges))
    for pk in sorted(sealed - stored.keys() - purged):
        findings.append(Finding(f"{kind.name} {pk}", f"removed (sealed in seal {seal.pk})"))
    for pk in sorted(stored.keys() - sealed):
        findings.append(Finding(_stored_label(kind, pk), f"inserted into the range of seal {seal.pk}"))
    if sealed == stored.keys() and not purged & sealed and _root(stored[pk] for pk in sorted(stored)) != seal.root:
        findings.append(Finding(f"seal {seal.pk}", f"a {kind.name} row in its range was replaced"))


def _stored_label(kind: Kind, pk: int) -> str:
    return kind.label(kind.model.objects.get(pk=pk))
