"""GET health/live and health/ready: open to anyone, ready only with a database and a verified model."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from predictions.models import ModelVersion


def test_live_answers_without_credentials(client):
    response = client.get("/api/v1/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_names_the_active_model_version(client, active_model_version):
    response = client.get("/api/v1/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": active_model_version.version}


@pytest.mark.django_db
def test_health_ignores_a_bad_token_and_takes_a_trailing_slash(client, active_model_version):
    response = client.get("/api/v1/health/ready/", HTTP_AUTHORIZATION="Token nonsense")

    assert response.status_code == 200


@pytest.mark.django_db
def test_ready_is_503_without_an_active_model(client):
    response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"


@pytest.mark.django_db
def test_ready_is_503_when_the_active_artifact_fails_its_hash(client, active_model_version):
    ModelVersion.objects.filter(pk=active_model_version.pk).update(artifact_sha256="0" * 64)

    response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert active_model_version.version in response.json()["detail"]


@pytest.mark.django_db
def test_ready_is_503_when_the_database_cannot_be_reached(client, active_model_version):
    with mock.patch("predictions.api.views.connection") as connection:
        connection.cursor.side_effect = OperationalError("connection refused by 10.0.0.7")
        response = client.get("/api/v1/health/ready")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert "10.0.0.7" not in response.content.decode()
