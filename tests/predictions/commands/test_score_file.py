from __future__ import annotations

import pandas as pd
import pytest
from django.core.management.base import CommandError

from predictions.models import Prediction, ScoringRequest


@pytest.fixture
def history(run, simulation_files):
    run("load_transactions", simulation_files["history"], "--with-labels")


@pytest.mark.django_db
def test_it_scores_the_file_and_sums_up_the_decisions(run, history, active_model_version, simulation_files, tmp_path):
    out = tmp_path / "scores.csv"
    rows = len(pd.read_csv(simulation_files["recent"]))

    ran = run("score_file", simulation_files["recent"], "--out", out)

    counts = {d: Prediction.objects.filter(decision=d).count() for d in ("approve", "review", "decline")}
    assert sum(counts.values()) == rows
    assert ran.summary.startswith(
        f"{rows:,} rows: {rows:,} scored ({counts['approve']:,} approve, {counts['review']:,} review, "
        f"{counts['decline']:,} decline), 0 already scored, 0 skipped; model {active_model_version.version}"
    )
    assert len(pd.read_csv(out)) == rows
    assert ScoringRequest.objects.get().client.startswith("cli")


@pytest.mark.django_db
def test_a_second_run_changes_nothing(run, history, active_model_version, simulation_files, tmp_path, db_counts):
    run("score_file", simulation_files["recent"], "--out", tmp_path / "first.csv")
    before = db_counts()

    ran = run("score_file", simulation_files["recent"], "--out", tmp_path / "second.csv")

    assert db_counts() == before
    assert f"0 scored (0 approve, 0 review, 0 decline), {before['Prediction']:,} already scored" in ran.summary


@pytest.mark.django_db
def test_without_an_active_model_it_fails_in_one_line(run, history, simulation_files, tmp_path, db_counts):
    before = db_counts()

    with pytest.raises(CommandError, match=r"^cannot score: no model version is active \(activate one") as error:
        run("score_file", simulation_files["recent"], "--out", tmp_path / "scores.csv")

    assert "\n" not in str(error.value)
    assert db_counts() == before
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("transaction_id,amount\nTX1,3.00\n", "missing columns: timestamp")],
)
def test_a_missing_file_or_wrong_columns_store_nothing(
    run, active_model_version, tmp_path, db_counts, content, message
):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_text(content)
    before = db_counts()

    with pytest.raises(CommandError, match=message):
        run("score_file", path, "--out", tmp_path / "scores.csv")

    assert db_counts() == before


def test_out_is_required(run, tmp_path):
    with pytest.raises(CommandError, match="the following arguments are required: --out"):
        run("score_file", tmp_path / "input.csv")
