"""load_transactions: bulk-load a CSV of transactions as history (stored, not scored)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from predictions.management.base import FraudsiteCommand, positive_int
from predictions.services.files import LOAD_CHUNK_ROWS


class Command(FraudsiteCommand):
    help = (
        "Store the transactions of a CSV file as history, without scoring them, so that the features of\n"
        "transactions scored later see them. Rows are checked with the API's rules; a bad row is reported\n"
        "with its line number and skipped (--strict: the load stops and stores nothing). A transaction_id\n"
        "already stored is left as it is, so running the command again finishes an interrupted load.\n"
        "Columns: transaction_id, timestamp, customer_id, terminal_id, amount, and optionally currency,\n"
        "is_fraud (needed by --with-labels) and fraud_scenario (ignored)."
    )
    example = "python manage.py load_transactions var/history.csv --with-labels"

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="CSV file of transactions")
        parser.add_argument(
            "--with-labels",
            action="store_true",
            help='store is_fraud as the ground-truth label (fraud / legitimate, source "history")',
        )
        parser.add_argument(
            "--chunk-rows",
            type=positive_int,
            default=LOAD_CHUNK_ROWS,
            help="rows stored per database transaction (%(default)s); on SQLite the API waits while one is "
            "written, so lower it when the API is busy",
        )
        parser.add_argument("--strict", action="store_true", help="refuse the whole file if any row is bad")

    def handle(self, *args: Any, **options: Any) -> None:
        from predictions.services.loading import transactions_load  # pandas: imported when run, not for --help

        began = time.perf_counter()
        with self.progress(description="loading") as progress:
            result = transactions_load(
                path=options["file"],
                with_labels=options["with_labels"],
                strict=options["strict"],
                chunk_rows=options["chunk_rows"],
                progress=progress,
            )
        for bad in result.bad_rows:
            self.stderr.write(f"skipped {bad}")
        if result.bad > len(result.bad_rows):
            self.stderr.write(f"... and {result.bad - len(result.bad_rows):,} more bad rows")
        seconds = time.perf_counter() - began
        self.summary(
            f"{result.rows:,} rows read: {result.inserted:,} stored, {result.already_stored:,} already stored, "
            f"{result.bad:,} bad (skipped) in {seconds:.1f} s ({result.rows / max(seconds, 1e-9):,.0f} rows/s)"
        )
