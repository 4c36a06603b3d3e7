"""The API's own pages as a person meets them: Swagger UI, the browsable API, and a token sent the wrong way."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SCORING_FORM = b'<form action="/api/v1/transactions/" method="POST"'  # the browsable API's POST form


def test_swagger_ui_without_a_session_sends_the_visitor_to_log_in_and_back(client, analyst_user):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/v1/docs/"

    client.force_login(analyst_user)
    assert client.get("/api/v1/docs/").status_code == 200


def test_the_browsable_api_offers_an_analyst_no_scoring_form(client, analyst_user):
    client.force_login(analyst_user)

    page = client.get("/api/v1/transactions/", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert b"Transaction List" in page.content
    assert SCORING_FORM not in page.content
    assert b">POST</button>" not in page.content


def test_the_browsable_api_offers_the_scoring_form_to_a_user_who_may_score(client):
    client.force_login(User.objects.create_superuser("root", password="x"))

    page = client.get("/api/v1/transactions/", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert SCORING_FORM in page.content


@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "token-"])
def test_a_key_sent_with_another_scheme_is_told_which_scheme_to_use(scheme, analyst_user):
    _, key = AuthToken.objects.create(user=analyst_user, expiry=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")

    response = client.get("/api/v1/models/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert "Authorization: Token <key>" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_the_same_key_with_the_token_scheme_passes(analyst_user):
    _, key = AuthToken.objects.create(user=analyst_user, expiry=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/v1/models/").status_code == 200
