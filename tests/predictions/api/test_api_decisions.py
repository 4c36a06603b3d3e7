"""The decision layer through the API: lists/ and rule-sets/, and what a scoring request answers and stores."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from knox.models import AuthToken
from rest_framework.test import APIClient

from model_package.predict import Model, Scored
from predictions.models import AuditEvent, ListEntry, Prediction, RuleSetVersion

pytestmark = pytest.mark.django_db

SCORE = "/api/v1/transactions/"
LISTS = "/api/v1/lists/"
RULE_SETS = "/api/v1/rule-sets/"
BIG_AMOUNT = {"name": "big_amount", "condition": {">": [{"var": "amount"}, 1000]}, "decision": "review"}
# Fails to evaluate for an amount of 0 (a division by zero), not before: the trial at saving passes.
PER_UNIT = {"name": "per_unit", "condition": {">": [{"/": [100, {"var": "amount"}]}, 1]}, "decision": "decline"}


@pytest.fixture
def staff_client(db) -> APIClient:
    """A staff member given the two permissions no role has: removing list entries, activating rule sets."""
    user = User.objects.create_user(username="lead", password="pw-lead", is_staff=True)
    codenames = ["view_listentry", "delete_listentry", "view_rulesetversion", "activate_rulesetversion"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = APIClient()
    _, key = AuthToken.objects.create(user=user, expiry=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def scored_at(score: float, decision: str):
    """The active model answers `score` with the model decision `decision`, whatever the transaction."""

    def score_many(self, rows, explain="flagged"):
        return [Scored(score=score, decision=decision, reasons=(), model_version=self.version) for _ in rows]

    return mock.patch.object(Model, "score_many", score_many)


def add_entry(client, **fields):
    body = {"list": "block", "field": "terminal_id", "value": "T00001", "reason": "compromised", **fields}
    return client.post(LISTS, body, format="json")


def activate_rules(analyst_client, staff_client, *rules, version="r1"):
    created = analyst_client.post(RULE_SETS, {"version": version, "rules": list(rules)}, format="json")
    assert created.status_code == 201, created.json()
    activated = staff_client.post(f"{RULE_SETS}{version}/activate/")
    assert activated.status_code == 200, activated.json()


# --- the scoring answer and the stored prediction ----------------------------------------------------------


def test_a_blocked_terminal_is_declined_at_a_score_of_0_01_and_the_entry_is_named(
    scoring_client, analyst_client, active_model_version, transaction_payload
):
    entry = add_entry(analyst_client, value="T00042").json()

    with scored_at(0.01, "approve"):
        response = scoring_client.post(SCORE, transaction_payload(terminal_id="T00042"), format="json")

    assert response.status_code == 201
    result = response.json()
    assert (result["score"], result["model_decision"], result["decision"]) == (0.01, "approve", "decline")
    assert result["flagged"] is True
    assert result["list_entry"] == {
        "id": entry["id"],
        "list": "block",
        "field": "terminal_id",
        "value": "T00042",
        "reason": "compromised",
    }
    stored = Prediction.objects.get(transaction__transaction_id=result["transaction_id"])
    assert (stored.score, stored.model_decision, stored.decision) == (0.01, "approve", "decline")
    assert stored.list_entry == result["list_entry"]


def test_an_allowed_customer_is_approved_at_a_score_the_model_declines(
    scoring_client, analyst_client, active_model_version, transaction_payload
):
    add_entry(analyst_client, list="allow", field="customer_id", value="C00077", reason="known good")

    with scored_at(0.99, "decline"):
        result = scoring_client.post(SCORE, transaction_payload(customer_id="C00077"), format="json").json()

    assert (result["model_decision"], result["decision"], result["flagged"]) == ("decline", "approve", False)
    assert result["list_entry"]["list"] == "allow"


def test_a_rule_that_fires_is_answered_and_stored(
    scoring_client, analyst_client, staff_client, active_model_version, transaction_payload
):
    activate_rules(analyst_client, staff_client, BIG_AMOUNT)

    with scored_at(0.02, "approve"):
        big = scoring_client.post(SCORE, transaction_payload(amount="5000.00"), format="json").json()
        small = scoring_client.post(SCORE, transaction_payload(amount="50.00"), format="json").json()

    assert (big["model_decision"], big["rules"], big["decision"]) == ("approve", ["big_amount"], "review")
    assert (small["rules"], small["decision"]) == ([], "approve")
    stored = Prediction.objects.get(transaction__transaction_id=big["transaction_id"])
    assert (stored.rules, stored.decision, stored.rule_set.version) == (["big_amount"], "review", "r1")


def test_a_broken_rule_is_reported_and_does_not_crash_scoring(
    scoring_client, analyst_client, staff_client, active_model_version, transaction_payload, caplog
):
    activate_rules(analyst_client, staff_client, PER_UNIT)

    with scored_at(0.6, "review"), caplog.at_level(logging.WARNING, logger="predictions.services.decisions"):
        response = scoring_client.post(SCORE, transaction_payload(amount="0.00"), format="json")

    assert response.status_code == 201
    result = response.json()
    assert (result["model_decision"], result["rules"], result["decision"]) == ("review", [], "review")
    stored = Prediction.objects.get(transaction__transaction_id=result["transaction_id"])
    assert [error["rule"] for error in stored.rule_errors] == ["per_unit"]
    assert "ZeroDivisionError" in stored.rule_errors[0]["error"]
    assert "rule per_unit of rule set r1 failed" in caplog.text


def test_a_replay_answers_what_the_first_request_was_answered(
    scoring_client, analyst_client, active_model_version, transaction_payload
):
    add_entry(analyst_client, value="T00042")
    body = transaction_payload(terminal_id="T00042")
    first = scoring_client.post(SCORE, body, format="json").json()

    replay = scoring_client.post(SCORE, body, format="json")

    assert replay.status_code == 200
    assert {key: replay.json()[key] for key in ("decision", "model_decision", "rules", "list_entry")} == {
        key: first[key] for key in ("decision", "model_decision", "rules", "list_entry")
    }


def test_a_batch_is_decided_item_by_item(scoring_client, analyst_client, active_model_version, transaction_payload):
    add_entry(analyst_client, field="customer_id", value="C-BLOCKED")
    items = [transaction_payload(customer_id="C-BLOCKED"), transaction_payload(customer_id="C-OTHER")]

    with scored_at(0.01, "approve"):
        results = scoring_client.post(f"{SCORE}batch/", {"items": items}, format="json").json()["results"]

    assert [item["decision"] for item in results] == ["decline", "approve"]


def test_the_transaction_detail_shows_each_stage(
    scoring_client, analyst_client, active_model_version, transaction_payload
):
    add_entry(analyst_client, value="T00042")
    result = scoring_client.post(SCORE, transaction_payload(terminal_id="T00042"), format="json").json()

    detail = analyst_client.get(f"{SCORE}{result['transaction_id']}/").json()

    prediction = detail["predictions"][0]
    assert prediction["decision"] == "decline"
    assert prediction["list_entry"]["value"] == "T00042"
    assert (prediction["rules"], prediction["rule_errors"], prediction["rule_set"]) == ([], [], None)


# --- lists/ -----------------------------------------------------------------------------------------------


def test_an_analyst_adds_an_entry_with_an_event_but_may_not_remove_it(analyst_client):
    response = add_entry(analyst_client, expires_at="2099-01-01T00:00:00Z")

    assert response.status_code == 201
    entry = response.json()
    assert (entry["author"], entry["expires_at"], entry["removed_at"]) == ("analyst", "2099-01-01T00:00:00Z", None)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.via, event.target_id) == ("list.added", "analyst", "api", str(entry["id"]))
    assert analyst_client.delete(f"{LISTS}{entry['id']}/").status_code == 403
    assert ListEntry.objects.get().removed_at is None


def test_staff_remove_an_entry_and_it_stops_applying_on_the_next_request(
    scoring_client, analyst_client, staff_client, active_model_version, transaction_payload
):
    entry = add_entry(analyst_client, value="T00042").json()

    removed = staff_client.delete(f"{LISTS}{entry['id']}/")

    assert removed.status_code == 200
    assert removed.json()["removed_by"] == "lead"
    with scored_at(0.01, "approve"):
        result = scoring_client.post(SCORE, transaction_payload(terminal_id="T00042"), format="json").json()
    assert (result["decision"], result["list_entry"]) == ("approve", None)
    assert staff_client.delete(f"{LISTS}{entry['id']}/").status_code == 400  # already removed
    assert staff_client.delete(f"{LISTS}999999/").status_code == 404


def test_the_lists_are_read_by_analysts_only(analyst_client, scoring_client):
    add_entry(analyst_client)

    assert [row["value"] for row in analyst_client.get(LISTS).json()["results"]] == ["T00001"]
    assert scoring_client.get(LISTS).status_code == 403
    assert add_entry(scoring_client).status_code == 403


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"list": "grey"}, "list"),
        ({"field": "card"}, "field"),
        ({"value": " "}, "value"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_entry_is_a_400_naming_the_field(analyst_client, fields, bad):
    response = add_entry(analyst_client, **fields)

    assert response.status_code == 400
    assert bad in response.json()["fields"]
    assert not ListEntry.objects.exists()


# --- rule-sets/ -------------------------------------------------------------------------------------------


def test_an_invalid_rule_set_is_a_400_that_names_the_rule_and_the_problem(analyst_client):
    bad = {**BIG_AMOUNT, "condition": {">": [{"var": "TX_AMOUNTT"}, 1]}}

    response = analyst_client.post(RULE_SETS, {"version": "r1", "rules": [bad]}, format="json")

    assert response.status_code == 400
    assert "rule 'big_amount': unknown name 'TX_AMOUNTT'" in response.json()["detail"]
    assert not RuleSetVersion.objects.exists()


def test_analysts_write_rule_sets_but_only_staff_activate_them(analyst_client, staff_client):
    assert analyst_client.post(RULE_SETS, {"version": "r1", "rules": [BIG_AMOUNT]}, format="json").status_code == 201
    assert analyst_client.post(RULE_SETS, {"version": "r1", "rules": []}, format="json").status_code == 400

    assert analyst_client.post(f"{RULE_SETS}r1/activate/").status_code == 403
    assert staff_client.post(f"{RULE_SETS}nope/activate/").status_code == 404
    activated = staff_client.post(f"{RULE_SETS}r1/activate/")

    assert activated.status_code == 200
    assert activated.json()["is_active"] is True
    assert analyst_client.get(f"{RULE_SETS}r1/").json()["rules"] == [BIG_AMOUNT]
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor")) == [
        ("rules.created", "analyst"),
        ("rules.activated", "lead"),
    ]
