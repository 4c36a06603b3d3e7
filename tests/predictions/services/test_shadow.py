"""The challenger (shadow) model: scored and stored beside the champion on every request, never deciding."""

from __future__ import annotations

import importlib
import json
import logging
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES
from predictions.models import AuditAction, AuditEvent, ModelVersion, Prediction, ShadowPrediction, Transaction
from predictions.selectors import review_queue
from predictions.services import shadow
from predictions.services.events import Actor
from predictions.services.integrity import audit_verify
from predictions.services.model_loader import model_for_version
from predictions.services.model_versions import (
    ModelVersionError,
    model_version_activate,
    model_version_challenger_set,
    model_version_register,
)
from predictions.services.rescoring import predictions_verify
from predictions.services.retention import audit_purge
from tests.fraudsite.test_metrics import scrape, value

pytestmark = pytest.mark.django_db

ACTOR = Actor(name="tester", via="test")
TRIGGERS = [
    importlib.import_module(f"predictions.migrations.{name}") for name in ("0011_shadow_model", "0009_audit_triggers")
]


@pytest.fixture
def challenger(active_model_version, legacy_artifact) -> ModelVersion:
    """The legacy random forest (the HANDBOOK's 15 features, a subset of the champion's) as the challenger."""
    version = model_version_register(artifact_dir=legacy_artifact)
    return model_version_challenger_set(version=version.version, actor=ACTOR)


@pytest.fixture(autouse=True)
def _no_counted_failures():
    shadow.shadow_failures.clear()
    shadow._logged.clear()


def post(client, body, path="/api/v1/transactions/"):
    response = client.post(path, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def busy_history(make_transaction, **where):
    """A day of a customer's history, so that the features (and so the two models' scores) are not trivial."""
    for hours in range(1, 6):
        make_transaction(timestamp=transaction_now() - timedelta(hours=hours), amount=Decimal(30 * hours), **where)


def transaction_now():
    return timezone.now() - timedelta(minutes=1)


def test_the_challengers_prediction_is_stored_beside_the_champions_and_the_answer_is_the_champions(
    challenger, active_model_version, scoring_client, transaction_payload, make_transaction
):
    busy_history(make_transaction, customer_id="C7")
    answer = post(scoring_client, transaction_payload(customer_id="C7", amount="480.00"))

    champion = Prediction.objects.get()
    shadow_row = ShadowPrediction.objects.get()
    # The answer is the champion's prediction, to the bit; the shadow is the other model's, on the same row.
    assert answer["model_version"] == active_model_version.version
    assert (answer["score"], answer["decision"]) == (champion.score, champion.decision)
    assert shadow_row.model_version == challenger
    assert shadow_row.transaction_id == champion.transaction_id
    assert shadow_row.request_id == champion.request_id
    assert shadow_row.scored_at == champion.scored_at
    # Its features: the challenger's 15, taken from the champion's vector by name.
    assert shadow_row.features == [champion.named_features[name] for name in FEATURE_NAMES]
    legacy = model_for_version(challenger).score_many(np.asarray([shadow_row.features]))[0]
    assert shadow_row.score == legacy.score != champion.score
    assert shadow_row.decision == legacy.decision
    assert shadow_row.reasons == []  # the challenger explains nothing: its decision is never answered


def test_the_answer_is_the_same_with_and_without_a_challenger(
    active_model_version, legacy_artifact, scoring_client, transaction_payload
):
    # Two customers with no history, the same amount, time and terminal: the same features, so the same answer
    # is due, once with a challenger and once without.
    body = transaction_payload(amount="300.00")
    version = model_version_register(artifact_dir=legacy_artifact)
    model_version_challenger_set(version=version.version, actor=ACTOR)
    with_challenger = post(scoring_client, {**body, "transaction_id": "with", "customer_id": "C9"})
    model_version_challenger_set(version=None, actor=ACTOR)
    alone = post(scoring_client, {**body, "transaction_id": "alone", "customer_id": "C10"})

    assert ShadowPrediction.objects.get().transaction.transaction_id == "with"
    drop = ("transaction_id", "request_id", "scored_at")
    assert {k: v for k, v in with_challenger.items() if k not in drop} == {
        k: v for k, v in alone.items() if k not in drop
    }


def test_a_batch_stores_one_shadow_per_new_item_and_answers_with_the_champion(
    challenger, active_model_version, scoring_client, transaction_payload
):
    items = [transaction_payload(amount=f"{50 * n}.00", customer_id=f"C{n}") for n in range(1, 6)]
    body = post(scoring_client, {"items": items}, path="/api/v1/transactions/batch/")

    champion = {p.transaction.transaction_id: p for p in Prediction.objects.select_related("transaction")}
    shadows = {s.transaction.transaction_id: s for s in ShadowPrediction.objects.select_related("transaction")}
    assert set(shadows) == set(champion) == {item["transaction_id"] for item in items}
    for result in body["results"]:
        assert result["score"] == champion[result["transaction_id"]].score
        assert result["model_version"] == active_model_version.version
    assert {s.request_id for s in shadows.values()} == {p.request_id for p in champion.values()}


def test_a_challenger_with_features_the_champion_lacks_recomputes_them_and_rescore_verifies_both(
    legacy_artifact, trained_artifact, scoring_client, transaction_payload, make_transaction
):
    # The other way round: the 15-feature forest decides, the 27-feature default model is the challenger.
    legacy = model_version_register(artifact_dir=legacy_artifact)
    model_version_activate(version=legacy.version, actor=ACTOR)
    default = model_version_register(artifact_dir=trained_artifact)
    model_version_challenger_set(version=default.version, actor=ACTOR)
    busy_history(make_transaction, customer_id="C11")

    post(scoring_client, transaction_payload(customer_id="C11", amount="250.00"))
    post(scoring_client, {"items": [transaction_payload(customer_id="C11")]}, path="/api/v1/transactions/batch/")

    assert [len(s.features) for s in ShadowPrediction.objects.all()] == [len(ALL_FEATURE_NAMES)] * 2
    result = predictions_verify()
    assert result.differences == []
    assert result.versions == {legacy.version: 2, f"{default.version} as shadow": 2}


def test_a_challenger_whose_artifact_breaks_is_skipped_logged_and_counted(
    challenger, active_model_version, scoring_client, transaction_payload, caplog
):
    ModelVersion.objects.filter(pk=challenger.pk).update(artifact_path="/nowhere/gone")
    caplog.set_level(logging.ERROR, logger="predictions.services.shadow")
    failures = {"model_version": challenger.version, "stage": "load"}
    before = value(scrape(), "fraudsite_challenger_failures_total", **failures)

    answers = [post(scoring_client, transaction_payload()) for _ in range(3)]

    assert all(answer["model_version"] == active_model_version.version for answer in answers)
    assert Prediction.objects.count() == 3
    assert ShadowPrediction.objects.count() == 0
    assert shadow.shadow_failures[(challenger.version, "load")] == 3
    assert value(scrape(), "fraudsite_challenger_failures_total", **failures) - before == 3  # what /metrics shows
    # Logged once, not once a request.
    logged = [r.getMessage() for r in caplog.records if r.name == "predictions.services.shadow"]
    assert len(logged) == 1
    assert logged[0].startswith(f"challenger model {challenger.version} skipped (load): ")


def test_a_challenger_that_raises_while_scoring_does_not_break_scoring(
    challenger, active_model_version, scoring_client, transaction_payload
):
    with mock.patch("predictions.services.shadow._challenger_features", side_effect=ValueError("bad vector")):
        answer = post(scoring_client, transaction_payload())
        batch = post(scoring_client, {"items": [transaction_payload()]}, path="/api/v1/transactions/batch/")

    assert answer["model_version"] == batch["results"][0]["model_version"] == active_model_version.version
    assert ShadowPrediction.objects.count() == 0
    assert shadow.shadow_failures[(challenger.version, "score")] == 2


def test_the_shadow_is_written_with_the_champion_or_not_at_all(
    challenger, scoring_client, transaction_payload, insert_fails
):
    with insert_fails(ShadowPrediction, OperationalError("disk I/O error")):
        response = scoring_client.post("/api/v1/transactions/", transaction_payload(), format="json")

    assert response.status_code == 503

    assert Prediction.objects.count() == ShadowPrediction.objects.count() == 0


def test_readers_of_a_transactions_prediction_see_the_champions(
    challenger, active_model_version, scoring_client, analyst_client, transaction_payload
):
    body = transaction_payload(amount="900.00")
    answer = post(scoring_client, body)
    champion = Prediction.objects.get()

    detail = analyst_client.get(f"/api/v1/transactions/{body['transaction_id']}/").json()
    listed = analyst_client.get("/api/v1/transactions/").json()["results"][0]
    replay = scoring_client.post("/api/v1/transactions/", body, format="json").json()

    assert [p["model_version"] for p in detail["predictions"]] == [active_model_version.version]
    assert (listed["score"], listed["decision"]) == (champion.score, champion.decision)
    assert replay == answer
    assert all(item.model_version_id == active_model_version.pk for item in review_queue())


def test_shadow_rows_are_covered_by_the_digests_and_the_triggers(challenger, scoring_client, transaction_payload):
    post(scoring_client, transaction_payload())
    row = ShadowPrediction.objects.get()
    assert audit_verify().checked["shadow"] == 1
    assert audit_verify().intact

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE predictions_shadowprediction SET score = 0.5 WHERE id = %s", [row.pk])

    with connection.cursor() as cursor:  # an insider who drops the triggers
        for migration in TRIGGERS:
            for sql in migration.drop_statements(connection.vendor):
                cursor.execute(sql)
        cursor.execute("UPDATE predictions_shadowprediction SET score = 0.5 WHERE id = %s", [row.pk])
    assert [str(f) for f in audit_verify().findings] == [f"shadow {row.pk}: changed, or inserted outside fraudsite"]
    assert [d.kind for d in predictions_verify().differences] == ["shadow prediction"]


def test_one_challenger_at_a_time_each_change_an_event(active_model_version, legacy_artifact, trained_artifact):
    legacy = model_version_register(artifact_dir=legacy_artifact)

    with pytest.raises(ModelVersionError, match="is the active model"):
        model_version_challenger_set(version=active_model_version.version, actor=ACTOR)
    with pytest.raises(ModelVersionError, match="unknown model version"):
        model_version_challenger_set(version="nope", actor=ACTOR)
    model_version_challenger_set(version=legacy.version, actor=ACTOR)
    # Promoting the challenger ends the comparison: it is no longer its own challenger.
    model_version_activate(version=legacy.version, actor=ACTOR)

    assert list(ModelVersion.objects.filter(is_challenger=True)) == []
    events = AuditEvent.objects.filter(action=AuditAction.CHALLENGER_SET).order_by("pk")
    assert [(e.actor, e.before, e.after) for e in events] == [
        ("tester", {"challenger": None}, {"challenger": legacy.version}),
        ("tester", {"challenger": legacy.version}, {"challenger": None}),
    ]


def test_activate_model_sets_and_removes_the_challenger(active_model_version, legacy_artifact):
    legacy = model_version_register(artifact_dir=legacy_artifact)
    out = StringIO()

    call_command("activate_model", legacy.version, "--challenger", stdout=out)
    assert ModelVersion.objects.get(is_challenger=True) == legacy
    call_command("activate_model", "--no-challenger", stdout=out)
    assert not ModelVersion.objects.filter(is_challenger=True).exists()

    assert out.getvalue().splitlines() == [
        f"model {legacy.version} is now the challenger",
        f"no challenger now (was {legacy.version})",
    ]
    assert AuditEvent.objects.filter(action=AuditAction.CHALLENGER_SET, actor__startswith="os:").count() == 2
    with pytest.raises(CommandError, match="is the active model"):
        call_command("activate_model", active_model_version.version, "--challenger")
    with pytest.raises(CommandError, match="takes no VERSION"):
        call_command("activate_model", legacy.version, "--no-challenger")


@pytest.fixture
def compared(challenger, active_model_version, scoring_client, transaction_payload):
    """Twelve transactions scored with the challenger beside the champion; every third one labelled fraud."""
    for n in range(12):
        post(scoring_client, transaction_payload(transaction_id=f"cmp-{n:02d}", amount=f"{80 * n + 5}.00"))
    for n, tx in enumerate(Transaction.objects.order_by("transaction_id")):
        Transaction.objects.filter(pk=tx.pk).update(label="fraud" if n % 3 == 0 else "legitimate")
    return Prediction.objects.order_by("transaction__transaction_id"), ShadowPrediction.objects.order_by(
        "transaction__transaction_id"
    )


def test_evaluate_model_compare_puts_the_champion_and_the_challenger_side_by_side(compared, challenger):
    predictions, shadows = compared
    out = StringIO()

    call_command("evaluate_model", "--compare", "--k", "5", stdout=out)

    # Counted from the stored rows, not from the report's code: the decisions that differ, and the alerts.
    changed = sum(p.decision != s.decision for p, s in zip(predictions, shadows, strict=True))
    live_alerts = sum(p.decision != "approve" for p in predictions)
    shadow_alerts = sum(s.decision != "approve" for s in shadows)
    lines = out.getvalue().splitlines()
    assert f"challenger {challenger.version}" in lines[0]
    assert f"decisions that would change: {changed} of 12 transactions both decided, over 1 days" in lines
    assert [line.split()[-2:] for line in lines if line.startswith("alerts per day")] == [
        [f"{float(live_alerts):.3f}", f"{float(shadow_alerts):.3f}"]
    ]
    assert [line.split() for line in lines if line.startswith("labelled (fraud)")] == [
        ["labelled", "(fraud)", "12", "(4)", "12", "(4)"]
    ]


def test_the_model_version_page_shows_the_comparison(compared, challenger, admin_client):
    page = admin_client.get(f"/admin/predictions/modelversion/{challenger.pk}/change/").content.decode()

    assert "decisions that would change:" in page
    assert "card precision@100" in page


def test_compare_without_a_challenger_is_a_one_line_error(active_model_version):
    with pytest.raises(CommandError, match="no model version is the challenger"):
        call_command("evaluate_model", "--compare")


def test_export_audit_writes_the_shadow_predictions_as_their_own_record(
    challenger, scoring_client, transaction_payload, tmp_path
):
    post(scoring_client, transaction_payload())
    out = StringIO()
    today = timezone.now().date().isoformat()

    call_command(
        "export_audit",
        "--since",
        today,
        "--until",
        today,
        "--format",
        "jsonl",
        "--out",
        tmp_path / "a.jsonl",
        stdout=out,
    )

    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    shadows = [r for r in records if r["record"] == "shadow"]
    assert [(r["model_version"], r["digest"]) for r in shadows] == [
        (challenger.version, ShadowPrediction.objects.get().digest)
    ]
    assert "1 predictions (1 shadow)" in out.getvalue()


def test_purge_audit_deletes_old_shadows_before_their_requests(challenger, scoring_client, transaction_payload):
    post(scoring_client, transaction_payload())

    result = audit_purge(actor=ACTOR, older_than_days=1, now=timezone.now() + timedelta(days=2))

    assert {item.table: item.rows for item in result.items} == {
        "predictions": 1,
        "shadow predictions": 1,
        "scoring requests": 1,
        "reviews": 0,
    }
    assert not ShadowPrediction.objects.exists()
    assert audit_verify().intact


def test_a_shadow_keeps_its_models_own_decision_when_a_list_decides_the_answer(
    challenger, active_model_version, scoring_client, transaction_payload
):
    from predictions.services.model_loader import model_for_version
    from predictions.services.policy import list_entry_add
    from predictions.services.rescoring import predictions_verify

    list_entry_add(list="block", field="terminal_id", value="T-BAD", reason="x", expires_at=None, actor=ACTOR)

    answer = post(scoring_client, transaction_payload(terminal_id="T-BAD", amount="12.00"))

    assert answer["decision"] == "decline" and answer["model_decision"] == "approve"
    shadow_row = ShadowPrediction.objects.get()
    model = model_for_version(challenger)
    assert shadow_row.decision == model.decide(shadow_row.score)  # the challenger's thresholds, not the block list
    assert predictions_verify().differences == []
