"""Root URLs: the admin, the API under /api/v1/, and JSON errors for every other /api/ path."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path, reverse_lazy

from fraudsite.observability.views import metrics_view
from predictions.api.errors import api_not_found

# The admin's "View site" link: the site has no pages of its own beyond the admin and the API.
admin.site.site_url = reverse_lazy("docs")

urlpatterns = [
    path("admin/", admin.site.urls),
    # Prometheus' default metrics_path; README, "Metrics and logs".
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("predictions.api.urls")),
    # Unknown /api/ paths: a JSON 404 even with DEBUG on, where Django's own 404 page is HTML.
    re_path(r"^api/", api_not_found),
    # Log in and out of the browsable API with a session.
    path("api-auth/", include("rest_framework.urls")),
]

handler404 = "predictions.api.errors.handler404"
handler500 = "predictions.api.errors.handler500"
