"""create_api_client NAME --role scoring|analyst."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_the_new_token_on_its_last_line(active_model_version, transaction_payload):
    lines = run("acme-checkout", "--role", "scoring")

    token = lines[-1]
    assert Token.objects.get(key=token).user.username == "acme-checkout"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 201
    assert client.get("/api/v1/transactions/").status_code == 403


def test_an_analyst_client_may_read_but_not_score(transaction_payload):
    token = run("fraud-desk", "--role", "analyst")[-1]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/transactions/").status_code == 200
    assert client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 403


def test_the_client_has_no_password_and_no_admin_access():
    run("acme", "--role", "scoring")

    user = User.objects.get(username="acme")
    assert not user.has_usable_password()
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["scoring"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("taken", "--role", "scoring"), "a user named 'taken' already exists"),
        (("new-one", "--role", "admin"), "unknown role 'admin': use one of scoring, analyst"),
        (("bad name!", "--role", "scoring"), "'bad name!' is not a valid name: use letters, digits and @ . + - _"),
    ],
)
def test_it_refuses_with_a_one_line_reason_and_creates_nothing(args, message):
    User.objects.create_user(username="taken")

    with pytest.raises(CommandError) as refused:
        run(*args)

    assert str(refused.value) == message
    assert "\n" not in str(refused.value)
    assert User.objects.count() == 1
    assert Token.objects.count() == 0
