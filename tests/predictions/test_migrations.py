"""Migration 0004: stored {name: value} feature vectors become lists in model order, and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("predictions", "0003_reviewqueue")]
AFTER = [("predictions", "0004_prediction_features_list")]
NAMES = ["TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT"]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def stored_before_0004(transactional_db):
    apps = migrate(BEFORE)
    now = timezone.now()
    version = apps.get_model("predictions", "ModelVersion").objects.create(
        version="rf-old", algorithm="rf", artifact_path="/nowhere", artifact_sha256="0" * 64,
        feature_names=NAMES, thresholds={"review": 0.5, "decline": 0.9}, trained_at=now,
    )  # fmt: skip
    tx = apps.get_model("predictions", "Transaction").objects.create(
        transaction_id="tx-1", timestamp=now, customer_id="C1", terminal_id="T1", amount="12.50", currency="EUR"
    )
    # Keys in another order than the model's: jsonb (PostgreSQL) keeps no order either.
    features = {"TX_DURING_NIGHT": 1.0, "TX_AMOUNT": 12.5, "TX_DURING_WEEKEND": 0.0}
    prediction = apps.get_model("predictions", "Prediction").objects.create(
        transaction=tx, model_version=version, score=0.7, decision="review",
        thresholds={"review": 0.5, "decline": 0.9}, features=features, latency_ms=1.0,
    )  # fmt: skip
    yield prediction.pk
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the latest schema, for the other tests


def test_0004_rewrites_stored_features_as_values_in_model_order_and_back(stored_before_0004):
    apps = migrate(AFTER)
    Prediction = apps.get_model("predictions", "Prediction")
    assert Prediction.objects.get(pk=stored_before_0004).features == [12.5, 0.0, 1.0]

    apps = migrate(BEFORE)
    Prediction = apps.get_model("predictions", "Prediction")
    assert Prediction.objects.get(pk=stored_before_0004).features == {
        "TX_AMOUNT": 12.5,
        "TX_DURING_WEEKEND": 0.0,
        "TX_DURING_NIGHT": 1.0,
    }
