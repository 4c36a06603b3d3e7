"""services.records: what a stored, scored transaction is, whichever path stored it."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from django.db import transaction

from model_package.features import feature_table
from model_package.io import write_transactions
from predictions.models import Decision, Prediction
from predictions.services.batch import transactions_score_file
from predictions.services.loading import transactions_load
from predictions.services.model_loader import active_model
from predictions.services.records import (
    REASONS,
    TransactionInput,
    _features_json,
    prediction_columns,
    prediction_row,
    transaction_row,
)

SCORED_FROM = pd.Timestamp("2026-03-04", tz="UTC")
STORED_FIELDS = ("score", "decision", "features", "thresholds", "reasons")
DECIDED_FIELDS = ("model_decision", "rules", "rule_errors", "list_entry", "rule_set")
TRANSACTION_FIELDS = ("timestamp", "customer_id", "terminal_id", "amount", "currency", "metadata", "label")


def _what_was_stored() -> dict[str, tuple]:
    fields = [*STORED_FIELDS, *DECIDED_FIELDS, *(f"transaction__{name}" for name in TRANSACTION_FIELDS)]
    rows = Prediction.objects.values_list("transaction__transaction_id", *fields)
    return {transaction_id: tuple(values) for transaction_id, *values in rows}


def _api_payload(row) -> dict[str, str]:
    return {
        "transaction_id": row.transaction_id,
        "timestamp": row.timestamp.isoformat(),
        "customer_id": row.customer_id,
        "terminal_id": row.terminal_id,
        "amount": f"{row.amount:.2f}",
    }


@pytest.mark.django_db
def test_the_api_and_score_file_store_the_same_prediction_for_the_same_transaction(
    small_transactions, active_model_version, scoring_client, tmp_path
):
    history = small_transactions[small_transactions["timestamp"] < SCORED_FROM]
    # A day of transactions after the history, with flagged ones among them (their reasons must agree too).
    day = small_transactions[
        (small_transactions["timestamp"] >= SCORED_FROM)
        & (small_transactions["timestamp"] < SCORED_FROM + pd.Timedelta(days=1))
    ]
    write_transactions(history, tmp_path / "history.csv")
    write_transactions(day, tmp_path / "day.csv")
    transactions_load(path=tmp_path / "history.csv", with_labels=True)

    # Two databases with the same history: the API's writes are rolled back before score_file runs.
    with transaction.atomic():
        for row in day.sort_values(["timestamp", "transaction_id"]).itertuples():
            response = scoring_client.post("/api/v1/transactions/", _api_payload(row), format="json")
            assert response.status_code == 201, response.content
        by_api = _what_was_stored()
        transaction.set_rollback(True)
    assert not Prediction.objects.exists()
    transactions_score_file(path=tmp_path / "day.csv", out=tmp_path / "scores.csv")
    by_file = _what_was_stored()

    assert len(by_api) == len(day)
    flagged = [tid for tid, stored in by_api.items() if stored[1] != Decision.APPROVE]
    assert flagged and all(by_api[tid][4] for tid in flagged)
    for transaction_id, stored in by_api.items():
        assert by_file[transaction_id] == stored, transaction_id


@pytest.mark.django_db
def test_the_bulk_columns_hold_what_a_prediction_row_holds(small_transactions, active_model_version):
    model_version, model = active_model()
    rng = np.random.default_rng(0)
    # Real feature rows of the simulation, so that some score above the review threshold.
    names = active_model_version.feature_names
    features = rng.permutation(small_transactions_features(small_transactions, names))[:200]
    scored = model.score_many(features, explain=REASONS)
    assert any(s.reasons for s in scored) and not all(s.reasons for s in scored)

    columns = prediction_columns(model=model, features=features, scored=scored, latency_ms=1.5)

    tx = transaction_row(
        TransactionInput(
            transaction_id="t",
            timestamp=SCORED_FROM.to_pydatetime(),
            customer_id="c",
            terminal_id="t",
            amount=1,
            currency="EUR",
        )
    )
    for i, (row, s) in enumerate(zip(features, scored, strict=True)):
        expected = prediction_row(tx, model_version=model_version, model=model, features=row, scored=s, latency_ms=1.5)
        assert columns["score"][i] == expected.score
        assert columns["decision"][i] == expected.decision
        assert json.loads(columns["thresholds"][i]) == expected.thresholds
        assert json.loads(columns["features"][i]) == expected.features
        assert json.loads(columns["reasons"][i]) == expected.reasons
        assert columns["latency_ms"][i] == expected.latency_ms


def small_transactions_features(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    return feature_table(frame, names).to_numpy(dtype=np.float64)


def test_the_feature_json_reads_back_as_the_exact_floats_of_each_row_with_minus_zero_as_zero():
    # Repeated values take the looked-up path, distinct ones the per-value path; json.loads is the reader.
    # Columns: repeated, distinct, signed zero. PostgreSQL's jsonb reads -0.0 back as 0.0, so it is stored
    # as 0.0 on both databases: the row's digest (services/integrity.py) must match what is read back.
    features = np.array([[1.0, 0.1 * i, -0.0 if i % 2 else 0.0] for i in range(40)])

    texts = _features_json(features)

    for text, row in zip(texts, features.tolist(), strict=True):
        stored = json.loads(text)
        assert stored == row
        assert math.copysign(1.0, stored[2]) == 1.0
        assert text == json.dumps([value + 0.0 for value in row], separators=(",", ":"))
