"""backtest: replay a period's stored transactions with a candidate model and thresholds; writes nothing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand, positive_int, since_bound, until_bound
from predictions.services.evaluation import DEFAULT_K


def score_bound(value: str) -> float:
    """argparse type for a threshold: a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a score from 0 to 1, got {value}")
    return number


class Command(FraudsiteCommand):
    help = (
        "Replay the stored transactions of --since..--until with a candidate model version (--model, default\n"
        "the active one) and thresholds (--review/--decline, default the version's), and report against the\n"
        "live decisions of that period: alerts per day, precision and recall at each decision from the labels\n"
        "known now, AUC, AP, CP@k, and the decisions that would change (--out writes them as CSV). Features\n"
        "come from the stored live predictions where the candidate uses the same features, and are recomputed\n"
        "from the stored history where not. Nothing is written to the database."
    )
    example = (
        "python manage.py backtest --since 2026-03-01 --until 2026-03-31 --review 0.3 --decline 0.8 \\\n"
        "    --out var/backtest-changed.csv --plots var/plots"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", type=since_bound, required=True, help="first transaction time included")
        parser.add_argument(
            "--until", type=until_bound, required=True, help="last transaction time (a date: that whole day)"
        )
        parser.add_argument("--model", help="the candidate model version (default: the active one)")
        parser.add_argument(
            "--rules",
            metavar="VERSION",
            help="the candidate's rule set version, or none (default: the active rule set); lists apply as live",
        )
        parser.add_argument("--review", type=score_bound, help="review from this score on (default: the model's)")
        parser.add_argument("--decline", type=score_bound, help="decline from this score on (default: the model's)")
        parser.add_argument(
            "--k",
            type=positive_int,
            default=DEFAULT_K,
            help=f"cards per day for card precision@k (default {DEFAULT_K})",
        )
        parser.add_argument("--out", type=Path, metavar="FILE", help="write the changed decisions here (CSV)")
        parser.add_argument("--plots", type=Path, metavar="DIR", help="write a PNG of the alerts per day here")

    def handle(self, *args: Any, **options: Any) -> None:
        # pandas and scikit-learn: imported when run, not for --help
        from predictions.services.backtest import backtest_changed_csv, backtest_plot, backtest_run, layer_decision
        from predictions.services.comparison import BASELINE, CANDIDATE, comparison_format

        if options["out"] is not None and options["out"].is_dir():
            raise CommandError(f"--out {options['out']} is a directory; give a file name")
        backtest = backtest_run(
            since=options["since"],
            until=options["until"],
            version=options["model"],
            review=options["review"],
            decline=options["decline"],
            k=options["k"],
            decide=layer_decision(options["rules"]),
        )
        candidate = backtest.candidate
        self.stdout.write(
            f"{backtest.comparison.transactions:,} transactions from {backtest.since.isoformat()} to "
            f"{backtest.until.isoformat()}; candidate {candidate.model_version.version} "
            f"(review at {candidate.review:g}, decline at {candidate.decline:g}); features: "
            f"{backtest.from_stored:,} stored, {backtest.recomputed:,} recomputed from history"
        )
        names = {BASELINE: "live", CANDIDATE: "candidate"}
        for line in comparison_format(backtest.comparison, names=names):
            self.stdout.write(line)
        if options["out"] is not None:
            count = backtest_changed_csv(backtest, options["out"])
            self.stdout.write(f"wrote {count:,} changed decisions to {options['out']}")
        if options["plots"] is not None:
            self.stdout.write(f"wrote {backtest_plot(backtest, options['plots'])}")
        self.summary(f"backtest of {backtest.comparison.transactions:,} transactions in {backtest.seconds:.1f} s")
