"""One JSON error shape for every 4xx/5xx under /api/, including Django's own 404 and 500, and 429."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from predictions.api.errors import handler404, handler500
from predictions.models import ScoringRequest

ERROR_KEYS = {"status", "code", "detail", "fields", "request_id"}


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/elsewhere", "/api/v1/transactions/a/b/c/"])
def test_an_unknown_api_path_is_a_json_404_even_in_debug(analyst_client, settings, debug, path):
    settings.DEBUG = debug

    response = analyst_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_method_not_allowed_is_a_json_405(analyst_client):
    response = analyst_client.put("/api/v1/transactions/", {}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert ScoringRequest.objects.count() == 0  # PUT transactions/ is not a scoring request


def test_djangos_404_and_500_views_answer_json_under_api_and_html_elsewhere():
    factory = RequestFactory()

    assert handler404(factory.get("/api/v1/x"), Exception()).status_code == 404
    assert handler404(factory.get("/api/v1/x"), Exception())["Content-Type"] == "application/json"
    api_500 = handler500(factory.get("/api/v1/x"))
    assert api_500.status_code == 500
    assert api_500["Content-Type"] == "application/json"
    assert "text/html" in handler500(factory.get("/admin/"))["Content-Type"]


@pytest.mark.django_db
def test_a_client_over_its_rate_is_throttled_with_429_and_retry_after(
    scoring_client, active_model_version, transaction_payload, settings
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "scoring": "2/minute", "analyst": None},
    }
    cache.clear()

    answers = [scoring_client.post("/api/v1/transactions/", transaction_payload(), format="json") for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    error = answers[2].json()
    assert error["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0
    assert ScoringRequest.objects.filter(status_code=429).count() == 1
    cache.clear()


@pytest.mark.django_db
def test_the_analyst_rate_is_separate_from_the_scoring_rate(analyst_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "scoring": None, "analyst": "1/minute"},
    }
    cache.clear()

    statuses = [analyst_client.get("/api/v1/models/").status_code for _ in range(2)]

    assert statuses == [200, 429]
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/models/", "/api/v1/health/live/", "/api/v1/transactions/"])
def test_an_accept_header_for_anything_but_json_is_a_json_406(analyst_client, active_model_version, path):
    response = analyst_client.get(path, HTTP_ACCEPT="text/csv")

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_acceptable"
