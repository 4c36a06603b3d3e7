"""create_api_client NAME --role scoring|analyst, --rotate, --revoke; list_api_clients. Keys are stored hashed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from predictions.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out)
    return out.getvalue().splitlines()


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_it_prints_the_new_key_on_its_last_line(active_model_version, transaction_payload):
    lines = run("acme-checkout", "--role", "scoring")

    client = _client(lines[-1])
    assert client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 201
    assert client.get("/api/v1/transactions/").status_code == 403


def test_an_analyst_client_may_read_but_not_score(transaction_payload):
    client = _client(run("fraud-desk", "--role", "analyst")[-1])

    assert client.get("/api/v1/transactions/").status_code == 200
    assert client.post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 403


def test_the_client_has_no_password_and_no_admin_access():
    run("acme", "--role", "scoring")

    user = User.objects.get(username="acme")
    assert not user.has_usable_password()
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["scoring"]


def _database_text() -> str:
    """Every value of every table, as text: what someone holding the database or a backup can read."""
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            cells.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(cells)


def test_no_key_can_be_read_from_the_database(active_model_version, transaction_payload):
    created = run("acme", "--role", "scoring")[-1]
    rotated = run("acme", "--rotate")[-1]
    assert _client(rotated).post("/api/v1/transactions/", transaction_payload(), format="json").status_code == 201

    text = _database_text()

    assert len(created) == len(rotated) == 64
    assert created not in text
    assert rotated not in text


def test_rotating_gives_a_new_key_and_the_old_one_stops_working():
    old = run("acme", "--role", "analyst")[-1]

    new = run("acme", "--rotate")[-1]

    assert new != old
    assert _client(old).get("/api/v1/transactions/").status_code == 401
    assert _client(new).get("/api/v1/transactions/").status_code == 200


def test_revoking_stops_the_key_and_rotating_brings_the_client_back():
    key = run("acme", "--role", "analyst")[-1]

    run("acme", "--revoke")

    assert _client(key).get("/api/v1/transactions/").status_code == 401
    assert AuthToken.objects.count() == 0
    again = run("acme", "--rotate")[-1]
    assert _client(again).get("/api/v1/transactions/").status_code == 200


def test_each_change_writes_an_audit_event_with_the_operator():
    run("acme", "--role", "scoring")
    run("acme", "--rotate")
    run("acme", "--revoke")

    events = list(AuditEvent.objects.order_by("pk").values_list("action", "target_id", "via"))
    assert events == [
        ("client.created", "acme", "create_api_client"),
        ("client.rotated", "acme", "create_api_client"),
        ("client.revoked", "acme", "create_api_client"),
    ]
    revoked = AuditEvent.objects.get(action="client.revoked")
    assert revoked.before["active"] is True
    assert revoked.after == {"active": False, "key_prefix": ""}


def test_list_api_clients_shows_role_state_and_prefix_but_never_the_key():
    key = run("acme", "--role", "scoring")[-1]
    run("desk", "--role", "analyst")
    run("desk", "--revoke")
    out = StringIO()

    call_command("list_api_clients", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["name", "role", "state", "key", "key", "created"]
    assert lines[1].split()[:4] == ["acme", "scoring", "active", f"{key[:8]}..."]
    assert lines[2].split()[:4] == ["desk", "analyst", "revoked", "-"]
    assert key not in out.getvalue()
    assert lines[-1] == "2 API clients"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("taken", "--role", "scoring"), "a user named 'taken' already exists"),
        (("new-one", "--role", "admin"), "unknown role 'admin': use one of scoring, analyst"),
        (("bad name!", "--role", "scoring"), "'bad name!' is not a valid name: use letters, digits and @ . + - _"),
        (("new-one",), "--role is required for a new client: one of scoring, analyst"),
        (("nobody", "--rotate"), "no API client named 'nobody' (list_api_clients shows them)"),
        (("taken", "--revoke"), "no API client named 'taken' (list_api_clients shows them)"),
        (("taken", "--revoke", "--role", "analyst"), "--role is for a new client; --revoke keeps the client's role"),
        (("taken", "--rotate", "--role", "analyst"), "no API client named 'taken' (list_api_clients shows them)"),
    ],
)
def test_it_refuses_with_a_one_line_reason_and_changes_nothing(args, message):
    User.objects.create_user(username="taken")  # a person, not an API client

    with pytest.raises(CommandError) as refused:
        run(*args)

    assert str(refused.value) == message
    assert "\n" not in str(refused.value)
    assert User.objects.count() == 1
    assert AuthToken.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_role_and_rotate_give_a_working_key_on_every_run_and_only_the_last_one_works():
    """The README's `create_api_client fraud-desk --role analyst --rotate`, run twice."""
    first = run("fraud-desk", "--role", "analyst", "--rotate")
    second = run("fraud-desk", "--role", "analyst", "--rotate")

    assert first[0] == "Created API client 'fraud-desk' with role analyst. Its key:"
    assert second[0] == "API client 'fraud-desk' has a new key. Its key:"
    assert _client(first[-1]).get("/api/v1/transactions/").status_code == 401
    assert _client(second[-1]).get("/api/v1/transactions/").status_code == 200
    assert User.objects.filter(username="fraud-desk").count() == 1
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "client.created",
        "client.rotated",
    ]


def test_role_and_rotate_refuse_to_change_an_existing_clients_role():
    key = run("acme", "--role", "scoring")[-1]

    with pytest.raises(CommandError) as refused:
        run("acme", "--role", "analyst", "--rotate")

    assert str(refused.value) == "API client 'acme' has the role scoring, not analyst: roles are not changed here"
    assert AuthToken.objects.get().digest  # the one key is still there
    assert _client(key).get("/api/v1/models/").status_code == 403  # and still signs in as the scoring client
