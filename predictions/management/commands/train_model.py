"""train_model: train a model from a file or from the stored, labelled transactions, and register it."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand, positive_int, since_bound, until_bound
from predictions.services.events import Actor


class Command(FraudsiteCommand):
    help = (
        "Train a fraud model with the time-ordered protocol (train 28 days, skip a 7-day label delay, test\n"
        "7 days), save the artifact under FRAUDSITE_MODEL_DIR, register it as a model version and print its\n"
        "metrics. Data: a CSV file with is_fraud (--data), or the stored transactions (--from-db), where a\n"
        "transaction labelled fraud (by review, chargeback or history) counts as fraud and any other as not.\n"
        "A model whose thresholds would send nothing to review is refused. Training the same data with the\n"
        "same options again registers nothing new."
    )
    example = (
        "python manage.py train_model --data var/history.csv --algorithm rf\n"
        "python manage.py train_model --from-db --since 2026-01-01 --until 2026-03-31 --activate"
    )

    def add_arguments(self, parser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--data", type=Path, metavar="FILE", help="transactions CSV with an is_fraud column")
        source.add_argument("--from-db", action="store_true", help="train on the stored transactions and labels")
        parser.add_argument("--since", type=since_bound, help="with --from-db: first day (YYYY-MM-DD) or time")
        parser.add_argument("--until", type=until_bound, help="with --from-db: last day, included, or an end time")
        parser.add_argument(
            "--algorithm",
            choices=("rf", "logreg", "hgb"),
            help="model family (default: model_package's default model, the tuned hgb)",
        )
        parser.add_argument(
            "--alert-budget",
            type=positive_int,
            default=100,
            help="cards analysts can check per day: k of card precision@k and the review threshold (100)",
        )
        parser.add_argument(
            "--precision-target",
            type=float,
            default=0.8,
            help="precision the decline threshold aims at on the test days (0.8)",
        )
        parser.add_argument(
            "--train-start",
            type=date.fromisoformat,
            help="first training day, YYYY-MM-DD (default: the latest that fits train + delay + test)",
        )
        parser.add_argument("--activate", action="store_true", help="make the new version the active one")

    def handle(self, *args: Any, **options: Any) -> None:
        # pandas and scikit-learn: imported when run, not for --help
        from predictions.services.training import TrainingOptions, model_train_from_db, model_train_from_file

        if not 0 < options["precision_target"] < 1:
            raise CommandError(f"--precision-target must be between 0 and 1, got {options['precision_target']}")
        training = TrainingOptions(
            algorithm=options["algorithm"],
            alert_budget=options["alert_budget"],
            precision_target=options["precision_target"],
            train_start=options["train_start"],
        )
        activate_by = Actor.command("train_model") if options["activate"] else None
        began = time.perf_counter()
        if options["from_db"]:
            if options["since"] is None or options["until"] is None:
                raise CommandError("--from-db needs --since and --until")
            outcome = model_train_from_db(
                since=options["since"], until=options["until"], options=training, activate_by=activate_by
            )
        else:
            if options["since"] or options["until"]:
                raise CommandError("--since and --until go with --from-db; --data trains on the whole file")
            outcome = model_train_from_file(path=options["data"], options=training, activate_by=activate_by)
        self.stdout.write(outcome.metrics_table)
        version = outcome.model_version
        if outcome.created:
            state = "registered and activated" if outcome.activated else "registered"
        else:
            state = "already registered (same data and options)" + ("; activated" if outcome.activated else "")
        if not version.is_active:
            state += f"; activate it with: python manage.py activate_model {version.version}"
        self.summary(
            f"model {version.version} {state} ({outcome.rows:,} transactions, {time.perf_counter() - began:.1f} s)"
        )
