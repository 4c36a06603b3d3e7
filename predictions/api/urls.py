"""/api/v1/ routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from rest_framework.routers import SimpleRouter

from predictions.api.docs import SchemaView, SwaggerView
from predictions.api.views import HealthLiveView, HealthReadyView, ModelVersionViewSet, TransactionViewSet

# SimpleRouter: no format-suffix routes, since transaction ids may contain dots.
router = SimpleRouter()
router.register("transactions", TransactionViewSet, basename="transaction")
router.register("models", ModelVersionViewSet, basename="modelversion")

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^health/live/?$", HealthLiveView.as_view(), name="health-live"),
    re_path(r"^health/ready/?$", HealthReadyView.as_view(), name="health-ready"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
    # Analyst workflow endpoints (predictions/api/labels.py) below this line.
    path("", include("predictions.api.labels")),
    path("", include("predictions.api.decisions")),
]
