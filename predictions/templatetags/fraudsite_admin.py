"""Template tags for the analysts' admin pages."""

from __future__ import annotations

from django import template

from predictions.selectors import Dashboard, dashboard_figures

register = template.Library()

DASHBOARD_PERMISSION = "predictions.view_prediction"


@register.simple_tag(takes_context=True)
def review_dashboard(context: template.Context) -> Dashboard | None:
    """The admin index's figures for users who may see predictions; None for everyone else."""
    request = context.get("request")
    if request is None or not request.user.has_perm(DASHBOARD_PERMISSION):
        return None
    return dashboard_figures()
