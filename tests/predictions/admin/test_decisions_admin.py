"""Lists and rule sets in the admin: analysts add, staff with the permission remove or activate; each change
is an AuditEvent; a rule set that cannot work is a form error."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User

from predictions.models import AuditEvent, ListEntry, RuleSetVersion, Transaction

ENTRIES = "/admin/predictions/listentry/"
RULE_SETS = "/admin/predictions/rulesetversion/"
BIG_AMOUNT = {"name": "big_amount", "condition": {">": [{"var": "amount"}, 1000]}, "decision": "review"}


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


@pytest.fixture
def staff(client, db):
    user = User.objects.create_user("lead", password="pw", is_staff=True)
    codenames = ["view_listentry", "delete_listentry", "view_rulesetversion", "activate_rulesetversion"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def add_entry(client, **fields):
    form = {"list": "block", "field": "terminal_id", "value": "T00042", "reason": "compromised", **fields}
    return client.post(f"{ENTRIES}add/", form)


def test_an_analyst_adds_an_entry_through_the_service_with_an_event(analyst):
    response = add_entry(analyst)

    assert response.status_code == 302
    entry = ListEntry.objects.get()
    assert (entry.value, entry.author, entry.removed_at) == ("T00042", "analyst", None)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.via) == ("list.added", "analyst", "admin")


def test_an_expiry_in_the_past_is_a_form_error(analyst):
    response = add_entry(analyst, expires_at_0="2020-01-01", expires_at_1="00:00:00")

    assert response.status_code == 200
    assert "The expiry must be in the future." in response.content.decode()
    assert not ListEntry.objects.exists()


def test_an_analyst_may_not_remove_an_entry(client, analyst_user):
    client.force_login(analyst_user)
    add_entry(client)
    entry = ListEntry.objects.get()

    client.post(ENTRIES, {"action": "remove", "_selected_action": [entry.pk]})

    assert ListEntry.objects.get().removed_at is None
    assert client.post(f"{ENTRIES}{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_staff_remove_an_entry_which_stays_marked_removed(analyst_user, staff, client):
    client.force_login(analyst_user)
    add_entry(client)
    entry = ListEntry.objects.get()
    client.force_login(User.objects.get(username="lead"))

    client.post(ENTRIES, {"action": "remove", "_selected_action": [entry.pk]})

    entry.refresh_from_db()
    assert (entry.removed_by, entry.removed_at is not None) == ("lead", True)
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor")) == [
        ("list.added", "analyst"),
        ("list.removed", "lead"),
    ]


def test_a_rule_set_that_cannot_work_is_a_form_error(analyst):
    bad = {**BIG_AMOUNT, "condition": {">": [{"var": "amont"}, 1000]}}

    response = analyst.post(f"{RULE_SETS}add/", {"version": "r1", "description": "", "rules": json.dumps([bad])})

    assert response.status_code == 200
    assert "unknown name &#x27;amont&#x27;" in response.content.decode()
    assert not RuleSetVersion.objects.exists()


def test_an_analyst_writes_a_rule_set_and_staff_activate_it(analyst_user, staff, client):
    client.force_login(analyst_user)
    form = {"version": "r1", "description": "big amounts", "rules": json.dumps([BIG_AMOUNT])}
    assert client.post(f"{RULE_SETS}add/", form).status_code == 302
    rule_set = RuleSetVersion.objects.get()
    client.post(RULE_SETS, {"action": "activate", "_selected_action": [rule_set.pk]})
    assert RuleSetVersion.objects.get().is_active is False  # analysts may not activate

    client.force_login(User.objects.get(username="lead"))
    client.post(RULE_SETS, {"action": "activate", "_selected_action": [rule_set.pk]})

    assert RuleSetVersion.objects.get().is_active is True
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor", "via")) == [
        ("rules.created", "analyst", "admin"),
        ("rules.activated", "lead", "admin"),
    ]


def test_the_transaction_page_shows_the_list_entry_and_the_rules_that_decided(
    analyst, active_model_version, scoring_client, transaction_payload
):
    add_entry(analyst, reason="case 118")
    body = transaction_payload(terminal_id="T00042")
    assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201
    transaction = Transaction.objects.get(transaction_id=body["transaction_id"])

    page = analyst.get(f"/admin/predictions/transaction/{transaction.pk}/change/").content.decode()

    assert "the block list: terminal_id T00042 (case 118)" in page
    assert '<td id="prediction-rules">none</td>' in page
