"""rescore --verify: prove the audit can be reproduced, prediction by prediction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand, since_bound


class Command(FraudsiteCommand):
    help = (
        "Recompute stored predictions with their own model version (artifact verified by hash): the feature\n"
        "vector from the history as it stood when scored, then the score, decision and reasons from the stored\n"
        "vector; report every one that differs. Exits with status 1\n"
        "if there is any difference, or a model version that cannot be loaded. Nothing is written."
    )
    example = "python manage.py rescore --verify --since 2026-03-01"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--verify", action="store_true", help="recompute and compare (required)")
        parser.add_argument("--since", type=since_bound, help="only predictions scored from this day or time on")

    def handle(self, *args: Any, **options: Any) -> None:
        # pandas and scikit-learn: imported when run, not for --help
        from predictions.services.rescoring import predictions_verify

        if not options["verify"]:
            raise CommandError("rescore only verifies stored predictions (they are append-only): add --verify")
        with self.progress(description="verifying", unit="predictions") as progress:
            result = predictions_verify(since=options["since"], progress=progress)
        for difference in result.differences:
            self.stderr.write(str(difference))
        per_version = ", ".join(f"{version}: {count:,}" for version, count in result.versions.items())
        detail = f" ({per_version})" if per_version else ""
        if result.differences:
            raise CommandError(
                f"{len(result.differences):,} of {result.checked:,} predictions differ from their recomputation{detail}"
            )
        unknown = (
            f"; {result.features_unknown:,} feature vectors not recomputed (a label changed before label events)"
            if result.features_unknown
            else ""
        )
        self.summary(f"{result.checked:,} predictions recomputed, all identical{detail}{unknown}")
