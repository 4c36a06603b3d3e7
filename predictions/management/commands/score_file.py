"""score_file: batch-score a CSV file of transactions with the active model."""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Any

from predictions.management.base import FraudsiteCommand, positive_int
from predictions.services.files import SCORE_CHUNK_ROWS


class Command(FraudsiteCommand):
    help = (
        "Score the transactions of a CSV file with the active model, in time order, as if each had been\n"
        "sent to POST transactions/ in turn: features come from the stored history plus the file's earlier\n"
        "rows. Transactions and predictions are stored (one audit request per run) and OUT gets one row\n"
        "per transaction: transaction_id, score, decision, model_version. Already scored ids are skipped\n"
        "and reported, and keep their stored result in OUT, so a re-run scores only what is left.\n"
        "Bad rows, and ids stored with other content or as unscored history, are reported and skipped\n"
        "(--strict: nothing is stored if there is any)."
    )
    example = "python manage.py score_file var/today.csv --out var/today-scores.csv"

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="CSV file of transactions (columns as for load_transactions)")
        parser.add_argument("--out", type=Path, required=True, help="CSV file to write the scores to")
        parser.add_argument(
            "--chunk-rows",
            type=positive_int,
            default=SCORE_CHUNK_ROWS,
            help="rows stored per database transaction (%(default)s); on SQLite the API waits while one is "
            "written, so lower it when the API is busy",
        )
        parser.add_argument("--strict", action="store_true", help="score nothing if any row is bad or refused")

    def handle(self, *args: Any, **options: Any) -> None:
        # pandas and scikit-learn: imported when run, not for --help
        from predictions.services.batch import transactions_score_file

        began = time.perf_counter()
        with self.progress(description="scoring") as progress:
            result = transactions_score_file(
                path=options["file"],
                out=options["out"],
                client=_operator(),
                strict=options["strict"],
                chunk_rows=options["chunk_rows"],
                progress=progress,
            )
        for problem in result.problems:
            self.stderr.write(f"skipped {problem}")
        shown = len(result.problems)
        if result.bad + result.refused > shown:
            self.stderr.write(f"... and {result.bad + result.refused - shown:,} more skipped rows")
        seconds = time.perf_counter() - began
        decisions = ", ".join(f"{result.decisions[d]:,} {d}" for d in ("approve", "review", "decline"))
        self.summary(
            f"{result.rows:,} rows: {result.scored:,} scored ({decisions}), {result.already_scored:,} already "
            f"scored, {result.refused + result.bad:,} skipped; model {result.model_version}; "
            f"{seconds:.1f} s ({result.rows / max(seconds, 1e-9):,.0f} rows/s); written to {options['out']}"
        )


def _operator() -> str:
    """Who ran the job, for the audit record's client field."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"
