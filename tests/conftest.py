"""A small fixture cast shared by the whole suite: a tiny trained model, users in each role, API clients."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import multiprocessing
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from predictions.models import ModelVersion, Prediction, Transaction
from predictions.services.clients import keys_forget
from predictions.services.events import Actor
from predictions.services.integrity import signed
from predictions.services.row_sql import insert_row, insert_together

ACTOR = Actor(name="tester", via="test")

# Thresholds of the hand-made model version that admin and selector tests score against.
THRESHOLDS = {"review": 0.5, "decline": 0.9}

# A simulation big enough for the training protocol (28 train + 7 delay + 7 test days after some history)
# and still quick.
SMALL_SIMULATION = {"customers": 150, "terminals": 300, "days": 70, "start": date(2026, 1, 1), "seed": 7}
# Alerts a day for the small simulation's models: the book's 100 alerts for 85 frauds a day, scaled to its
# 25 frauds a day (as the demo's budget). Far fewer alerts than frauds leaves no review band, which
# training refuses.
ALERT_BUDGET = 30


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (fraudsite/test_settings.py gives the run its own)."""
    cache.clear()


@pytest.fixture
def in_processes():
    """run(work, n): work(i) in n forked processes, released together; their results in the order of i.
    For what must hold across gunicorn's workers (the cache, the rate limits)."""

    def run(work: Callable[[int], Any], n: int) -> list[Any]:
        context = multiprocessing.get_context("fork")
        start = context.Barrier(n)
        results = context.Queue()

        def child(i: int) -> None:
            try:
                start.wait(timeout=60)
                results.put((i, work(i), None))
            except BaseException as exc:
                results.put((i, None, repr(exc)))

        processes = [context.Process(target=child, args=(i,)) for i in range(n)]
        for process in processes:
            process.start()
        outcomes = {}
        for _ in processes:
            i, result, error = results.get(timeout=120)
            assert error is None, f"process {i} failed: {error}"
            outcomes[i] = result
        for process in processes:
            process.join(timeout=60)
        return [outcomes[i] for i in range(n)]

    return run


@pytest.fixture(scope="session")
def small_transactions():
    """A deterministic simulated data set (pandas DataFrame in model_package's transaction format)."""
    from model_package.simulate import simulate

    return simulate(**SMALL_SIMULATION)


@pytest.fixture(scope="session")
def trained_artifact(small_transactions, tmp_path_factory) -> Path:
    """The default model (train_model's defaults) trained on the small simulation, as a verified artifact."""
    from model_package.artifacts import save_artifact
    from model_package.train import train_model

    result = train_model(small_transactions, alert_budget=ALERT_BUDGET, random_state=0)
    return save_artifact(result, tmp_path_factory.mktemp("artifacts") / result.version)


@pytest.fixture(scope="session")
def legacy_artifact(small_transactions, tmp_path_factory) -> Path:
    """A model as they were made before issue 14: a random forest on the HANDBOOK's 15 features, 7 days."""
    from model_package.artifacts import save_artifact
    from model_package.features import FEATURE_NAMES
    from model_package.train import train_model

    result = train_model(
        small_transactions,
        algorithm="rf",
        feature_names=FEATURE_NAMES,
        train_days=7,
        alert_budget=ALERT_BUDGET,
        model_params={"n_estimators": 20},
    )
    return save_artifact(result, tmp_path_factory.mktemp("legacy") / result.version)


@pytest.fixture
def active_model_version(db, trained_artifact):
    """The trained artifact registered and activated in the test database."""
    from predictions.services.model_versions import model_version_activate, model_version_register

    version = model_version_register(artifact_dir=trained_artifact)
    return model_version_activate(version=version.version, actor=ACTOR)


def _user_in_role(username: str, role: str, *, is_staff: bool = False) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=is_staff)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def scoring_user(db) -> User:
    return _user_in_role("scoring-client", "scoring")


@pytest.fixture
def analyst_user(db) -> User:
    return _user_in_role("analyst", "analyst", is_staff=True)


def _token_client(user: User) -> APIClient:
    client = APIClient()
    _, key = AuthToken.objects.create(user=user, expiry=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def scoring_client(scoring_user) -> APIClient:
    return _token_client(scoring_user)


@pytest.fixture
def analyst_client(analyst_user) -> APIClient:
    return _token_client(analyst_user)


_ids = itertools.count(1)


@pytest.fixture
def make_transaction(db):
    """Store a history Transaction directly (not scored); keyword overrides for any field."""

    def make(**overrides: Any) -> Transaction:
        fields: dict[str, Any] = {
            "transaction_id": f"hist-{next(_ids):06d}",
            "timestamp": timezone.now() - timedelta(days=1),
            "customer_id": "C00001",
            "terminal_id": "T00001",
            "amount": Decimal("42.00"),
            "currency": "EUR",
        }
        fields.update(overrides)
        row = signed(Transaction(**fields))
        row.save(force_insert=True)
        return row

    return make


@pytest.fixture
def transaction_payload():
    """A valid POST transactions/ body; keyword overrides for any field."""

    def make(**overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "transaction_id": f"api-{next(_ids):06d}",
            "timestamp": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "customer_id": "C00001",
            "terminal_id": "T00001",
            "amount": "42.00",
        }
        body.update(overrides)
        return body

    return make


def aware(*args: int) -> datetime:
    """An aware UTC datetime, for readable test data."""
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def model_version(db) -> ModelVersion:
    """A model version row written directly (no artifact), active, with THRESHOLDS."""
    return ModelVersion.objects.create(
        version="queue-test-v1",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=["TX_AMOUNT", "TX_DURING_NIGHT"],
        thresholds=THRESHOLDS,
        trained_at=timezone.now() - timedelta(days=1),
        is_active=True,
    )


@pytest.fixture
def make_prediction(make_transaction, model_version):
    """Store a transaction and its prediction; the decision follows THRESHOLDS unless given."""

    def make(
        *,
        score: float,
        decision: str | None = None,
        version: ModelVersion | None = None,
        scored_at=None,
        transaction=None,
        **transaction_fields: Any,
    ) -> Prediction:
        transaction = transaction or make_transaction(**transaction_fields)
        if decision is None:
            decision = (
                "decline"
                if score >= THRESHOLDS["decline"]
                else "review"
                if score >= THRESHOLDS["review"]
                else "approve"
            )
        prediction = Prediction(
            transaction=transaction,
            model_version=version or model_version,
            score=score,
            decision=decision,
            thresholds=THRESHOLDS,
            features=[float(transaction.amount), 0.0],  # TX_AMOUNT, TX_DURING_NIGHT
            reasons=[{"feature": "TX_AMOUNT", "value": float(transaction.amount), "contribution": 0.25}],
            latency_ms=1.0,
            scored_at=scored_at or timezone.now(),
        )
        signed(prediction).save(force_insert=True)
        return prediction

    return make


@pytest.fixture
def flushable_audit(transactional_db):
    """For a transactional test: Django empties the tables after it (DELETE on SQLite, TRUNCATE on
    PostgreSQL), which the audit's triggers refuse, so the test runs without them.
    tests/predictions/test_audit_triggers.py tests the triggers themselves."""
    from django.db import connection

    # The shadow table's triggers first: on PostgreSQL they use 0009's function.
    migrations = [
        importlib.import_module(f"predictions.migrations.{name}")
        for name in ("0011_shadow_model", "0009_audit_triggers")
    ]

    def drop() -> None:
        with connection.cursor() as cursor:
            for migration in migrations:
                for sql in migration.drop_statements(connection.vendor):
                    cursor.execute(sql)

    drop()
    yield
    drop()  # a test that migrated forward made them again


@pytest.fixture(autouse=True)
def _no_cached_policy():
    """Each test starts with no cached lists and rules: a rolled-back test leaves the generation where it
    found it, so the next one's first change would look like the cached one."""
    from predictions.services.decisions import policy_forget

    policy_forget()


@pytest.fixture(autouse=True)
def _no_remembered_api_keys():
    """Each test starts with no API key remembered by an earlier one (services/clients.py, key_remember)."""
    keys_forget()


@pytest.fixture
def insert_fails():
    """insert_fails(model, error): a context in which the scoring path's insert of a `model` row raises error (on
    SQLite the row's own INSERT; on PostgreSQL the one statement that holds it, services/row_sql.insert_together).

    For a refusal by the database itself, see database_refuses_predictions."""

    @contextlib.contextmanager
    def failing(model: type, error: Exception):
        def insert(row):
            if isinstance(row, model):
                raise error
            insert_row(row)

        def insert_all(rows):
            if any(isinstance(row, model) for row in rows):
                raise error
            insert_together(rows)

        with (
            mock.patch("predictions.services.scoring.insert_row", side_effect=insert),
            mock.patch("predictions.services.shadow.insert_row", side_effect=insert),
            mock.patch("predictions.services.scoring.insert_together", side_effect=insert_all),
        ):
            yield

    return failing


@pytest.fixture
def database_refuses_predictions(db):
    """A trigger (rolled back with the test) with which the database refuses every new Prediction row with an
    integrity error: the rows written before it in the same write must go with it."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_prediction() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'refused' USING ERRCODE = 'integrity_constraint_violation'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_prediction BEFORE INSERT ON predictions_prediction "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_prediction()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse_prediction BEFORE INSERT ON predictions_prediction "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_server():
    """A client of the machine's Redis at REDIS_URL; skips without one (fails with FRAUDSITE_REQUIRE_REDIS=1).
    Tests keep their keys under a prefix of their own and remove them."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except RedisConnectionError:
        if os.environ.get("FRAUDSITE_REQUIRE_REDIS") == "1":
            pytest.fail(f"no Redis at {REDIS_URL} (FRAUDSITE_REQUIRE_REDIS=1)")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client
