from __future__ import annotations

import pandas as pd
import pytest
from django.core.management.base import CommandError

from predictions import rules
from predictions.models import Label, Transaction


@pytest.mark.django_db
def test_it_loads_a_simulated_file_with_its_labels(run, simulation_files):
    expected = pd.read_csv(simulation_files["history"])

    ran = run("load_transactions", simulation_files["history"], "--with-labels")

    assert Transaction.objects.count() == len(expected)
    assert Transaction.objects.filter(label=Label.FRAUD).count() == int(expected["is_fraud"].sum())
    assert ran.summary.startswith(f"{len(expected):,} rows read: {len(expected):,} stored, 0 already stored, 0 bad")


@pytest.mark.django_db
def test_a_second_run_stores_nothing_and_says_so(run, simulation_files, db_counts):
    run("load_transactions", simulation_files["history"], "--with-labels")
    before = db_counts()

    ran = run("load_transactions", simulation_files["history"], "--with-labels")

    assert db_counts() == before
    assert f"0 stored, {before['Transaction']:,} already stored" in ran.summary


@pytest.mark.django_db
def test_bad_rows_are_reported_on_stderr_with_their_line(run, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "transaction_id,timestamp,customer_id,terminal_id,amount\n"
        "TX1,2026-01-05T10:00:00Z,C1,T1,12.50\n"
        "TX2,2026-01-05T10:00:00,C1,T1,12.50\n"
    )

    ran = run("load_transactions", path)

    assert ran.err.strip() == f"skipped line 3: timestamp: {rules.TIMESTAMP_MESSAGE}"
    assert "1 stored, 0 already stored, 1 bad (skipped)" in ran.summary


@pytest.mark.django_db
def test_strict_refuses_the_file_in_one_line_and_stores_nothing(run, tmp_path, db_counts):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "transaction_id,timestamp,customer_id,terminal_id,amount\n"
        "TX1,2026-01-05T10:00:00Z,C1,T1,12.50\n"
        "TX2,2026-01-05T10:00:00Z,C1,T1,-3\n"
    )
    before = db_counts()

    with pytest.raises(CommandError, match=r"1 bad rows, nothing stored: line 3: amount: must be at least 0") as error:
        run("load_transactions", path, "--strict")

    assert "\n" not in str(error.value)
    assert db_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("id,when,amount\nTX1,2026-01-05T10:00:00Z,1\n", "missing columns: transaction_id, timestamp"),
    ],
)
def test_a_missing_file_or_wrong_columns_fail_in_one_line_and_store_nothing(run, tmp_path, db_counts, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_text(content)
    before = db_counts()

    with pytest.raises(CommandError, match=message):
        run("load_transactions", path)

    assert db_counts() == before


def test_help_shows_an_example(run, capsys):
    with pytest.raises(SystemExit):
        run("load_transactions", "--help")
    assert "example:\n  python manage.py load_transactions var/history.csv --with-labels" in capsys.readouterr().out
