"""import_labels: set transactions' ground-truth labels from a CSV file (chargebacks, bulk reviews)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from predictions.management.base import FraudsiteCommand
from predictions.services.events import Actor
from predictions.services.labels import LabelImportReport, labels_import


class Command(FraudsiteCommand):
    help = (
        "Set the ground-truth labels of stored transactions from a CSV file with the header\n"
        "transaction_id,label,source,labelled_at (label: fraud or legitimate; source: chargeback or review;\n"
        "labelled_at: a date, or an ISO 8601 time with a time zone).\n"
        "Unknown transaction ids and bad rows are reported with their line numbers and skipped (--strict:\n"
        "nothing is imported); the other rows are written in one database transaction, so a failure leaves\n"
        "the database as it was. A file with a wrong header imports nothing. Importing a file again changes\n"
        "nothing, and a label never replaces a newer label from a review or a chargeback."
    )
    example = "python manage.py import_labels var/chargebacks-2026-03.csv"

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="CSV file of labels")
        parser.add_argument("--strict", action="store_true", help="import nothing if any row is bad or unknown")
        parser.add_argument("--dry-run", action="store_true", help="check and report, store nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        report = labels_import(
            path=options["file"],
            actor=Actor.command("import_labels"),
            strict=options["strict"],
            dry_run=options["dry_run"],
        )
        self._problems(report)
        self.summary(_summary(report))

    def _problems(self, report: LabelImportReport) -> None:
        for problem in sorted(report.bad_rows + report.unknown_ids, key=lambda problem: problem.line):
            self.stderr.write(f"skipped {problem}")
        hidden = report.bad + report.unknown - len(report.bad_rows) - len(report.unknown_ids)
        if hidden:
            self.stderr.write(f"... and {hidden:,} more skipped rows")


def _summary(report: LabelImportReport) -> str:
    line = (
        f"{report.rows:,} rows read: {report.imported:,} imported, {report.unchanged:,} already stored, "
        f"{report.kept_newer:,} kept a newer label, {report.unknown:,} unknown ids, {report.bad:,} bad (skipped)"
    )
    return line + (" - dry run, nothing stored" if report.dry_run else "")
