"""list_models: the registered model versions as a table, the active one marked."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from predictions.management.base import FraudsiteCommand
from predictions.models import ModelVersion

COLUMNS = ("", "version", "algorithm", "trained", "AUC", "AP", "CP@k", "review", "decline")


class Command(FraudsiteCommand):
    help = (
        "List the registered model versions, newest first, with their metrics on the test days (ROC AUC,\n"
        "average precision, card precision@k) and decision thresholds. The active version is marked with *,\n"
        "the challenger with c."
    )
    example = "python manage.py list_models\npython manage.py activate_model $(python manage.py list_models --newest)"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--newest", action="store_true", help="print only the newest version's name (for scripts)")

    def handle(self, *args: Any, **options: Any) -> None:
        versions = list(ModelVersion.objects.order_by("-registered_at", "-id"))
        if options["newest"]:
            if not versions:
                raise CommandError("no model versions registered (train one with train_model)")
            self.stdout.write(versions[0].version)
            return
        if not versions:
            self.summary("no model versions registered (train one with train_model)")
            return
        rows = [COLUMNS, *(_row(version) for version in versions)]
        self.table(rows)
        active = next((v.version for v in versions if v.is_active), None)
        challenger = next((v.version for v in versions if v.is_challenger), None)
        shadow = f", challenger (c): {challenger}" if challenger else ""
        self.summary(f"{len(versions)} model versions, active: {active or 'none'}{shadow}")


def _row(version: ModelVersion) -> tuple[str, ...]:
    metrics = version.metrics  # the test window's headline figures (model_package.train)
    return (
        "*" if version.is_active else "c" if version.is_challenger else "",
        version.version,
        version.algorithm,
        f"{version.trained_at:%Y-%m-%d %H:%M}",
        _number(metrics.get("auc")),
        _number(metrics.get("average_precision")),
        _number(metrics.get("card_precision_at_k")) + (f" @{metrics['k']}" if "k" in metrics else ""),
        _number(version.thresholds.get("review")),
        _number(version.thresholds.get("decline")),
    )


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
