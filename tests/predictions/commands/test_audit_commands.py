"""rescore, export_audit and purge_audit."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from predictions.models import Prediction, ScoringRequest


@pytest.fixture
def scored(run, simulation_files, active_model_version, tmp_path):
    """The small simulation's history loaded and its recent days scored by score_file."""
    run("load_transactions", simulation_files["history"], "--with-labels")
    run("score_file", simulation_files["recent"], "--out", tmp_path / "scores.csv")
    return Prediction.objects.count()


def forge(prediction: Prediction, **changes) -> Prediction:
    fields = {f.name: getattr(prediction, f.name) for f in Prediction._meta.concrete_fields if f.name != "id"}
    return Prediction.objects.create(**{**fields, **changes})


@pytest.mark.django_db
def test_rescore_verify_confirms_every_prediction_and_a_rerun_says_the_same(run, scored, db_counts):
    before = db_counts()

    first = run("rescore", "--verify")
    second = run("rescore", "--verify", "--since", (timezone.now() - timedelta(days=1)).date().isoformat())

    assert first.summary.startswith(f"{scored:,} predictions recomputed, all identical")
    assert second.summary == first.summary
    assert db_counts() == before


@pytest.mark.django_db
def test_rescore_lists_each_difference_and_fails(scored):
    original = Prediction.objects.first()
    forged = forge(original, score=0.123456)
    err = StringIO()

    with pytest.raises(CommandError, match=f"^1 of {scored + 1:,} predictions differ from their recomputation"):
        call_command("rescore", "--verify", stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        f"prediction {forged.pk} (transaction {original.transaction.transaction_id}, "
        f"{original.model_version.version}): stored score 0.123456, recomputed {original.score!r}"
    ]


@pytest.mark.django_db
def test_rescore_without_verify_refuses(run):
    with pytest.raises(CommandError, match="add --verify"):
        run("rescore")


@pytest.mark.django_db
def test_rescore_refuses_a_date_it_cannot_read(run):
    with pytest.raises(CommandError, match="'last week' is not a date"):
        run("rescore", "--verify", "--since", "last week")


@pytest.mark.django_db
def test_export_audit_writes_the_days_records_and_again_the_same(run, scored, tmp_path, db_counts):
    today = timezone.now().date().isoformat()
    before = db_counts()

    ran = run("export_audit", "--since", today, "--until", today, "--format", "jsonl", "--out", tmp_path / "a.jsonl")
    run("export_audit", "--since", today, "--until", today, "--format", "jsonl", "--out", tmp_path / "b.jsonl")

    records = [json.loads(line)["record"] for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert records.count("request") == 1 and records.count("prediction") == scored
    # The event: the fixture's model activation.
    assert ran.summary.startswith(f"1 requests, {scored:,} predictions, 0 reviews, 1 events written to")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert db_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "2026-03-02", "--until", "2026-03-01"], "must be before"),
        (["--since", "2026-03-01", "--until", "2026-03-02", "--format", "xml"], "invalid choice: 'xml'"),
        (["--since", "2026-03-01", "--until", "2026-03-02", "--out", "/proc/nowhere/x.csv"], "/proc/nowhere"),
    ],
)
def test_export_audit_bad_input_fails_in_one_line(run, tmp_path, arguments, message):
    if "--out" not in arguments:
        arguments = [*arguments, "--out", str(tmp_path / "audit.csv")]

    with pytest.raises(CommandError, match=message) as error:
        run("export_audit", *arguments)

    assert "\n" not in str(error.value)
    assert not (tmp_path / "audit.csv").exists()


@pytest.mark.django_db
def test_purge_audit_dry_run_and_real_run_on_recent_rows_delete_nothing(run, scored, db_counts):
    before = db_counts()

    dry = run("purge_audit", "--older-than", "1", "--dry-run")
    real = run("purge_audit", "--older-than", "1")

    assert "would delete predictions: none" in dry.out
    assert dry.summary.endswith("would be deleted: nothing was changed (dry run)")
    assert real.summary.startswith("0 audit rows older than") and real.summary.endswith("deleted")
    assert db_counts() == before


@pytest.mark.django_db
def test_purge_audit_deletes_old_rows_and_a_rerun_finds_none(run, scored, db_counts):
    # Everything was scored just now and audit rows cannot be aged in place: move the clock a day on.
    later = timezone.now() + timedelta(days=1, seconds=1)
    with mock.patch("predictions.services.retention.timezone.now", return_value=later):
        ran = run("purge_audit", "--older-than", "1")
        again = run("purge_audit", "--older-than", "1")

    assert f"deleted predictions: {scored:,} (" in ran.out
    assert "deleted scoring requests: 1 (" in ran.out
    assert ran.summary.startswith(f"{scored + 1:,} audit rows older than")
    assert again.summary.startswith("0 audit rows older than")
    assert db_counts()["Prediction"] == 0 and ScoringRequest.objects.count() == 0
    assert db_counts()["Transaction"] > 0


@pytest.mark.django_db
def test_purge_audit_refuses_zero_days(run, scored, db_counts):
    before = db_counts()
    with pytest.raises(CommandError, match="--older-than: must be at least 1, got 0"):
        run("purge_audit", "--older-than", "0")
    assert db_counts() == before


@pytest.mark.django_db
def test_export_audit_includes_the_days_audit_events_with_their_digests(
    run, make_transaction, analyst_client, tmp_path
):
    make_transaction(transaction_id="tx-1")
    analyst_client.post("/api/v1/transactions/tx-1/label/", {"label": "fraud", "source": "chargeback"}, format="json")
    today = timezone.now().date().isoformat()

    ran = run("export_audit", "--since", today, "--until", today, "--format", "jsonl", "--out", tmp_path / "a.jsonl")

    [event] = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert (event["record"], event["action"], event["actor"], event["target_id"]) == (
        "event",
        "label.set",
        "analyst",
        "tx-1",
    )
    assert event["after"]["label"] == "fraud"
    assert len(event["digest"]) == 64
    assert ran.summary.startswith("0 requests, 0 predictions, 0 reviews, 1 events written to")
