from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from predictions.models import ModelVersion, Prediction, Review, ScoringRequest, Transaction
from predictions.services.events import Actor
from predictions.services.retention import PurgeError, audit_purge

ACTOR = Actor(name="tester", via="test")

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def audit_rows(db, make_transaction):
    """Requests, predictions and reviews at 400, 100 and 10 days old, plus a job that straddles the cutoff."""
    version = ModelVersion.objects.create(
        version="rf-test",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=[],
        thresholds={"review": 0.5, "decline": 0.9},
        trained_at=days_ago(500),
    )
    reviewer = User.objects.create_user("reviewer")
    for age in (400, 100, 10):
        tx = make_transaction(transaction_id=f"tx-{age}", timestamp=days_ago(age))
        request = ScoringRequest.objects.create(
            endpoint="transactions", status_code=201, duration_ms=1.0, received_at=days_ago(age)
        )
        Prediction.objects.create(
            transaction=tx,
            model_version=version,
            request=request,
            score=0.7,
            decision="review",
            thresholds={},
            features=[],
            latency_ms=1.0,
            scored_at=days_ago(age),
        )
        Review.objects.create(transaction=tx, reviewer=reviewer, outcome="fraud", reviewed_at=days_ago(age - 1))
    # A batch job that began 201 days ago and whose last prediction is 199 days old: its request must stay
    # while a prediction still refers to it.
    job = ScoringRequest.objects.create(
        endpoint="score_file", status_code=201, duration_ms=1.0, received_at=days_ago(201)
    )
    for age in (201, 199):
        tx = make_transaction(transaction_id=f"job-{age}", timestamp=days_ago(age))
        Prediction.objects.create(
            transaction=tx,
            model_version=version,
            request=job,
            score=0.1,
            decision="approve",
            thresholds={},
            features=[],
            latency_ms=1.0,
            scored_at=days_ago(age),
        )
    return job


def remaining() -> dict[str, set[str]]:
    return {
        "predictions": set(Prediction.objects.values_list("transaction__transaction_id", flat=True)),
        "requests": set(ScoringRequest.objects.values_list("endpoint", "received_at")),
        "reviews": set(Review.objects.values_list("transaction__transaction_id", flat=True)),
    }


def test_it_deletes_what_is_older_than_the_retention_and_keeps_the_rest(audit_rows):
    result = audit_purge(actor=ACTOR, older_than_days=200, now=NOW)

    assert result.cutoff == days_ago(200)
    assert [(item.table, item.rows) for item in result.items] == [
        ("predictions", 2),  # tx-400 and job-201
        ("shadow predictions", 0),  # no challenger here
        ("scoring requests", 1),  # the 400-day request; the job's request is still referenced by job-199
        ("reviews", 1),  # reviewed 399 days ago
    ]
    left = remaining()
    assert left["predictions"] == {"tx-100", "tx-10", "job-199"}
    assert left["reviews"] == {"tx-100", "tx-10"}
    assert ("score_file", days_ago(201)) in left["requests"]
    assert Transaction.objects.count() == 5  # transactions are history, never purged


def test_a_dry_run_counts_the_same_rows_and_deletes_nothing(audit_rows):
    before = remaining()

    result = audit_purge(actor=ACTOR, older_than_days=200, now=NOW, dry_run=True)

    assert [item.rows for item in result.items] == [2, 0, 1, 1]
    assert remaining() == before


def test_a_second_purge_finds_nothing_more(audit_rows):
    audit_purge(actor=ACTOR, older_than_days=200, now=NOW)
    after = remaining()

    again = audit_purge(actor=ACTOR, older_than_days=200, now=NOW)

    assert again.total == 0
    assert remaining() == after


def test_small_chunks_delete_the_same_rows(audit_rows):
    audit_purge(actor=ACTOR, older_than_days=50, now=NOW, chunk_rows=1)

    assert remaining()["predictions"] == {"tx-10"}
    assert remaining()["reviews"] == {"tx-10"}
    assert ScoringRequest.objects.count() == 1


def test_it_logs_each_deletion(audit_rows, caplog):
    with caplog.at_level(logging.INFO, logger="predictions.services.retention"):
        audit_purge(actor=ACTOR, older_than_days=200, now=NOW)

    logged = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("purge_audit deleted predictions: 2 (") for line in logged)
    assert any(line.startswith("purge_audit deleted reviews: 1 (") for line in logged)


def test_it_refuses_a_retention_under_one_day(audit_rows):
    with pytest.raises(PurgeError, match="at least 1 day"):
        audit_purge(actor=ACTOR, older_than_days=0, now=NOW)
    assert Prediction.objects.count() == 5
