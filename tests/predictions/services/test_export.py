from __future__ import annotations

import csv
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from predictions.models import ModelVersion, Prediction, Review, ScoringRequest, Transaction
from predictions.services.export import ExportError, audit_export

DAY = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def model_version(db) -> ModelVersion:
    return ModelVersion.objects.create(
        version="rf-test",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=["TX_AMOUNT"],
        thresholds={"review": 0.5, "decline": 0.9},
        trained_at=DAY - timedelta(days=30),
    )


def scored(model_version: ModelVersion, name: str, at: datetime, *, score: float = 0.7) -> Prediction:
    tx = Transaction.objects.create(
        transaction_id=name, timestamp=at, customer_id="C1", terminal_id="T1", amount="12.50", currency="EUR"
    )
    request = ScoringRequest.objects.create(
        endpoint="transactions", client="shop", status_code=201, duration_ms=3.5, received_at=at, body='{"a": 1}'
    )
    return Prediction.objects.create(
        transaction=tx,
        model_version=model_version,
        request=request,
        score=score,
        decision="review",
        thresholds={"review": 0.5, "decline": 0.9},
        features=[12.5],
        reasons=[{"feature": "TX_AMOUNT", "value": 12.5, "contribution": 0.1}],
        latency_ms=2.0,
        scored_at=at,
    )


@pytest.fixture
def audit(model_version):
    inside = scored(model_version, "tx-in", DAY + timedelta(hours=9))
    scored(model_version, "tx-before", DAY - timedelta(seconds=1))
    scored(model_version, "tx-after", DAY + timedelta(days=1))
    reviewer = User.objects.create_user("ana")
    Review.objects.create(transaction=inside.transaction, reviewer=reviewer, outcome="fraud", reviewed_at=DAY)
    return inside


def test_jsonl_holds_the_ranges_requests_predictions_and_reviews(audit, tmp_path):
    out = tmp_path / "audit.jsonl"

    result = audit_export(since=DAY, until=DAY + timedelta(days=1), fmt="jsonl", out=out)

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert (result.requests, result.predictions, result.reviews) == (1, 1, 1)
    assert [r["record"] for r in records] == ["request", "prediction", "review"]
    request, prediction, review = records
    assert request["request_id"] == str(audit.request.request_id)
    assert (request["endpoint"], request["client"], request["status_code"]) == ("transactions", "shop", 201)
    assert prediction["request_id"] == request["request_id"]
    assert (prediction["transaction_id"], prediction["model_version"], prediction["score"]) == ("tx-in", "rf-test", 0.7)
    assert prediction["features"] == {"TX_AMOUNT": 12.5}  # named by its model version
    assert prediction["at"] == "2026-03-10T09:00:00Z"
    assert (review["transaction_id"], review["reviewer"], review["outcome"]) == ("tx-in", "ana", "fraud")


def test_csv_has_one_row_per_record_with_nested_values_as_json(audit, tmp_path):
    out = tmp_path / "audit.csv"

    audit_export(since=DAY, until=DAY + timedelta(days=1), fmt="csv", out=out)

    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["record"] for row in rows] == ["request", "prediction", "review"]
    assert json.loads(rows[1]["reasons"]) == [{"feature": "TX_AMOUNT", "value": 12.5, "contribution": 0.1}]
    assert rows[1]["endpoint"] == ""  # a column that does not apply to a prediction is empty
    assert rows[0]["body"] == '{"a": 1}'


def test_exporting_again_writes_the_same_file(audit, tmp_path):
    audit_export(since=DAY, until=DAY + timedelta(days=1), fmt="csv", out=tmp_path / "a.csv")
    audit_export(since=DAY, until=DAY + timedelta(days=1), fmt="csv", out=tmp_path / "b.csv")

    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_it_refuses_a_range_that_ends_before_it_starts(audit, tmp_path):
    with pytest.raises(ExportError, match="must be before"):
        audit_export(since=DAY, until=DAY, fmt="csv", out=tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()


@pytest.mark.slow
def test_memory_stays_flat_when_the_export_grows(model_version, tmp_path):
    def peak_for(rows: int, *, start: datetime) -> int:
        for i in range(rows):
            scored(model_version, f"{start:%j}-{i}", start + timedelta(seconds=i))
        tracemalloc.start()
        audit_export(
            since=start, until=start + timedelta(days=1), fmt="jsonl", out=tmp_path / "big.jsonl", chunk_rows=100
        )
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small = peak_for(300, start=DAY)
    large = peak_for(2400, start=DAY + timedelta(days=2))

    # Eight times the rows; a streamed export's peak grows by far less than that (a list would grow 8x).
    assert large < 2 * small
