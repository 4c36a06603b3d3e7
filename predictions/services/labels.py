"""Ground-truth labels: recording one, and importing a chargeback file.

A transaction carries its current label (fraud / legitimate / unknown), where it came from and when it
was learnt. The rule for a label that arrives late: it never replaces a newer label from a review or a
chargeback (so re-running an old chargeback file cannot undo today's review); labels loaded with the
history are always superseded.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from predictions import rules
from predictions.errors import DomainError
from predictions.models import AuditAction, LabelSource, Transaction
from predictions.services.events import Actor, Change, events_record, label_fields, label_state
from predictions.services.files import BadRow

logger = logging.getLogger(__name__)

IMPORT_COLUMNS = ("transaction_id", "label", "source", "labelled_at")
IMPORT_CHUNK_ROWS = 500
REPORTED_PROBLEMS = 20


class LabelError(DomainError):
    """A label that cannot be recorded; the message names the field."""


class LabelImportError(DomainError):
    """A label file that cannot be imported at all (nothing was imported); the message says why in one line."""


def _check_label(*, label: str, source: str, labelled_at: datetime) -> None:
    if label not in rules.GROUND_TRUTH_LABELS:
        raise LabelError(f"label: {rules.LABEL_MESSAGE}, got {label!r}")
    if source not in rules.LABEL_SOURCES:
        raise LabelError(f"source: {rules.LABEL_SOURCE_MESSAGE}, got {source!r}")
    if timezone.is_naive(labelled_at):
        raise LabelError(f"labelled_at: {rules.LABELLED_AT_MESSAGE}")


def label_may_replace(stored: Transaction, labelled_at: datetime) -> bool:
    """May a label learnt at `labelled_at` replace the stored one? (The rule in the module docstring.)

    The one statement of the rule: every writer reads the rows under a lock, asks this, then writes.
    """
    if stored.labelled_at is None or stored.label_source in ("", LabelSource.HISTORY):
        return True
    return stored.labelled_at <= labelled_at


def label_record(
    *, transaction: Transaction, label: str, source: str, actor: Actor, labelled_at: datetime | None = None
) -> bool:
    """Set the transaction's label, source and time; False when a newer review or chargeback label is kept.

    A change writes its AuditEvent (before and after) in the same transaction. The transaction object is
    refreshed with what is stored afterwards.
    """
    labelled_at = labelled_at or timezone.now()
    _check_label(label=label, source=source, labelled_at=labelled_at)
    with db_transaction.atomic():
        # Read under a lock (a row lock on PostgreSQL, the write lock on SQLite): no review slips in between.
        stored = _locked(Transaction.objects.filter(pk=transaction.pk)).get()
        changed = label_may_replace(stored, labelled_at)
        if changed:
            Transaction.objects.filter(pk=stored.pk).update(label=label, label_source=source, labelled_at=labelled_at)
            _label_events(actor, [_label_change(stored, label_fields(label, source, labelled_at))])
    transaction.refresh_from_db(fields=["label", "label_source", "labelled_at"])
    if changed:
        logger.info("transaction %s labelled %s (%s)", transaction.transaction_id, label, source)
    return changed


def labels_record_bulk(
    *, transactions: Iterable[Transaction], label: str, source: str, labelled_at: datetime, actor: Actor
) -> int:
    """label_record for many transactions in a fixed number of queries; returns how many changed.

    Must run inside an atomic block (the caller's, with the rows it writes beside the labels).
    """
    _check_label(label=label, source=source, labelled_at=labelled_at)
    stored = _locked(Transaction.objects.filter(pk__in=[tx.pk for tx in transactions]))
    replaceable = [tx for tx in stored if label_may_replace(tx, labelled_at)]
    after = label_fields(label, source, labelled_at)
    _label_events(actor, [_label_change(tx, after) for tx in replaceable])
    return Transaction.objects.filter(pk__in=[tx.pk for tx in replaceable]).update(
        label=label, label_source=source, labelled_at=labelled_at
    )


def _label_change(stored: Transaction, after: dict) -> Change:
    """A stored row's label (read under the lock, before the change) and the label that replaces it."""
    return Change(stored.transaction_id, label_state(stored), after)


def _label_events(actor: Actor, changes: list[Change]) -> None:
    events_record(actor=actor, action=AuditAction.LABEL_SET, target_type="transaction", changes=changes)


def _locked(queryset: QuerySet[Transaction]) -> QuerySet[Transaction]:
    return queryset.select_for_update().only("pk", "transaction_id", "label", "label_source", "labelled_at")


# --- importing a file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRow:
    line: int
    transaction_id: str
    label: str
    source: str
    labelled_at: datetime


@dataclass
class LabelImportReport:
    """What an import did. bad_rows and unknown_ids keep the first REPORTED_PROBLEMS of each."""

    path: Path
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    kept_newer: int = 0
    bad: int = 0
    unknown: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    unknown_ids: list[BadRow] = field(default_factory=list)
    dry_run: bool = False

    @property
    def complete(self) -> bool:
        """True when every row of the file is now stored (imported, or already there)."""
        return self.bad == 0 and self.unknown == 0

    def note_bad(self, problem: BadRow) -> None:
        self.bad += 1
        if len(self.bad_rows) < REPORTED_PROBLEMS:
            self.bad_rows.append(problem)

    def note_unknown(self, row: LabelRow) -> None:
        self.unknown += 1
        if len(self.unknown_ids) < REPORTED_PROBLEMS:
            self.unknown_ids.append(BadRow(row.line, f"unknown transaction_id {row.transaction_id!r}"))


def labels_import(
    *, path: Path, actor: Actor, strict: bool = False, dry_run: bool = False, chunk_rows: int = IMPORT_CHUNK_ROWS
) -> LabelImportReport:
    """Import a label CSV (transaction_id,label,source,labelled_at); idempotent, all or nothing per file.

    Bad rows and unknown transaction ids are skipped and reported with their line numbers; every other row
    is written in one database transaction. A file whose header is wrong raises LabelImportError and
    imports nothing. strict: any bad row or unknown id raises LabelImportError and imports nothing.
    dry_run: report what would happen and roll back.
    """
    path = Path(path)
    report = LabelImportReport(path=path, dry_run=dry_run)
    rows = list(_read_label_file(path, report))
    with db_transaction.atomic():
        for start in range(0, len(rows), chunk_rows):
            _apply_chunk(rows[start : start + chunk_rows], report, actor)
        if strict and not report.complete:
            raise LabelImportError(_refusal(report))  # leaving the block by an exception rolls it back
        if dry_run:
            db_transaction.set_rollback(True)
    logger.info(
        "imported labels from %s: %d rows, %d imported, %d unchanged, %d kept newer, %d unknown ids, %d bad%s",
        path,
        report.rows,
        report.imported,
        report.unchanged,
        report.kept_newer,
        report.unknown,
        report.bad,
        " (dry run, rolled back)" if dry_run else "",
    )
    return report


def _refusal(report: LabelImportReport) -> str:
    problems = sorted(report.bad_rows + report.unknown_ids, key=lambda problem: problem.line)
    shown = "; ".join(str(problem) for problem in problems[:3])
    more = f" (and {report.bad + report.unknown - 3} more)" if report.bad + report.unknown > 3 else ""
    return (
        f"{report.path}: {report.bad} bad rows and {report.unknown} unknown transaction ids, "
        f"nothing imported (strict): {shown}{more}"
    )


def _read_label_file(path: Path, report: LabelImportReport) -> Iterator[LabelRow]:
    try:
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            columns = _read_header(path, reader)
            seen: dict[str, int] = {}
            now = timezone.now()
            for values in reader:
                if not any(value.strip() for value in values):
                    continue  # blank lines, often at the end of a file
                report.rows += 1
                row_or_problem = _parse_row(reader.line_num, values, columns=columns, seen=seen, now=now)
                if isinstance(row_or_problem, BadRow):
                    report.note_bad(row_or_problem)
                else:
                    yield row_or_problem
    except FileNotFoundError:
        raise LabelImportError(f"{path}: no such file; nothing imported") from None
    except IsADirectoryError:
        raise LabelImportError(f"{path}: is a directory, not a CSV file; nothing imported") from None
    except UnicodeDecodeError:
        raise LabelImportError(f"{path}: not a UTF-8 text file; nothing imported") from None
    except csv.Error as exc:
        raise LabelImportError(f"{path}: not a readable CSV file ({exc}); nothing imported") from None


def _read_header(path: Path, reader: Iterable[list[str]]) -> dict[str, int]:
    expected = ",".join(IMPORT_COLUMNS)
    header = next(iter(reader), None)
    if header is None:
        raise LabelImportError(f"{path}: empty file, expected the header {expected}; nothing imported")
    names = [name.strip() for name in header]
    if sorted(names) != sorted(IMPORT_COLUMNS):
        raise LabelImportError(f"{path}: wrong header {','.join(names)!r}, expected {expected}; nothing imported")
    return {name: index for index, name in enumerate(names)}


def _parse_row(
    line: int, values: list[str], *, columns: dict[str, int], seen: dict[str, int], now: datetime
) -> LabelRow | BadRow:
    if len(values) != len(columns):
        return BadRow(line, f"expected {len(columns)} fields, found {len(values)}")
    field_of = {name: values[index].strip() for name, index in columns.items()}
    transaction_id, label, source = field_of["transaction_id"], field_of["label"], field_of["source"]
    if not rules.TRANSACTION_ID_RE.fullmatch(transaction_id):
        return BadRow(line, f"transaction_id: {rules.TRANSACTION_ID_MESSAGE}")
    if transaction_id in seen:
        return BadRow(line, f"transaction_id: {rules.DUPLICATE_IN_FILE_MESSAGE} (line {seen[transaction_id]})")
    seen[transaction_id] = line
    if label not in rules.GROUND_TRUTH_LABELS:
        return BadRow(line, f"label: {rules.LABEL_MESSAGE}, got {label!r}")
    if source not in rules.LABEL_SOURCES:
        return BadRow(line, f"source: {rules.LABEL_SOURCE_MESSAGE}, got {source!r}")
    labelled_at = _parse_labelled_at(field_of["labelled_at"])
    if labelled_at is None:
        return BadRow(line, f"labelled_at: {rules.LABELLED_AT_MESSAGE}")
    if labelled_at > now + rules.FUTURE_TOLERANCE:
        return BadRow(line, f"labelled_at: {rules.FUTURE_MESSAGE}")
    return LabelRow(line, transaction_id, label, source, labelled_at)


def _parse_labelled_at(text: str) -> datetime | None:
    """A date means midnight UTC that day; a time must carry its zone (a chargeback file crosses borders)."""
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    except ValueError:
        pass
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    return moment


def _apply_chunk(rows: list[LabelRow], report: LabelImportReport, actor: Actor) -> None:
    stored = {
        tx.transaction_id: tx
        for tx in _locked(Transaction.objects.filter(transaction_id__in=[row.transaction_id for row in rows]))
    }
    changed: list[Transaction] = []
    events: list[Change] = []
    for row in rows:
        tx = stored.get(row.transaction_id)
        if tx is None:
            report.note_unknown(row)
        elif (tx.label, tx.label_source, tx.labelled_at) == (row.label, row.source, row.labelled_at):
            report.unchanged += 1
        elif not label_may_replace(tx, row.labelled_at):
            report.kept_newer += 1
        else:
            events.append(_label_change(tx, label_fields(row.label, row.source, row.labelled_at)))
            tx.label, tx.label_source, tx.labelled_at = row.label, row.source, row.labelled_at
            changed.append(tx)
    _label_events(actor, events)
    Transaction.objects.bulk_update(changed, ["label", "label_source", "labelled_at"])
    report.imported += len(changed)
