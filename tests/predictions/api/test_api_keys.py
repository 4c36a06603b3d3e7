"""API keys are remembered per worker for FRAUDSITE_AUTH_CACHE_SECONDS: no query to authenticate a known key,
and a key revoked elsewhere stops working within that time (at once where it was revoked)."""

from __future__ import annotations

from unittest import mock

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from predictions.services.clients import api_client_create, api_client_revoke
from predictions.services.events import Actor

URL = "/api/v1/models/"


def _monotonic_after(seconds: float):
    import time

    now = time.monotonic()
    return mock.patch("predictions.services.clients.time.monotonic", return_value=now + seconds)


def test_a_known_key_is_authenticated_and_authorised_without_a_query(analyst_client, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 5
    assert analyst_client.get(URL).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert analyst_client.get(URL).status_code == 200

    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "knox_authtoken" not in tables
    assert "auth_permission" not in tables


def test_a_key_deleted_by_another_worker_passes_for_at_most_the_cache_time(analyst_client, analyst_user, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 5
    assert analyst_client.get(URL).status_code == 200
    AuthToken.objects.filter(user=analyst_user).delete()  # as another process's revocation does

    assert analyst_client.get(URL).status_code == 200
    with _monotonic_after(5.1):
        assert analyst_client.get(URL).status_code == 401


def test_a_role_removed_elsewhere_is_refused_after_the_cache_time(analyst_client, analyst_user, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 5
    assert analyst_client.get(URL).status_code == 200
    analyst_user.groups.remove(Group.objects.get(name="analyst"))

    with _monotonic_after(5.1):
        assert analyst_client.get(URL).status_code == 403


def test_a_key_revoked_in_this_process_stops_at_once(db, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 5
    _, key = api_client_create(name="fraud-desk", role="analyst", actor=Actor.command("test"))
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(URL).status_code == 200

    api_client_revoke(name="fraud-desk", actor=Actor.command("test"))

    assert client.get(URL).status_code == 401


def test_zero_seconds_checks_the_key_on_every_request(analyst_client, analyst_user, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 0
    assert analyst_client.get(URL).status_code == 200
    AuthToken.objects.filter(user=analyst_user).delete()

    assert analyst_client.get(URL).status_code == 401


def test_a_wrong_key_is_never_remembered(analyst_client, settings):
    settings.FRAUDSITE_AUTH_CACHE_SECONDS = 5
    analyst_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)

    assert analyst_client.get(URL).status_code == 401
    assert analyst_client.get(URL).status_code == 401
