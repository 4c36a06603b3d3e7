"""Data migrations: 0004 (feature vectors as lists in model order, and back), 0007 (API keys hashed)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

BEFORE = [("predictions", "0003_reviewqueue")]
AFTER = [("predictions", "0004_prediction_features_list")]
NAMES = ["TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT"]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def stored_before_0004(flushable_audit):
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


# --- 0007: API keys stored hashed ---------------------------------------------------------------


@pytest.fixture
def drf_token_before_0007(flushable_audit):
    """A client with a DRF authtoken key, as an install before 0007 has it: the key in plain text."""
    migrate([("predictions", "0001_initial")])  # from before 0002, which makes the roles (flushed by now)
    migrate([("predictions", "0006_audit_event")])
    user = User.objects.create_user("old-client")
    user.groups.add(Group.objects.get(name="analyst"))
    key = "0123456789abcdef0123456789abcdef01234567"  # DRF's format: 40 hex digits
    with connection.cursor() as cursor:
        # The table rest_framework.authtoken made (no longer an installed app, so created here by hand).
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL,"
            " user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [key, timezone.now(), user.pk])
    yield key
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_0007_keeps_old_keys_working_with_no_plain_copy_left(drf_token_before_0007):
    migrate([("predictions", "0007_api_keys_hashed")])

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {drf_token_before_0007}")
    assert client.get("/api/v1/transactions/").status_code == 200
    assert "authtoken_token" not in connection.introspection.table_names()
    assert AuthToken.objects.get().digest != drf_token_before_0007
