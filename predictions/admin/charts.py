"""The dashboard's charts, drawn on the server as inline SVG (matplotlib, no script and no CDN).

Drawing four charts takes a few hundred milliseconds, so the rendered SVG is cached for CHART_CACHE_SECONDS:
the figures are for a day's trend, not for the last second. matplotlib is imported only here, when the admin
index is first drawn: the scoring path never loads it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

from model_package.drift import DRIFT_PSI, SCORE_HISTOGRAM_BINS, score_histogram
from predictions.selectors import DailyActivity, Drift, active_model_drift, daily_activity

CHART_CACHE_KEY = "admin-dashboard-charts"
CHART_CACHE_SECONDS = 60
WIDTH = 6.4  # inches at 72 dpi: about 460 px, two charts side by side in the admin's content area
RED, BLUE, GREY, GREEN, ORANGE = "#ba2121", "#417690", "#9aa5ad", "#3b7d3b", "#d98b1d"


@dataclass(frozen=True)
class DashboardCharts:
    activity: SafeString
    precision: SafeString
    scores: SafeString
    drift: SafeString
    model_version: str | None
    has_reference: bool
    drifting: list[str]  # the names whose PSI is over DRIFT_PSI
    psi: dict[str, float]


def dashboard_charts() -> DashboardCharts:
    """The charts of the last 30 days, from the cache when drawn less than CHART_CACHE_SECONDS ago."""
    charts = cache.get(CHART_CACHE_KEY)
    if charts is None:
        charts = draw_charts(daily_activity(), active_model_drift())
        cache.set(CHART_CACHE_KEY, charts, CHART_CACHE_SECONDS)
    return charts


def draw_charts(days: Sequence[DailyActivity], drift: Drift) -> DashboardCharts:
    return DashboardCharts(
        activity=_activity_chart(days),
        precision=_precision_chart(days),
        scores=_score_chart(drift),
        drift=_drift_chart(drift),
        model_version=drift.model_version,
        has_reference=drift.reference is not None,
        drifting=[name for name, value in drift.psi.items() if value > DRIFT_PSI],
        psi=drift.psi,
    )


def _figure(height: float, rows: int = 1, *, left: float = 0.6):
    """A figure with rows of axes; margins in inches, set by hand (constrained layout doubles the drawing time)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=72)
    figure.subplots_adjust(
        left=left / WIDTH,
        right=1 - 0.15 / WIDTH,
        top=1 - 0.3 / height,
        bottom=0.45 / height,
        hspace=0.9 / height * rows,
    )
    return figure, figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]


def _svg(figure, title: str) -> SafeString:
    """The figure as an <svg> element, its text kept as text (searchable, and a tenth of the bytes)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # The SVG is ours, drawn from numbers and names: safe to inline.
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1))


def _title(axis, text: str) -> None:
    # A fixed y spares matplotlib placing the title around the ticks at every draw (a third of the time).
    axis.set_title(text, loc="left", fontsize=10, y=1.0, pad=4)


def _day_labels(axis, days: Sequence[DailyActivity]) -> None:
    axis.set_xticks(range(0, len(days), 7), [days[i].day.strftime("%m-%d") for i in range(0, len(days), 7)])


def _activity_chart(days: Sequence[DailyActivity]) -> SafeString:
    figure, (top, bottom) = _figure(3.6, rows=2)
    x = np.arange(len(days))
    top.bar(x, [d.scored for d in days], color=GREY)
    _title(top, "Scored per day (UTC)")
    for values, label, color in (
        ([d.flagged for d in days], "flagged", ORANGE),
        ([d.reviewed for d in days], "reviewed", BLUE),
        ([d.confirmed_fraud for d in days], "confirmed fraud", RED),
    ):
        bottom.plot(x, values, marker=".", label=label, color=color)
    _title(bottom, "Flagged, reviewed and confirmed fraud per day")
    bottom.legend(fontsize=8, loc="upper left")
    bottom.set_ylim(bottom=0)
    _day_labels(bottom, days)
    return _svg(figure, "Scored, flagged, reviewed and confirmed fraud per day")


def _precision_chart(days: Sequence[DailyActivity]) -> SafeString:
    figure, (axis,) = _figure(2.4)
    values = [np.nan if d.flag_precision is None else d.flag_precision for d in days]
    axis.plot(np.arange(len(days)), values, marker="o", color=GREEN)
    axis.set_ylim(0, 1.05)
    _title(axis, "Flag precision per day: fraud among flagged with a known label")
    if all(np.isnan(values)):
        axis.text(0.5, 0.5, "no flagged transaction has a label yet", ha="center", transform=axis.transAxes)
    _day_labels(axis, days)
    return _svg(figure, "Flag precision per day")


def _score_chart(drift: Drift) -> SafeString:
    figure, (axis,) = _figure(2.4)
    centres = (np.arange(SCORE_HISTOGRAM_BINS) + 0.5) / SCORE_HISTOGRAM_BINS
    width = 1 / SCORE_HISTOGRAM_BINS
    _title(axis, f"Score histogram, active model ({drift.model_version or 'none'})")
    if drift.scores:
        axis.bar(
            centres, score_histogram(np.asarray(drift.scores)), width=width, color=BLUE, alpha=0.6, label="last 30 days"
        )
    if drift.reference:
        axis.step(centres, drift.reference["score"]["histogram"], where="mid", color=RED, label="training")
    if drift.scores or drift.reference:
        axis.set_yscale("log")
        axis.legend(fontsize=8)
    if not drift.reference:
        axis.text(0.5, 0.8, "no reference: the model kept no training scores", ha="center", transform=axis.transAxes)
    axis.set_xlim(0, 1)
    axis.set_xlabel("score (share of transactions, log scale)", fontsize=8)
    return _svg(figure, "Score histogram against the training scores")


def _drift_chart(drift: Drift) -> SafeString:
    names = list(drift.psi)
    figure, (axis,) = _figure(max(1.6, 0.2 * len(names) + 0.8), left=3.3)
    _title(axis, f"Drift (PSI) against training; over {DRIFT_PSI} in red")
    if not names:
        reason = "no reference: the model kept no training data" if not drift.reference else "no recent prediction"
        axis.text(0.5, 0.5, reason, ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return _svg(figure, "Drift: " + reason)
    values = [drift.psi[name] for name in names]
    y = np.arange(len(names))[::-1]
    axis.barh(y, values, color=[RED if v > DRIFT_PSI else GREY for v in values])
    axis.set_yticks(y, [f"{name}  {value:.3f}" for name, value in zip(names, values, strict=True)], fontsize=7)
    axis.axvline(DRIFT_PSI, color=RED, linestyle="--", linewidth=1)
    return _svg(figure, "Drift: PSI of the score and of each feature")
