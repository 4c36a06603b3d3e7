"""Behind a TLS proxy with the SSL redirect on: http is redirected, except the health checks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def behind_a_tls_proxy(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_a_request_over_http_is_redirected_to_https(behind_a_tls_proxy, client):
    response = client.get("/api/v1/transactions/", HTTP_HOST="localhost")

    assert response.status_code == 301
    assert response["Location"] == "https://localhost/api/v1/transactions/"


def test_a_request_the_proxy_marks_https_is_served(behind_a_tls_proxy, client):
    response = client.get("/api/v1/transactions/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 401


def test_a_load_balancer_health_check_over_http_is_answered_not_redirected(behind_a_tls_proxy, client):
    assert client.get("/api/v1/health/live").status_code == 200
    assert client.get("/api/v1/health/ready").status_code != 301


def test_https_answers_carry_hsts_when_it_is_on(behind_a_tls_proxy, settings, client):
    settings.SECURE_HSTS_SECONDS = 3600

    response = client.get("/api/v1/health/live", HTTP_X_FORWARDED_PROTO="https")

    assert response["Strict-Transport-Security"] == "max-age=3600"
