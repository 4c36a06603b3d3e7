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
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from predictions import rules
from predictions.models import Label, LabelSource, Transaction

logger = logging.getLogger(__name__)

GROUND_TRUTH_LABELS = (Label.FRAUD.value, Label.LEGITIMATE.value)
LABEL_SOURCES = (LabelSource.REVIEW.value, LabelSource.CHARGEBACK.value)
IMPORT_COLUMNS = ("transaction_id", "label", "source", "labelled_at")
IMPORT_CHUNK_ROWS = 500
REPORTED_PROBLEMS = 20


class LabelError(ValueError):
    """A label that cannot be recorded; the message names the field."""


class LabelImportError(Exception):
    """A label file that cannot be imported at all (nothing was imported); the message says why in one line."""


def _check_label(*, label: str, source: str, labelled_at: datetime) -> None:
    if label not in GROUND_TRUTH_LABELS:
        raise LabelError(f"label: must be one of {', '.join(GROUND_TRUTH_LABELS)}, got {label!r}")
    if source not in LABEL_SOURCES:
        raise LabelError(f"source: must be one of {', '.join(LABEL_SOURCES)}, got {source!r}")
    if timezone.is_naive(labelled_at):
        raise LabelError("labelled_at: must carry a time zone")


def replaceable_by(labelled_at: datetime) -> Q:
    """Transactions whose stored label a label learnt at `labelled_at` may replace (see the module docstring)."""
    return Q(labelled_at__isnull=True) | Q(label_source__in=["", LabelSource.HISTORY]) | Q(labelled_at__lte=labelled_at)


def label_record(*, transaction: Transaction, label: str, source: str, labelled_at: datetime | None = None) -> bool:
    """Set the transaction's label, source and time; False when a newer review or chargeback label is kept.

    The transaction object is refreshed with what is stored afterwards.
    """
    labelled_at = labelled_at or timezone.now()
    _check_label(label=label, source=source, labelled_at=labelled_at)
    with db_transaction.atomic():
        # One conditional UPDATE: a concurrent review cannot slip between a read and a write.
        changed = (
            Transaction.objects.filter(pk=transaction.pk)
            .filter(replaceable_by(labelled_at))
            .update(label=label, label_source=source, labelled_at=labelled_at)
        )
    transaction.refresh_from_db(fields=["label", "label_source", "labelled_at"])
    if changed:
        logger.info("transaction %s labelled %s (%s)", transaction.transaction_id, label, source)
    return bool(changed)


# --- importing a file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A row that was not imported: its line in the file (header = line 1) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


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
    bad_rows: list[Problem] = field(default_factory=list)
    unknown_ids: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def complete(self) -> bool:
        """True when every row of the file is now stored (imported, or already there)."""
        return self.bad == 0 and self.unknown == 0

    def note_bad(self, problem: Problem) -> None:
        self.bad += 1
        if len(self.bad_rows) < REPORTED_PROBLEMS:
            self.bad_rows.append(problem)

    def note_unknown(self, row: LabelRow) -> None:
        self.unknown += 1
        if len(self.unknown_ids) < REPORTED_PROBLEMS:
            self.unknown_ids.append(Problem(row.line, f"unknown transaction_id {row.transaction_id!r}"))


def labels_import(
    *, path: Path, strict: bool = False, dry_run: bool = False, chunk_rows: int = IMPORT_CHUNK_ROWS
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
            _apply_chunk(rows[start : start + chunk_rows], report)
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
                if isinstance(row_or_problem, Problem):
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
) -> LabelRow | Problem:
    if len(values) != len(columns):
        return Problem(line, f"expected {len(columns)} fields, found {len(values)}")
    field_of = {name: values[index].strip() for name, index in columns.items()}
    transaction_id, label, source = field_of["transaction_id"], field_of["label"], field_of["source"]
    if not rules.TRANSACTION_ID_RE.fullmatch(transaction_id):
        return Problem(line, f"transaction_id: must be 1-{rules.TRANSACTION_ID_MAX_LENGTH} of A-Z a-z 0-9 . _ : -")
    if transaction_id in seen:
        return Problem(
            line, f"transaction_id {transaction_id!r} appears earlier in the file (line {seen[transaction_id]})"
        )
    seen[transaction_id] = line
    if label not in GROUND_TRUTH_LABELS:
        return Problem(line, f"label: must be {' or '.join(GROUND_TRUTH_LABELS)}, got {label!r}")
    if source not in LABEL_SOURCES:
        return Problem(line, f"source: must be {' or '.join(LABEL_SOURCES)}, got {source!r}")
    labelled_at = _parse_labelled_at(field_of["labelled_at"])
    if labelled_at is None:
        return Problem(line, "labelled_at: must be a date (YYYY-MM-DD) or an ISO 8601 time with a time zone")
    if labelled_at > now + rules.FUTURE_TOLERANCE:
        return Problem(line, "labelled_at: is in the future")
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


def _apply_chunk(rows: list[LabelRow], report: LabelImportReport) -> None:
    stored = {
        tx.transaction_id: tx
        for tx in Transaction.objects.select_for_update()
        .filter(transaction_id__in=[row.transaction_id for row in rows])
        .only("pk", "transaction_id", "label", "label_source", "labelled_at")
    }
    changed: list[Transaction] = []
    for row in rows:
        tx = stored.get(row.transaction_id)
        if tx is None:
            report.note_unknown(row)
        elif (tx.label, tx.label_source, tx.labelled_at) == (row.label, row.source, row.labelled_at):
            report.unchanged += 1
        elif not _may_replace(tx, row.labelled_at):
            report.kept_newer += 1
        else:
            tx.label, tx.label_source, tx.labelled_at = row.label, row.source, row.labelled_at
            changed.append(tx)
    Transaction.objects.bulk_update(changed, ["label", "label_source", "labelled_at"])
    report.imported += len(changed)


def _may_replace(tx: Transaction, labelled_at: datetime) -> bool:
    """The Python twin of replaceable_by(), for rows already read under a lock."""
    if tx.labelled_at is None or tx.label_source in ("", LabelSource.HISTORY):
        return True
    return tx.labelled_at <= labelled_at


# --- the analysts' API -------------------------------------------------------------------------------


def label_submit(*, transaction_id: str, label: str, source: str, analyst, notes: str = "") -> Transaction:
    """An analyst's label from the API: a review (a Review row, then the label) or a chargeback (the label only).

    Raises Transaction.DoesNotExist for an unknown transaction_id.
    """
    # reviews.py builds on this module, so it is imported here rather than at the top.
    from predictions.services.reviews import review_record

    transaction = Transaction.objects.get(transaction_id=transaction_id)
    if source == LabelSource.REVIEW:
        review_record(transaction=transaction, reviewer=analyst, outcome=label, notes=notes)
    else:
        label_record(transaction=transaction, label=label, source=source)
        logger.info("transaction %s labelled %s from a %s by %s", transaction_id, label, source, analyst)
    return transaction
