"""evaluate_model: how a model version did in production, from stored predictions and the labels since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand, positive_int, since_bound, until_bound
from predictions.services.evaluation import (
    DEFAULT_K,
    evaluation_format,
    evaluation_plot,
    model_version_evaluate,
)


class Command(FraudsiteCommand):
    help = (
        "Evaluate a model version (default: the active one) on the transactions it scored, against the labels\n"
        "stored since (reviews, chargebacks): ROC AUC, average precision, card precision@k, and the precision\n"
        "and recall of each decision. Transactions whose label is still unknown are left out and counted.\n"
        "--since/--until take a date (YYYY-MM-DD, --until includes that day) or an ISO 8601 time.\n"
        "--compare: the live (champion) decisions against the challenger's shadow decisions, side by side, on\n"
        "the transactions the challenger scored, and how many decisions would change."
    )
    example = "python manage.py evaluate_model --since 2026-03-01 --until 2026-03-31 --plots var/plots"

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        # Django gives every command --version (its own version); here --version names the model version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--version", dest="model_version", help="model version (default: the active one)")
        parser.add_argument("--since", type=since_bound, help="first transaction time included")
        parser.add_argument("--until", type=until_bound, help="last transaction time (a date: that whole day)")
        parser.add_argument(
            "--k",
            type=positive_int,
            default=DEFAULT_K,
            help=f"cards per day for card precision@k (default {DEFAULT_K})",
        )
        parser.add_argument(
            "--compare",
            action="store_true",
            help="the live decisions against the challenger's, on the transactions the challenger scored",
        )
        parser.add_argument(
            "--plots", type=Path, metavar="DIR", help="write PNG precision-recall and score-histogram charts here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["compare"]:
            self._compare(options)
            return
        evaluation = model_version_evaluate(
            version=options["model_version"], since=options["since"], until=options["until"], k=options["k"]
        )
        self.stdout.write(evaluation_format(evaluation))
        if options["plots"]:
            for path in evaluation_plot(evaluation=evaluation, directory=options["plots"]):
                self.stdout.write(f"wrote {path}")
        self.summary(
            f"evaluated {evaluation.transactions:,} labelled transactions of model version {evaluation.version}"
        )

    def _compare(self, options: dict[str, Any]) -> None:
        from predictions.services.comparison import BASELINE, CANDIDATE, challenger_compare, comparison_format

        if options["model_version"] or options["plots"]:
            raise CommandError("--compare compares the live decisions with the challenger's: no --version or --plots")
        compared = challenger_compare(since=options["since"], until=options["until"], k=options["k"])
        names = {BASELINE: f"live {compared.champion}", CANDIDATE: f"challenger {compared.challenger}"}
        for line in comparison_format(compared.comparison, names=names):
            self.stdout.write(line)
        self.summary(
            f"compared {compared.comparison.transactions:,} transactions scored by the challenger {compared.challenger}"
        )
