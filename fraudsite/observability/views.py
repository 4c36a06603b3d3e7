"""GET /metrics: every worker's metrics in the Prometheus text format, for a metrics token or for loopback.

Access (README, "Metrics"): with METRICS_TOKEN set, `Authorization: Bearer <METRICS_TOKEN>` and nothing else
(401 otherwise, from any address). Without it, only a caller on this host: a loopback address that did not come
through a proxy (a proxy on the same host connects from loopback too, so a request carrying a proxy's header
is refused); 403 for anyone else.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from predictions import metrics
from predictions.models import ModelVersion

# Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever REMOTE_ADDR says.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(_registry()), content_type=content_type)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return None
        response = HttpResponse(
            "401 Unauthorized: send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _from_this_host(request):
        return None
    return HttpResponse(
        "403 Forbidden: /metrics answers loopback only; set METRICS_TOKEN to scrape from elsewhere.\n",
        status=403,
        content_type="text/plain",
    )


def _from_this_host(request: HttpRequest) -> bool:
    proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER[0] if settings.SECURE_PROXY_SSL_HEADER else None
    if any(name in request.META for name in (*_PROXY_HEADERS, proxy_ssl_header) if name):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _registry() -> CollectorRegistry:
    """Every worker's metrics (multiprocess mode, under gunicorn), or this process's; and the active model."""
    registry = CollectorRegistry(auto_describe=False)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ActiveModel())
    return registry


class _ThisProcess:
    """This process's own registry (its metrics, and Python's process and GC collectors)."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


class _ActiveModel:
    """fraudsite_active_model_info{model_version}: the version the database names active, read at each scrape,
    so it is right before any worker has scored with it. Absent when none is active or the database is down."""

    def collect(self) -> Iterator[Metric]:
        try:
            version = ModelVersion.objects.filter(is_active=True).values_list("version", flat=True).first()
        except DatabaseError as exc:
            metrics.database_error(exc)
            return
        if version is not None:
            yield InfoMetricFamily(
                "fraudsite_active_model", "The model version active in the database.", value={"model_version": version}
            )
