from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from django.utils import timezone

from predictions.models import ModelVersion, Prediction, Transaction
from predictions.services.batch import transactions_score_file
from predictions.services.events import Actor
from predictions.services.integrity import signed
from predictions.services.labels import label_record
from predictions.services.loading import transactions_load
from predictions.services.rescoring import _features_as_scored, predictions_verify

SCORED_FROM = pd.Timestamp("2026-03-04", tz="UTC")


@pytest.fixture(scope="module")
def files(small_transactions, tmp_path_factory) -> dict[str, Path]:
    from model_package.io import write_transactions

    directory = tmp_path_factory.mktemp("rescoring")
    before = small_transactions["timestamp"] < SCORED_FROM
    day = before | (small_transactions["timestamp"] >= SCORED_FROM + pd.Timedelta(days=1))
    paths = {"history": directory / "history.csv", "day": directory / "day.csv"}
    write_transactions(small_transactions[before], paths["history"])
    write_transactions(small_transactions[~day], paths["day"])
    return paths


@pytest.fixture
def scored_day(db, files, active_model_version, tmp_path) -> int:
    """One day of the small simulation scored by score_file on top of its history; returns how many."""
    transactions_load(path=files["history"], with_labels=True)
    return transactions_score_file(path=files["day"], out=tmp_path / "scores.csv").scored


def copy_of(prediction: Prediction, **changes) -> Prediction:
    """A new audit row like `prediction` but with `changes` (audit rows cannot be edited in place)."""
    fields = {f.name: getattr(prediction, f.name) for f in Prediction._meta.concrete_fields if f.name != "id"}
    return Prediction.objects.create(**{**fields, **changes})


def test_every_stored_prediction_recomputes_to_the_same_score(scored_day, active_model_version):
    result = predictions_verify()

    assert result.checked == scored_day
    assert result.differences == []
    assert result.versions == {active_model_version.version: scored_day}


def test_a_score_that_differs_is_reported_with_its_prediction(scored_day):
    original = Prediction.objects.order_by("id").first()
    forged = copy_of(original, score=original.score + 1e-9)

    result = predictions_verify()

    assert [d.prediction_id for d in result.differences] == [forged.pk]
    assert result.differences[0].transaction_id == original.transaction.transaction_id
    assert f"stored score {original.score + 1e-9!r}, recomputed {original.score!r}" in result.differences[0].problem


def test_a_decision_the_model_would_not_take_is_reported(scored_day):
    approved = Prediction.objects.filter(decision="approve").first()
    forged = copy_of(approved, decision="decline", model_decision="decline")

    result = predictions_verify()

    assert [(d.prediction_id, d.problem) for d in result.differences] == [
        (forged.pk, "stored model_decision decline, the model decides approve")
    ]


def test_a_decision_the_lists_and_rules_would_not_take_is_reported(scored_day):
    approved = Prediction.objects.filter(decision="approve").first()
    forged = copy_of(approved, decision="decline")

    result = predictions_verify()

    assert [(d.prediction_id, d.problem) for d in result.differences] == [
        (forged.pk, "stored decision 'decline', the lists and rules then give 'approve'")
    ]


def test_reasons_that_the_model_would_not_give_are_reported(scored_day):
    flagged = Prediction.objects.exclude(decision="approve").exclude(reasons=[]).order_by("id").first()
    reasons = [{**reason, "contribution": reason["contribution"] * 2} for reason in flagged.reasons]
    forged = copy_of(flagged, reasons=reasons)

    result = predictions_verify()

    assert [(d.prediction_id, d.problem) for d in result.differences] == [
        (forged.pk, "stored reasons differ from the recomputed reasons")
    ]


def test_features_that_do_not_match_the_model_are_reported(scored_day):
    original = Prediction.objects.order_by("id").first()
    forged = copy_of(original, features=[1.0])  # one value where the model has 15 features

    result = predictions_verify()

    assert [d.prediction_id for d in result.differences] == [forged.pk]
    assert "do not match the model's feature list" in result.differences[0].problem


def test_a_version_whose_artifact_is_gone_cannot_be_verified(scored_day, active_model_version, tmp_path):
    gone = ModelVersion.objects.create(
        **{
            f.name: getattr(active_model_version, f.name)
            for f in ModelVersion._meta.concrete_fields
            if f.name not in {"id", "version", "is_active", "activated_at", "artifact_path"}
        },
        version="vanished",
        artifact_path=str(tmp_path / "vanished"),
    )
    copy_of(Prediction.objects.first(), model_version=gone)

    result = predictions_verify()

    assert len(result.differences) == 1
    assert result.differences[0].model_version == "vanished"
    assert result.differences[0].problem.startswith("cannot recompute: model version vanished cannot be loaded")


def test_since_limits_the_check_to_recent_predictions(scored_day):
    assert predictions_verify(since=timezone.now() - timedelta(hours=1)).checked == scored_day
    assert predictions_verify(since=timezone.now() + timedelta(hours=1)).checked == 0


# --- the feature vector, recomputed from the history as it stood ------------------------------------


def test_a_feature_vector_that_the_history_does_not_give_is_reported(scored_day):
    original = Prediction.objects.order_by("id").first()
    features = [*original.features[:-1], original.features[-1] + 1.0]
    forged = copy_of(original, features=features)

    result = predictions_verify()

    assert [d.prediction_id for d in result.differences] == [forged.pk]
    assert result.differences[0].problem.startswith("stored features differ from the history as it stood: ")
    assert original.model_version.feature_names[-1] in result.differences[0].problem


def _terminal_history_row(prediction: Prediction) -> Transaction:
    """A legitimate transaction in the labelled window of a scored transaction's terminal."""
    tx = prediction.transaction
    return Transaction.objects.filter(
        terminal_id=tx.terminal_id,
        timestamp__gte=tx.timestamp - timedelta(days=37),
        timestamp__lt=tx.timestamp - timedelta(days=7),
        label="legitimate",
    ).first()


def test_a_label_learnt_after_scoring_is_read_as_it_was_then(scored_day):
    prediction, row = next(
        (p, row) for p in Prediction.objects.select_related("transaction") if (row := _terminal_history_row(p))
    )

    label_record(transaction=row, label="fraud", source="chargeback", actor=Actor(name="desk", via="api"))

    assert predictions_verify().differences == []
    # Read as it is now, the new label changes the terminal's risk: the check above is not vacuous.
    tx = prediction.transaction
    as_now = _features_as_scored(
        tx.pk,
        tx.timestamp,
        tx.customer_id,
        tx.terminal_id,
        tx.amount,
        scored_at=timezone.now(),
        names=prediction.model_version.feature_names,
    )
    assert as_now.tolist() != prediction.features


def test_history_loaded_after_scoring_is_left_out(scored_day, files):
    prediction = Prediction.objects.select_related("transaction").order_by("id").first()
    tx = prediction.transaction
    late = Transaction(
        transaction_id="late-arrival",
        timestamp=tx.timestamp - timedelta(hours=1),
        customer_id=tx.customer_id,
        terminal_id=tx.terminal_id,
        amount=tx.amount * 10,
        currency="EUR",
    )
    signed(late).save(force_insert=True)  # created now, after the prediction was scored

    assert predictions_verify().differences == []


def test_an_older_models_predictions_verify_with_its_own_feature_list(
    db, files, legacy_artifact, trained_artifact, tmp_path
):
    from predictions.services.model_versions import model_version_activate, model_version_register

    actor = Actor(name="tester", via="test")
    legacy = model_version_register(artifact_dir=legacy_artifact)
    model_version_activate(version=legacy.version, actor=actor)
    transactions_load(path=files["history"], with_labels=True)
    scored = transactions_score_file(path=files["day"], out=tmp_path / "scores.csv").scored
    # A model of every feature is active now; the older version's predictions keep their 15 features.
    model_version_activate(version=model_version_register(artifact_dir=trained_artifact).version, actor=actor)

    result = predictions_verify()

    assert {len(p.features) for p in Prediction.objects.all()} == {15}
    assert (result.versions, result.differences) == ({legacy.version: scored}, [])


def test_batch_items_of_one_customer_at_one_time_verify(db, active_model_version, scoring_client, transaction_payload):
    # A batch's items see the earlier items of the batch, in (timestamp, transaction_id) order: of two items of
    # one customer at the same moment, the second counts the first, not the other way round. A later request at
    # that moment counts both, as it counts every stored row up to its time. rescore --verify used to give the
    # first item its tied sibling too, and reported a difference that was not one.
    moment = (timezone.now() - timedelta(minutes=5)).isoformat()
    items = [
        transaction_payload(transaction_id=tid, timestamp=moment, customer_id="C7", amount=amount)
        for tid, amount in (("tie-a", "20.00"), ("tie-b", "900.00"))
    ]
    batch = scoring_client.post("/api/v1/transactions/batch/", {"items": items}, format="json")
    assert batch.status_code == 201, batch.content
    later = transaction_payload(transaction_id="tie-0", timestamp=moment, customer_id="C7", amount="50.00")
    assert scoring_client.post("/api/v1/transactions/", later, format="json").status_code == 201
    first, second, third = (
        Prediction.objects.get(transaction__transaction_id=tid).named_features["CUSTOMER_ID_NB_TX_1DAY_WINDOW"]
        for tid in ("tie-a", "tie-b", "tie-0")
    )
    assert (first, second, third) == (1.0, 2.0, 3.0)  # the transaction itself included

    result = predictions_verify()

    assert result.checked == 3
    assert result.differences == []
