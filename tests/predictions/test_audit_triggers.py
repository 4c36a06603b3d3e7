"""The database refuses edits too (migration 0009), on SQLite and on PostgreSQL: no UPDATE or DELETE of an
audit row, no change to a transaction's own fields, except what the label path and purge_audit do."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from predictions.models import Prediction, ScoringRequest, Transaction, audit_deletion_allowed

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(active_model_version, scoring_client, transaction_payload):
    body = transaction_payload(transaction_id="tx-1", amount="12.50")
    assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201
    return Prediction.objects.get()


def refused(statement: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: PostgreSQL goes on after it
            cursor.execute(statement, params)
    except DatabaseError as exc:
        assert "fraudsite:" in str(exc)
        return True
    return False


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE {} SET score = 0.5 WHERE id = %s", "predictions_prediction"),
        ("DELETE FROM {} WHERE id = %s", "predictions_prediction"),
        ("UPDATE {} SET status_code = 500 WHERE id = %s", "predictions_scoringrequest"),
        ("DELETE FROM {} WHERE id = %s", "predictions_scoringrequest"),
    ],
)
def test_audit_rows_cannot_be_updated_or_deleted_in_sql(stored, statement, table):
    pk = stored.pk if table == "predictions_prediction" else stored.request_id

    assert refused(statement.format(table), [pk])
    assert Prediction.objects.filter(pk=stored.pk, score=stored.score).exists()


@pytest.mark.parametrize(
    ("column", "value"),
    [("amount", "9999.00"), ("customer_id", "C-other"), ("timestamp", "2020-01-01 00:00:00"), ("digest", "0" * 64)],
)
def test_a_transactions_own_fields_cannot_change(stored, column, value):
    assert refused(f"UPDATE predictions_transaction SET {column} = %s WHERE transaction_id = %s", [value, "tx-1"])


def test_its_label_can_and_the_row_cannot_be_deleted(stored):
    assert not refused(
        "UPDATE predictions_transaction SET label = %s, label_source = %s WHERE transaction_id = %s",
        ["fraud", "chargeback", "tx-1"],
    )
    assert Transaction.objects.get(transaction_id="tx-1").label == "fraud"
    assert refused("DELETE FROM predictions_transaction WHERE transaction_id = %s", ["tx-1"])


def test_purge_audits_block_may_delete(stored):
    with audit_deletion_allowed():
        Prediction.objects.all().delete()
        ScoringRequest.objects.all().delete()

    assert not Prediction.objects.exists()
    assert refused("DELETE FROM predictions_transaction WHERE transaction_id = %s", ["tx-1"]), "the permit is gone"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused(stored):
    assert refused("TRUNCATE predictions_auditseal", [])
