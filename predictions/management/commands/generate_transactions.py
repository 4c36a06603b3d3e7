"""generate_transactions: the HANDBOOK simulator (model_package.simulate) writing a CSV file."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from predictions.management.base import FraudsiteCommand, positive_int


class Command(FraudsiteCommand):
    help = (
        "Simulate card transactions as in the Fraud Detection Handbook (chapter 3.2) and write them as CSV:\n"
        "transaction_id, timestamp, customer_id, terminal_id, amount, is_fraud, fraud_scenario.\n"
        "The defaults are the book's data set (about 1.75 million transactions); the same seed gives the same file."
    )
    example = (
        "python manage.py generate_transactions --customers 500 --terminals 1000 --days 60 \\\n"
        "    --start 2026-01-01 --seed 1 --out var/transactions.csv"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customers", type=positive_int, default=5000, help="number of customers (5000)")
        parser.add_argument("--terminals", type=positive_int, default=10000, help="number of terminals (10000)")
        parser.add_argument("--days", type=positive_int, default=183, help="number of days (183)")
        parser.add_argument(
            "--start", type=date.fromisoformat, default=date(2018, 4, 1), help="first day, YYYY-MM-DD (2018-04-01)"
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
        parser.add_argument(
            "--id-prefix",
            default="",
            help="put before every transaction_id, so that files simulated separately never share an id",
        )
        parser.add_argument("--out", type=Path, required=True, help="CSV file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        from model_package.io import write_transactions
        from model_package.simulate import simulate

        began = time.perf_counter()
        frame = simulate(
            customers=options["customers"],
            terminals=options["terminals"],
            days=options["days"],
            start=options["start"],
            seed=options["seed"],
        )
        if options["id_prefix"]:
            frame["transaction_id"] = options["id_prefix"] + frame["transaction_id"]
        out: Path = options["out"]
        # Written beside the target and renamed: a reader never sees half a file.
        partial = out.with_name(f".{out.name}.partial")
        try:
            write_transactions(frame, partial)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        frauds = int(frame["is_fraud"].sum())
        share = 100 * frauds / max(len(frame), 1)
        self.summary(
            f"{len(frame):,} transactions, {frauds:,} frauds ({share:.2f} %) written to {out} "
            f"in {time.perf_counter() - began:.1f} s"
        )
