"""Template tags for the analysts' admin pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from predictions.selectors import Dashboard, dashboard_figures

if TYPE_CHECKING:
    from predictions.admin.charts import DashboardCharts

register = template.Library()

DASHBOARD_PERMISSION = "predictions.view_prediction"


@register.simple_tag(takes_context=True)
def review_dashboard(context: template.Context) -> Dashboard | None:
    """The admin index's figures for users who may see predictions; None for everyone else."""
    request = context.get("request")
    if request is None or not request.user.has_perm(DASHBOARD_PERMISSION):
        return None
    return dashboard_figures()


@register.simple_tag(takes_context=True)
def review_charts(context: template.Context) -> DashboardCharts | None:
    """The dashboard's charts of the last 30 days, for the same users as review_dashboard."""
    request = context.get("request")
    if request is None or not request.user.has_perm(DASHBOARD_PERMISSION):
        return None
    from predictions.admin.charts import dashboard_charts  # numpy and matplotlib: loaded on the first visit

    return dashboard_charts()
