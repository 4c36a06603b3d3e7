from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from model_package.io import read_transactions
from model_package.simulate import _terminals_in_reach, main, simulate

SMALL = {"customers": 200, "terminals": 400, "days": 30, "start": date(2024, 1, 1), "seed": 3}


@pytest.fixture(scope="module")
def small():
    return simulate(**SMALL)


def test_the_same_seed_gives_the_same_transactions(small):
    pd.testing.assert_frame_equal(simulate(**SMALL), small)


def test_another_seed_gives_other_transactions(small):
    other = simulate(**{**SMALL, "seed": 4})
    assert len(other) != len(small) or not other["amount"].equals(small["amount"])


def test_rows_have_the_contract_columns_and_ids(small):
    assert list(small.columns) == [
        "transaction_id",
        "timestamp",
        "customer_id",
        "terminal_id",
        "amount",
        "is_fraud",
        "fraud_scenario",
    ]
    assert list(small["transaction_id"][:3]) == ["TX00000001", "TX00000002", "TX00000003"]
    assert small["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert small["terminal_id"].str.fullmatch(r"T\d{5}").all()
    assert str(small["timestamp"].dt.tz) == "UTC"
    assert small["timestamp"].is_monotonic_increasing


def test_transactions_fall_strictly_inside_the_simulated_days(small):
    start = pd.Timestamp(datetime(2024, 1, 1, tzinfo=UTC))
    seconds = (small["timestamp"] - start).dt.total_seconds()
    assert seconds.min() > 0
    assert seconds.max() < 30 * 86_400
    assert (seconds % 86_400 != 0).all()  # a time-of-day draw of 0 is dropped


def test_amounts_are_non_negative_cents(small):
    assert (small["amount"] >= 0).all()
    assert np.allclose(small["amount"] * 100, np.round(small["amount"] * 100))


def test_about_two_transactions_per_customer_a_day():
    # mean_nb_tx_per_day ~ Uniform(0, 4): 2 a day on average, 3 % of the time draws fall outside the day.
    frame = simulate(customers=1000, terminals=2000, days=20, start=date(2024, 1, 1), seed=1)
    expected = 1000 * 20 * 2 * 0.969
    assert abs(len(frame) - expected) / expected < 0.05


def test_a_customer_reaches_only_terminals_closer_than_five():
    customers = np.array([[50.0, 50.0], [0.0, 0.0]])
    terminals = np.array([[54.99, 50.0], [55.0, 50.0], [50.0, 46.0], [3.0, 4.0], [90.0, 90.0]])
    row_start, reachable = _terminals_in_reach(customers, terminals)
    assert list(reachable[row_start[0] : row_start[1]]) == [0, 2]
    assert list(reachable[row_start[1] : row_start[2]]) == []  # (3, 4) is exactly 5 away


def test_every_amount_above_220_is_fraud(small):
    assert small.loc[small["amount"] > 220, "is_fraud"].eq(1).all()
    assert small.loc[small["fraud_scenario"] == 0, "amount"].le(220).all()


def test_labels_agree_with_scenarios(small):
    assert set(small["fraud_scenario"]) <= {0, 1, 2, 3}
    assert (small["is_fraud"] == (small["fraud_scenario"] > 0)).all()


def test_when_every_terminal_is_compromised_every_day_every_transaction_is_fraud():
    # Two terminals, two compromised a day for 28 days: nothing escapes scenario 2 (or 3 on top of it).
    frame = simulate(customers=3000, terminals=2, days=10, start=date(2024, 1, 1), seed=2)
    assert len(frame) > 0
    assert frame["is_fraud"].eq(1).all()
    assert set(frame["fraud_scenario"]) <= {2, 3}


def test_compromised_customers_pay_five_times_more_on_a_third_of_their_transactions():
    # Two days, so one compromise day (day 0): all three customers, their transactions of days 0 and 1.
    frame = simulate(customers=3, terminals=4000, days=2, start=date(2024, 1, 1), seed=6)
    stolen = frame[frame["fraud_scenario"] == 3]
    assert len(frame) >= 6
    assert len(stolen) == len(frame) // 3
    cents = np.round(stolen["amount"] * 100).astype(int)
    assert (cents % 5 == 0).all()  # five times an amount in cents


def test_the_command_writes_a_readable_file(tmp_path, capsys):
    out = tmp_path / "tx.csv"
    argv = ["--customers", "50", "--terminals", "100", "--days", "5", "--start", "2024-01-01", "--seed", "9"]
    assert main([*argv, "--out", str(out)]) == 0
    written = read_transactions(out)
    expected = simulate(customers=50, terminals=100, days=5, start=date(2024, 1, 1), seed=9)
    pd.testing.assert_frame_equal(written, expected)
    assert "transactions" in capsys.readouterr().out


def test_the_command_refuses_zero_customers_with_one_line(tmp_path, capsys):
    argv = ["--customers", "0", "--terminals", "1", "--days", "1", "--start", "2024-01-01", "--seed", "1"]
    assert main([*argv, "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_customers_without_a_terminal_in_reach_make_no_transactions():
    frame = simulate(customers=1, terminals=1, days=3, start=date(2024, 1, 1), seed=0)
    assert frame.empty
    assert list(frame.columns) == list(simulate(**SMALL).columns)
