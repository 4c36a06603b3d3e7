from __future__ import annotations

import pandas as pd
import pytest
from django.core.management.base import CommandError

from predictions.models import ModelVersion

QUICK = ["--algorithm", "logreg", "--alert-budget", "3"]


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    settings.FRAUDSITE_MODEL_DIR = tmp_path / "models"


@pytest.mark.django_db
def test_it_trains_from_a_file_registers_and_prints_the_metrics(run, simulation_files):
    ran = run("train_model", "--data", simulation_files["all"], *QUICK)

    version = ModelVersion.objects.get()
    assert "AUC" in ran.out and "CP@100" in ran.out
    assert ran.summary.startswith(f"model {version.version} registered; activate it with: python manage.py")
    assert not version.is_active


@pytest.mark.django_db
def test_it_trains_from_the_database_and_activates(run, simulation_files):
    run("load_transactions", simulation_files["all"], "--with-labels")

    ran = run("train_model", "--from-db", "--since", "2026-01-01", "--until", "2026-03-31", *QUICK, "--activate")

    version = ModelVersion.objects.get()
    assert version.is_active
    rows = len(pd.read_csv(simulation_files["all"]))  # every simulated day lies in January to March 2026
    assert ran.summary.startswith(f"model {version.version} registered and activated ({rows:,} transactions")


@pytest.mark.django_db
def test_a_second_run_registers_nothing(run, simulation_files, db_counts):
    run("train_model", "--data", simulation_files["all"], *QUICK, "--activate")
    before = db_counts()

    ran = run("train_model", "--data", simulation_files["all"], *QUICK, "--activate")

    assert db_counts() == before
    assert "already registered (same data and options)" in ran.summary


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "/nowhere/history.csv"], "no such file"),
        (["--from-db", "--since", "2026-01-01"], "--from-db needs --since and --until"),
        (["--from-db", "--since", "2026-01-01", "--until", "2026-01-31"], "no stored transactions between"),
        (["--data", "x.csv", "--algorithm", "svm"], "invalid choice: 'svm'"),
        (["--data", "x.csv", "--since", "2026-01-01"], "--since and --until go with --from-db"),
    ],
)
def test_bad_input_fails_in_one_line_and_registers_nothing(run, db_counts, arguments, message):
    before = db_counts()

    with pytest.raises(CommandError, match=message) as error:
        run("train_model", *arguments)

    assert "\n" not in str(error.value)
    assert db_counts() == before


@pytest.mark.django_db
def test_a_file_without_labels_is_refused(run, tmp_path, db_counts):
    path = tmp_path / "unlabelled.csv"
    path.write_text("transaction_id,timestamp,customer_id,terminal_id,amount\nTX1,2026-01-01T00:00:00Z,C1,T1,1\n")

    with pytest.raises(CommandError, match="missing column"):
        run("train_model", "--data", path)
    assert db_counts()["ModelVersion"] == 0
