from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from django.core.management.base import CommandError

OPTIONS = ["--customers", "40", "--terminals", "80", "--days", "5", "--start", "2026-02-01", "--seed", "3"]


def test_it_writes_the_simulators_table_as_csv(run, tmp_path):
    from model_package.simulate import simulate

    out = tmp_path / "sim.csv"
    ran = run("generate_transactions", *OPTIONS, "--out", out)

    written = pd.read_csv(out)
    expected = simulate(customers=40, terminals=80, days=5, start=date(2026, 2, 1), seed=3)
    assert list(written.columns) == [
        "transaction_id",
        "timestamp",
        "customer_id",
        "terminal_id",
        "amount",
        "is_fraud",
        "fraud_scenario",
    ]
    assert written["transaction_id"].tolist() == expected["transaction_id"].tolist()
    assert written["amount"].tolist() == expected["amount"].round(2).tolist()
    assert ran.summary.startswith(f"{len(expected):,} transactions, {int(expected['is_fraud'].sum()):,} frauds")


def test_the_same_seed_writes_the_same_file(run, tmp_path):
    run("generate_transactions", *OPTIONS, "--out", tmp_path / "a.csv")
    run("generate_transactions", *OPTIONS, "--out", tmp_path / "b.csv")

    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]  # no partial file left behind


def test_a_bad_option_fails_in_one_line_and_writes_nothing(run, tmp_path):
    with pytest.raises(CommandError, match="argument --days: must be at least 1, got 0"):
        run("generate_transactions", "--days", "0", "--out", tmp_path / "sim.csv")
    assert list(tmp_path.iterdir()) == []


def test_an_id_prefix_keeps_separate_files_apart(run, tmp_path):
    run("generate_transactions", *OPTIONS, "--id-prefix", "feb-", "--out", tmp_path / "sim.csv")

    ids = pd.read_csv(tmp_path / "sim.csv")["transaction_id"]
    assert ids.iloc[0] == "feb-TX00000001"
    assert ids.str.startswith("feb-TX").all()
