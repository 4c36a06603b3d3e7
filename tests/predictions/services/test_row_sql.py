"""insert_row stores what save(force_insert=True) would: every value prepared as the ORM prepares it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from predictions.models import ModelVersion, Prediction, ScoringRequest, ShadowPrediction, Transaction
from predictions.services.row_sql import (
    _insert_sql,
    fetch_many,
    insert_row,
    insert_together,
    pk_statement,
    pks_assigned,
)

pytestmark = pytest.mark.django_db


def _orm_values(obj) -> list:
    meta = type(obj)._meta
    fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.auto_field]
    return [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]


def _rows(model_version: ModelVersion) -> list:
    now = timezone.now()
    tx = Transaction(
        transaction_id="rs-1",
        timestamp=now - timedelta(minutes=1),
        customer_id="C1",
        terminal_id="T1",
        amount=Decimal("12.30"),
        currency="EUR",
        metadata={"channel": "web", "n": 2},
        digest="d" * 64,
    )
    request = ScoringRequest(
        request_id=uuid.uuid4(),
        endpoint="transactions",
        client="acme",
        remote_addr="10.1.2.3",
        body='{"a": 1}',
        status_code=201,
        response={"score": 0.5},
        duration_ms=1.25,
        digest="e" * 64,
    )
    tx.save()
    request.save()
    common = {
        "transaction": tx,
        "model_version": model_version,
        "request": request,
        "score": 0.123,
        "decision": "review",
        "thresholds": {"review": 0.1, "decline": 0.9},
        "features": [1.0, 2.5],
        "reasons": [{"feature": "TX_AMOUNT", "value": 12.3, "contribution": 0.01}],
        "latency_ms": 0.4,
        "digest": "f" * 64,
    }
    prediction = Prediction(
        **common, model_decision="approve", rules=["big"], rule_errors=[], list_entry=None, rule_set=None
    )
    shadow = ShadowPrediction(**common)
    fresh = [
        type(row)(**{f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields})
        for row in (tx, request)
    ]
    fresh[0].id, fresh[0].transaction_id = None, "rs-2"
    fresh[1].id, fresh[1].request_id = None, uuid.uuid4()
    return [*fresh, prediction, shadow]


def _comparable(value):
    # psycopg's Jsonb wrapper (a JSONField's value on PostgreSQL) compares by identity: compare what it wraps.
    return getattr(value, "obj", value)


def test_every_value_is_prepared_as_the_orm_prepares_it(active_model_version):
    for obj in _rows(active_model_version):
        _, preparers = _insert_sql(type(obj), connection.vendor)
        ours = [_comparable(prepare(obj, connection)) for prepare in preparers]
        assert ours == [_comparable(value) for value in _orm_values(obj)], type(obj).__name__


def test_an_inserted_row_reads_back_as_saved(active_model_version):
    for obj in _rows(active_model_version):
        insert_row(obj)
        stored = type(obj).objects.get(pk=obj.pk)
        fields = [f.attname for f in type(obj)._meta.concrete_fields]
        assert {name: getattr(stored, name) for name in fields} == {name: getattr(obj, name) for name in fields}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's one-statement write")
def test_rows_inserted_together_read_back_as_saved_with_their_reserved_keys(active_model_version):
    tx, request, prediction, shadow = _rows(active_model_version)
    rows = [tx, request, prediction, shadow]
    ((keys,),) = fetch_many([pk_statement([type(row) for row in rows])])
    pks_assigned(rows, keys)
    prediction.transaction = shadow.transaction = tx  # the new rows refer to one another by the reserved keys
    prediction.request = shadow.request = request
    keys = [row.pk for row in (tx, request, prediction, shadow)]

    insert_together([tx, request, prediction, shadow])

    for obj, key in zip((tx, request, prediction, shadow), keys, strict=True):
        stored = type(obj).objects.get(pk=key)
        fields = [f.attname for f in type(obj)._meta.concrete_fields]
        assert {name: getattr(stored, name) for name in fields} == {name: getattr(obj, name) for name in fields}
    later = Transaction(**{f.attname: getattr(tx, f.attname) for f in Transaction._meta.concrete_fields})
    later.id, later.transaction_id = None, "rs-3"
    insert_row(later)  # the sequence moved past the reserved key
    assert later.pk > tx.pk
