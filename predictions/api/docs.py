"""schema/ and docs/: drf-spectacular's views, with their errors in the API's one JSON error shape."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class _JSONErrors:
    """An error answer is JSON, whatever this view renders when it succeeds (YAML, Swagger UI's HTML).

    Without it, a client without a token gets its 401 as YAML from schema/ and as plain text from docs/.
    Only GET (and HEAD): DRF's OPTIONS answer rendered as Swagger UI's page was a 500.
    """

    request: Any
    http_method_names = ["get", "head"]

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)  # type: ignore[misc]


class SchemaView(_JSONErrors, SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON with Accept: application/vnd.oai.openapi+json or ?format=json)."""


class SwaggerView(_JSONErrors, SpectacularSwaggerView):
    """Swagger UI over schema/: a page for people, so a visitor without credentials is sent to log in.

    A wrong or unknown token is still a JSON 401: only a request that sent no credentials at all is
    a visitor whose browser can log in, and comes back here after (`next=`).
    """

    def handle_exception(self, exc: Exception) -> Response | HttpResponseRedirect:
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path(), login_url=reverse("admin:login"))
        return super().handle_exception(exc)
