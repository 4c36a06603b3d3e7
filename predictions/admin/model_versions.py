"""Model versions: metrics and thresholds side by side, and activation for those allowed to manage models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from predictions.admin.base import ReadOnlyAdmin
from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.model_versions import (
    ModelVersionError,
    model_version_activate,
    model_version_challenger_set,
)

ACTIVATE_PERMISSION = "predictions.activate_modelversion"
COMPARE_DAYS = 30  # the model version page compares a challenger on this many days of shadow predictions
# The headline metrics, as model_package.evaluate names them; the page shows every metric stored.
DRIFT_REFERENCE = "reference"  # model_package.train keeps it in the metrics
HEADLINE_METRICS = {"auc": "AUC", "average_precision": "AP", "card_precision_at_k": "CP@k"}


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metric dicts as ("test auc", 0.87) rows, in their stored order."""
    rows: list[tuple[str, Any]] = []
    for name, value in metrics.items():
        label = f"{prefix}{name}"
        if isinstance(value, Mapping):
            rows.extend(flat_metrics(value, prefix=f"{label} "))
        else:
            rows.append((label, value))
    return rows


def headline_metric(metrics: Mapping[str, Any], name: str) -> Any:
    """A metric at the top level, or else in the test-period block; None when absent."""
    if name in metrics and not isinstance(metrics[name], Mapping):
        return metrics[name]
    test = metrics.get("test")
    return test.get(name) if isinstance(test, Mapping) else None


def shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "version",
        "is_active",
        "is_challenger",
        "algorithm",
        "trained_at",
        "auc",
        "average_precision",
        "card_precision",
        "review_threshold",
        "decline_threshold",
    )
    list_filter = ("is_active", "is_challenger", "algorithm")
    search_fields = ("=version",)
    actions = ["activate", "make_challenger", "remove_challenger"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "version",
                    "is_active",
                    "is_challenger",
                    "activated_at",
                    "algorithm",
                    "trained_at",
                    "registered_at",
                ]
            },
        ),
        ("Quality and decisions", {"fields": ["metrics_and_thresholds"]}),
        (
            f"Against the live decisions, as challenger (the last {COMPARE_DAYS} days)",
            {"fields": ["challenger_comparison"]},
        ),
        (
            "Provenance",
            {
                "fields": [
                    "artifact_path",
                    "artifact_sha256",
                    "training_window",
                    "training_fingerprint",
                    "parameters",
                    "feature_names",
                ]
            },
        ),
    ]
    readonly_fields = ("metrics_and_thresholds", "challenger_comparison")

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    def get_urls(self):
        activate = self.admin_site.admin_view(require_POST(self.activate_view))
        return [
            path("<path:object_id>/activate/", activate, name="predictions_modelversion_activate"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        context = {
            "can_activate": self.has_activate_permission(request),
            "activate_url": reverse("admin:predictions_modelversion_activate", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    @admin.display(description="AUC")
    def auc(self, version: ModelVersion) -> str:
        return shown(headline_metric(version.metrics, "auc"))

    @admin.display(description="AP")
    def average_precision(self, version: ModelVersion) -> str:
        return shown(headline_metric(version.metrics, "average_precision"))

    @admin.display(description="CP@k")
    def card_precision(self, version: ModelVersion) -> str:
        return shown(headline_metric(version.metrics, "card_precision_at_k"))

    @admin.display(description="review at")
    def review_threshold(self, version: ModelVersion) -> str:
        return shown(version.thresholds.get("review"))

    @admin.display(description="decline at")
    def decline_threshold(self, version: ModelVersion) -> str:
        return shown(version.thresholds.get("decline"))

    @admin.display(description="metrics and thresholds")
    def metrics_and_thresholds(self, version: ModelVersion):
        """Two tables next to each other: every stored metric, and the thresholds decisions are taken with."""
        # The drift reference (binned training distributions) is data for the dashboard, not a metric.
        metrics = {name: value for name, value in version.metrics.items() if name != DRIFT_REFERENCE}
        metric_rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((n, shown(v)) for n, v in flat_metrics(metrics))
        )
        threshold_rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((f"{name} at score ≥", shown(value)) for name, value in version.thresholds.items()),
        )
        return format_html(
            '<div class="metrics-thresholds" style="display:flex;gap:2em;align-items:flex-start">'
            "<table><caption>Metrics</caption>{}</table>"
            "<table><caption>Thresholds</caption>{}</table></div>",
            metric_rows or format_html("<tr><td>none stored</td></tr>"),
            threshold_rows,
        )

    @admin.display(description="champion against challenger")
    def challenger_comparison(self, version: ModelVersion):
        """evaluate_model --compare for this version's shadow predictions of the last COMPARE_DAYS days."""
        from predictions.services.comparison import BASELINE, CANDIDATE, challenger_compare, comparison_format
        from predictions.services.evaluation import EvaluationError

        try:
            compared = challenger_compare(
                challenger=version, since=timezone.now() - timedelta(days=COMPARE_DAYS), until=timezone.now()
            )
        except EvaluationError:
            return f"no shadow predictions of this version in the last {COMPARE_DAYS} days"
        names = {BASELINE: f"live {compared.champion}", CANDIDATE: f"challenger {compared.challenger}"}
        return format_html("<pre>{}</pre>", "\n".join(comparison_format(compared.comparison, names=names)))

    @admin.action(description="Activate the selected model version", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        versions = list(queryset.values_list("version", flat=True)[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one model version to activate.", messages.ERROR)
            return
        self._activate(request, versions[0])

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Activate button on a version's page."""
        if not self.has_activate_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        self._activate(request, version.version)
        return HttpResponseRedirect(reverse("admin:predictions_modelversion_change", args=[version.pk]))

    def _activate(self, request: HttpRequest, version: str) -> None:
        try:
            model_version_activate(version=version, actor=Actor.user(request.user, via="admin"))
        except ModelVersionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Model version {version} is now active; new requests score with it.")

    @admin.action(description="Make the selected model version the challenger (shadow)", permissions=["activate"])
    def make_challenger(self, request: HttpRequest, queryset: QuerySet) -> None:
        versions = list(queryset.values_list("version", flat=True)[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one model version to make the challenger.", messages.ERROR)
            return
        self._set_challenger(request, versions[0])

    @admin.action(description="Stop scoring a challenger", permissions=["activate"])
    def remove_challenger(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_challenger(request, None)

    def _set_challenger(self, request: HttpRequest, version: str | None) -> None:
        try:
            model_version_challenger_set(version=version, actor=Actor.user(request.user, via="admin"))
        except ModelVersionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if version is None:
            self.message_user(request, "No challenger: new requests score with the active model alone.")
        else:
            self.message_user(request, f"Model version {version} is the challenger; new requests also score it.")
