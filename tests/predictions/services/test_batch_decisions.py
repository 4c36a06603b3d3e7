"""score_file applies the decision layer (lists and the active rule set) as the API does, and its rows verify."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from django.db import transaction

from predictions.models import Decision, ListEntry, Prediction, RuleSetVersion
from predictions.services.batch import transactions_score_file
from predictions.services.events import Actor
from predictions.services.integrity import audit_verify
from predictions.services.policy import list_entry_add, rule_set_activate, rule_set_create
from predictions.services.rescoring import predictions_verify

pytestmark = pytest.mark.django_db

ACTOR = Actor(name="tester", via="test")
ROWS = 300
DECIDED_FIELDS = ("score", "decision", "model_decision", "rules", "rule_errors", "list_entry", "rule_set_id")


@pytest.fixture(scope="module")
def rows(small_transactions) -> pd.DataFrame:
    """The first ROWS transactions of the simulation, in time order, unlabelled (a file to score)."""
    return small_transactions.sort_values(["timestamp", "transaction_id"]).head(ROWS).drop(columns=["is_fraud"])


@pytest.fixture
def path(rows, tmp_path) -> Path:
    from model_package.io import write_transactions

    path = tmp_path / "tx.csv"
    write_transactions(rows, path)
    return path


def busiest(rows: pd.DataFrame, field: str) -> str:
    return rows[field].value_counts().index[0]


def block(terminal_id: str) -> ListEntry:
    return list_entry_add(
        list="block", field="terminal_id", value=terminal_id, reason="compromised", expires_at=None, actor=ACTOR
    )


def activate(rules: list[dict]) -> RuleSetVersion:
    rule_set_create(version="rs1", rules=rules, description="", actor=ACTOR)
    return rule_set_activate(version="rs1", actor=ACTOR)


def big_amounts(threshold: float) -> dict:
    return {"name": "big_amount", "condition": {">": [{"var": "amount"}, threshold]}, "decision": "review"}


def policy(rows: pd.DataFrame) -> None:
    """A blocked terminal, an allowed customer, a rule on big amounts and one that fails on daytime rows."""
    block(busiest(rows, "terminal_id"))
    vip = busiest(rows, "customer_id")
    list_entry_add(list="allow", field="customer_id", value=vip, reason="vip", expires_at=None, actor=ACTOR)
    by_night = {"/": [1, {"var": "TX_DURING_NIGHT"}]}  # a division by zero on daytime rows: reported, not deciding
    night_only = {"name": "night_only", "condition": {">": [by_night, 0]}, "decision": "review"}
    activate([big_amounts(float(rows["amount"].quantile(0.8))), night_only])


def stored() -> dict[str, tuple]:
    rows = Prediction.objects.values_list("transaction__transaction_id", *DECIDED_FIELDS)
    return {transaction_id: tuple(values) for transaction_id, *values in rows}


def test_a_blocked_terminal_is_declined_even_at_a_low_score(active_model_version, rows, path, tmp_path):
    terminal = busiest(rows, "terminal_id")
    entry = block(terminal)

    transactions_score_file(path=path, out=tmp_path / "scores.csv")

    blocked = Prediction.objects.filter(transaction__terminal_id=terminal)
    assert blocked.exists()
    assert blocked.filter(score__lt=active_model_version.thresholds["review"]).exists()
    for prediction in blocked:
        assert prediction.decision == Decision.DECLINE
        assert prediction.list_entry == {
            "id": entry.pk,
            "list": "block",
            "field": "terminal_id",
            "value": terminal,
            "reason": "compromised",
        }
    others = Prediction.objects.exclude(transaction__terminal_id=terminal)
    assert all(p.decision == p.model_decision and p.list_entry is None for p in others)


def test_a_rule_that_fires_is_stored_and_makes_the_decision_stricter(active_model_version, rows, path, tmp_path):
    threshold = float(rows["amount"].quantile(0.8))
    rule_set = activate([big_amounts(threshold)])

    transactions_score_file(path=path, out=tmp_path / "scores.csv")

    big = Prediction.objects.filter(transaction__amount__gt=threshold)
    assert big.filter(model_decision=Decision.APPROVE).exists()
    for prediction in big:
        assert prediction.rules == ["big_amount"]
        assert prediction.decision != Decision.APPROVE
    small = Prediction.objects.filter(transaction__amount__lte=threshold)
    assert all(p.rules == [] and p.decision == p.model_decision for p in small)
    assert set(Prediction.objects.values_list("rule_set_id", flat=True)) == {rule_set.pk}


def test_the_output_gives_the_final_and_the_model_decision(active_model_version, rows, path, tmp_path):
    block(busiest(rows, "terminal_id"))
    out = tmp_path / "scores.csv"

    transactions_score_file(path=path, out=out)

    written = pd.read_csv(out, dtype={"transaction_id": str}).set_index("transaction_id")
    assert list(written.columns) == ["score", "decision", "model_decision", "model_version"]
    for transaction_id, (_, decision, model_decision, *_) in stored().items():
        assert (written.at[transaction_id, "decision"], written.at[transaction_id, "model_decision"]) == (
            decision,
            model_decision,
        )


@pytest.mark.parametrize("with_policy", [False, True], ids=["no lists or rules", "lists and rules"])
def test_score_file_stores_what_the_api_stores(active_model_version, scoring_client, rows, path, tmp_path, with_policy):
    if with_policy:
        policy(rows)

    # Two databases with the same policy: the API's writes are rolled back before score_file runs.
    with transaction.atomic():
        for row in rows.itertuples():
            body = {
                "transaction_id": row.transaction_id,
                "timestamp": row.timestamp.isoformat(),
                "customer_id": row.customer_id,
                "terminal_id": row.terminal_id,
                "amount": f"{row.amount:.2f}",
            }
            response = scoring_client.post("/api/v1/transactions/", body, format="json")
            assert response.status_code == 201, response.content
        by_api = stored()
        transaction.set_rollback(True)
    transactions_score_file(path=path, out=tmp_path / "scores.csv")
    by_file = stored()

    assert len(by_file) == ROWS
    assert by_file == by_api
    if with_policy:
        decided = list(by_file.values())
        assert any(entry is not None for *_, entry, _ in decided)
        assert any(rules for _, _, _, rules, *_ in decided)
        assert any(errors and errors[0]["rule"] == "night_only" for *_, errors, _, _ in decided)


def test_the_decided_rows_verify(active_model_version, rows, path, tmp_path):
    policy(rows)

    transactions_score_file(path=path, out=tmp_path / "scores.csv")

    rescored = predictions_verify()
    assert rescored.checked == ROWS
    assert not rescored.differences, [str(difference) for difference in rescored.differences[:5]]
    audit = audit_verify()
    assert audit.checked["prediction"] == ROWS
    assert audit.intact, [str(finding) for finding in audit.findings[:5]]
