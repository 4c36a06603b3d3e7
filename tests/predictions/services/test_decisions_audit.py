"""The decision layer's stored fields are proven like the rest of a prediction: verify_audit names an edit to
them, and rescore --verify recomputes them from the rule set and the lists in force when it was scored."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.db import connection

from predictions.models import Prediction
from predictions.services.events import Actor
from predictions.services.export import audit_export
from predictions.services.integrity import audit_verify
from predictions.services.policy import list_entry_add, list_entry_remove, rule_set_activate, rule_set_create
from predictions.services.rescoring import predictions_verify

pytestmark = pytest.mark.django_db

ACTOR = Actor(name="tester", via="test")
TRIGGERS = [
    importlib.import_module(f"predictions.migrations.{name}") for name in ("0011_shadow_model", "0009_audit_triggers")
]
BIG_AMOUNT = {"name": "big_amount", "condition": {">": [{"var": "amount"}, 1000]}, "decision": "review"}


@pytest.fixture
def decided(active_model_version, scoring_client, transaction_payload) -> dict[str, Prediction]:
    """Three predictions through the API: one decided by a block entry, one by a rule, one by the model."""
    rule_set_create(version="r1", rules=[BIG_AMOUNT], description="", actor=ACTOR)
    rule_set_activate(version="r1", actor=ACTOR)
    list_entry_add(list="block", field="terminal_id", value="T-BAD", reason="x", expires_at=None, actor=ACTOR)
    bodies = {
        "blocked": transaction_payload(terminal_id="T-BAD"),
        "ruled": transaction_payload(amount="5000.00"),
        "model": transaction_payload(amount="12.00"),
    }
    for body in bodies.values():
        assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201
    return {
        name: Prediction.objects.get(transaction__transaction_id=body["transaction_id"])
        for name, body in bodies.items()
    }


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def without_triggers(db):
    # The shadow table's triggers first: on PostgreSQL they use 0009's function.
    with connection.cursor() as cursor:
        for migration in TRIGGERS:
            for statement in migration.drop_statements(connection.vendor):
                cursor.execute(statement)


def test_the_stored_decisions_are_what_the_layer_decided(decided):
    assert decided["blocked"].decision == "decline" and decided["blocked"].list_entry["value"] == "T-BAD"
    assert decided["ruled"].rules == ["big_amount"] and decided["ruled"].decision in ("review", "decline")
    assert decided["model"].decision == decided["model"].model_decision


def test_rescore_verify_recomputes_the_decisions_even_after_the_entry_was_removed(decided):
    entry_id = decided["blocked"].list_entry["id"]
    list_entry_remove(entry_id=entry_id, actor=ACTOR)

    result = predictions_verify()

    assert result.checked == 3
    assert result.differences == []


@pytest.mark.parametrize(
    ("which", "column", "value", "problem"),
    [
        ("blocked", "decision", "approve", "stored decision 'approve', the lists and rules then give 'decline'"),
        ("ruled", "rules", '["other"]', "stored rules ['other'], the lists and rules then give ['big_amount']"),
        ("model", "list_entry", '{"id": 1}', "stored list_entry {'id': 1}, the lists and rules then give None"),
        ("ruled", "model_decision", "another", "the model decides"),
    ],
)
def test_rescore_verify_names_a_decision_the_layer_would_not_take(
    decided, without_triggers, which, column, value, problem
):
    prediction = decided[which]
    if value == "another":
        value = next(other for other in ("approve", "review") if other != prediction.model_decision)
    sql(f"UPDATE predictions_prediction SET {column} = %s WHERE id = %s", [value, prediction.pk])

    differences = predictions_verify().differences

    assert [d.prediction_id for d in differences] == [prediction.pk]
    assert problem in differences[0].problem


@pytest.mark.parametrize(
    ("column", "value"),
    [("decision", "approve"), ("rules", "[]"), ("list_entry", None), ("model_decision", None), ("rule_set_id", None)],
)
def test_verify_audit_names_an_edited_decision_field_and_passes_once_restored(decided, without_triggers, column, value):
    prediction = decided["blocked"] if column in ("decision", "list_entry") else decided["ruled"]
    original = {
        "decision": prediction.decision,
        "rules": '["big_amount"]',
        "list_entry": None,
        "model_decision": prediction.model_decision,
        "rule_set_id": prediction.rule_set_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM predictions_prediction WHERE id = %s", [prediction.pk])
        original[column] = cursor.fetchone()[0]

    sql(f"UPDATE predictions_prediction SET {column} = %s WHERE id = %s", [value, prediction.pk])
    assert [str(f) for f in audit_verify().findings] == [
        f"prediction {prediction.pk}: changed, or inserted outside fraudsite"
    ]

    sql(f"UPDATE predictions_prediction SET {column} = %s WHERE id = %s", [original[column], prediction.pk])
    assert audit_verify().intact


def test_verify_audit_names_a_list_entry_changed_or_added_outside_fraudsite(decided):
    entry_id = decided["blocked"].list_entry["id"]
    assert audit_verify().intact

    sql("UPDATE predictions_listentry SET value = %s WHERE id = %s", ["T-OTHER", entry_id])
    assert [str(f) for f in audit_verify().findings] == [
        f"list entry {entry_id}: changed, or inserted outside fraudsite"
    ]

    sql("UPDATE predictions_listentry SET value = %s WHERE id = %s", ["T-BAD", entry_id])
    sql(
        "INSERT INTO predictions_listentry (list, field, value, reason, author, created_at, removed_by)"
        " VALUES ('allow', 'customer_id', 'C-FRIEND', 'x', 'tester', %s, '')",
        [decided["blocked"].scored_at],
    )
    (finding,) = audit_verify().findings
    assert finding.record.startswith("list entry ") and finding.record != f"list entry {entry_id}"


def test_verify_audit_names_a_removal_undone_outside_fraudsite(decided):
    entry_id = decided["blocked"].list_entry["id"]
    list_entry_remove(entry_id=entry_id, actor=ACTOR)
    assert audit_verify().intact

    sql("UPDATE predictions_listentry SET removed_at = NULL, removed_by = '' WHERE id = %s", [entry_id])

    assert [str(f) for f in audit_verify().findings] == [
        f"list entry {entry_id}: changed, or inserted outside fraudsite"
    ]


def test_verify_audit_names_rules_changed_or_activated_outside_fraudsite(decided):
    rule_set_create(version="r2", rules=[], description="", actor=ACTOR)

    sql("UPDATE predictions_rulesetversion SET rules = %s WHERE version = %s", ["[]", "r1"])
    assert [str(f) for f in audit_verify().findings] == ["rule set r1: changed, or inserted outside fraudsite"]
    sql("UPDATE predictions_rulesetversion SET rules = %s WHERE version = %s", [json.dumps([BIG_AMOUNT]), "r1"])

    sql("UPDATE predictions_rulesetversion SET is_active = %s", [False])
    sql("UPDATE predictions_rulesetversion SET is_active = %s WHERE version = %s", [True, "r2"])
    assert [str(f) for f in audit_verify().findings] == ["rule set r2: active outside fraudsite (events: r1)"]


def test_export_audit_writes_each_stage_of_the_decision(decided, tmp_path):
    blocked = decided["blocked"]
    out = tmp_path / "audit.jsonl"

    audit_export(since=blocked.scored_at, until=blocked.scored_at + timedelta(seconds=1), fmt="jsonl", out=out)

    records = [json.loads(line) for line in out.read_text().splitlines()]
    (row,) = [r for r in records if r["record"] == "prediction" and r["id"] == blocked.pk]
    assert (row["decision"], row["model_decision"], row["rule_set"]) == ("decline", blocked.model_decision, "r1")
    assert row["list_entry"] == blocked.list_entry
    assert row["rules"] == blocked.rules
