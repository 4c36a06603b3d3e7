"""export_audit: the audit of a time range (requests, predictions, reviews) as CSV or JSON Lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from predictions.management.base import FraudsiteCommand, since_bound, until_bound
from predictions.services.export import FORMATS, audit_export


class Command(FraudsiteCommand):
    help = (
        "Write the scoring requests received, the predictions scored and the reviews made between --since\n"
        "and --until to one file. Each row has a `record` field (request, prediction, review), its id and\n"
        "time (`at`, UTC); in CSV, nested values (features, reasons, response) are JSON in their cell.\n"
        "Rows are streamed from the database, so memory stays flat for any range."
    )
    example = "python manage.py export_audit --since 2026-03-01 --until 2026-03-31 --format jsonl --out march.jsonl"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", type=since_bound, required=True, help="first day (YYYY-MM-DD) or time")
        parser.add_argument("--until", type=until_bound, required=True, help="last day, included, or an end time")
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
        parser.add_argument("--out", type=Path, required=True, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.perf_counter()
        with self.progress(description="exporting") as progress:
            result = audit_export(
                since=options["since"],
                until=options["until"],
                fmt=options["format"],
                out=options["out"],
                progress=progress,
            )
        shadows = f" ({result.shadow_predictions:,} shadow)" if result.shadow_predictions else ""
        self.summary(
            f"{result.requests:,} requests, {result.predictions:,} predictions{shadows}, {result.reviews:,} reviews, "
            f"{result.events:,} events written to {options['out']} in {time.perf_counter() - began:.1f} s"
        )
