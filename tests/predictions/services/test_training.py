from __future__ import annotations

from datetime import UTC, datetime

import pytest

from model_package.artifacts import manifest_sha256
from model_package.errors import TrainingError
from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.loading import transactions_load
from predictions.services.training import (
    TrainingOptions,
    model_train_from_db,
    model_train_from_file,
    training_frame,
)

ACTOR = Actor(name="tester", via="test")

OPTIONS = TrainingOptions(algorithm="logreg", alert_budget=3)


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    """Each test writes its artifacts to a directory of its own."""
    settings.FRAUDSITE_MODEL_DIR = tmp_path / "models"
    return settings.FRAUDSITE_MODEL_DIR


@pytest.fixture(scope="module")
def data_file(small_transactions, tmp_path_factory):
    from model_package.io import write_transactions

    path = tmp_path_factory.mktemp("training") / "all.csv"
    write_transactions(small_transactions, path)
    return path


@pytest.mark.django_db
def test_training_from_a_file_registers_a_verified_version_under_the_model_dir(data_file, settings):
    outcome = model_train_from_file(path=data_file, options=OPTIONS)

    version = outcome.model_version
    assert outcome.created and not outcome.activated and not version.is_active
    assert version.algorithm == "logreg"
    assert version.artifact_path == str(settings.FRAUDSITE_MODEL_DIR / version.version)
    assert version.artifact_sha256 == manifest_sha256(settings.FRAUDSITE_MODEL_DIR / version.version)
    assert version.parameters["protocol"]["alert_budget"] == 3
    assert {"auc", "average_precision", "card_precision_at_k"} <= set(version.metrics)
    assert "AUC" in outcome.metrics_table


@pytest.mark.django_db
def test_training_the_same_data_with_the_same_options_registers_nothing_new(data_file, settings):
    first = model_train_from_file(path=data_file, options=OPTIONS)
    artifacts = sorted(settings.FRAUDSITE_MODEL_DIR.iterdir())

    again = model_train_from_file(path=data_file, options=OPTIONS)

    assert not again.created
    assert again.model_version.pk == first.model_version.pk
    assert sorted(settings.FRAUDSITE_MODEL_DIR.iterdir()) == artifacts


@pytest.mark.django_db
def test_other_options_make_another_version(data_file):
    first = model_train_from_file(path=data_file, options=OPTIONS)
    other = model_train_from_file(path=data_file, options=TrainingOptions(algorithm="logreg", alert_budget=5))

    assert other.created
    assert other.model_version.pk != first.model_version.pk


@pytest.mark.django_db
def test_activate_makes_the_new_version_the_active_one(data_file):
    outcome = model_train_from_file(path=data_file, options=OPTIONS, activate_by=ACTOR)

    assert outcome.activated
    assert ModelVersion.objects.get(is_active=True).pk == outcome.model_version.pk


@pytest.mark.django_db
def test_the_database_frame_reads_stored_labels_as_fraud_or_not(data_file, small_transactions):
    transactions_load(path=data_file, with_labels=True)

    frame = training_frame(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 4, 1, tzinfo=UTC))

    assert len(frame) == len(small_transactions)
    assert int(frame["is_fraud"].sum()) == int(small_transactions["is_fraud"].sum())
    expected = small_transactions.sort_values(["timestamp", "transaction_id"]).reset_index(drop=True)
    assert frame["transaction_id"].tolist() == expected["transaction_id"].tolist()
    assert frame["amount"].tolist() == expected["amount"].tolist()
    assert (frame["timestamp"] == expected["timestamp"]).all()


@pytest.mark.django_db
def test_training_from_the_database_gives_the_model_the_file_gives(data_file):
    # The same rows and labels, read from the database instead of the file: the same fingerprint, so the
    # same model (training is deterministic), and no second registration.
    from_file = model_train_from_file(path=data_file, options=OPTIONS)
    transactions_load(path=data_file, with_labels=True)

    from_db = model_train_from_db(
        since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 4, 1, tzinfo=UTC), options=OPTIONS
    )

    assert from_db.model_version.pk == from_file.model_version.pk
    assert not from_db.created


@pytest.mark.django_db
def test_too_few_days_for_the_protocol_is_a_training_error(data_file, settings):
    transactions_load(path=data_file, with_labels=True)

    with pytest.raises(TrainingError, match="the protocol needs 42 days"):
        model_train_from_db(
            since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 15, tzinfo=UTC), options=OPTIONS
        )
    assert not ModelVersion.objects.exists()
    assert not settings.FRAUDSITE_MODEL_DIR.exists() or not any(settings.FRAUDSITE_MODEL_DIR.iterdir())


@pytest.mark.django_db
def test_an_empty_range_is_a_training_error():
    with pytest.raises(TrainingError, match="no stored transactions between 2026-01-01 00:00 and 2026-02-01 00:00"):
        model_train_from_db(
            since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC), options=OPTIONS
        )


@pytest.mark.django_db
def test_without_an_algorithm_it_trains_the_default_model(data_file):
    from model_package.features import DEFAULT_FEATURE_NAMES
    from model_package.train import DEFAULT_ALGORITHM

    outcome = model_train_from_file(path=data_file, options=TrainingOptions(alert_budget=30))

    version = outcome.model_version
    assert (version.algorithm, version.feature_names) == (DEFAULT_ALGORITHM, list(DEFAULT_FEATURE_NAMES))
    assert version.thresholds["review"] < version.thresholds["decline"]


@pytest.mark.django_db
def test_a_model_without_a_review_band_is_refused_and_nothing_is_registered(data_file, settings):
    # A hundred trees and one alert a day, on a week with 25 frauds a day: ties at the top score take the budget.
    with pytest.raises(TrainingError, match="no review band"):
        model_train_from_file(path=data_file, options=TrainingOptions(algorithm="rf", alert_budget=1))

    assert not ModelVersion.objects.exists()
    assert not settings.FRAUDSITE_MODEL_DIR.exists() or not any(settings.FRAUDSITE_MODEL_DIR.iterdir())
