from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from model_package.io import DataFileError, read_transactions, write_transactions
from model_package.simulate import simulate

HEADER = "transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud"


def write(tmp_path, *lines: str):
    path = tmp_path / "tx.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_written_table_reads_back_identical(tmp_path):
    frame = simulate(customers=30, terminals=60, days=10, start=date(2024, 1, 1), seed=2)
    write_transactions(frame, tmp_path / "tx.csv")
    pd.testing.assert_frame_equal(read_transactions(tmp_path / "tx.csv"), frame)


def test_timestamps_are_written_in_iso_8601_utc_and_amounts_with_two_decimals(tmp_path):
    frame = pd.DataFrame(
        {
            "transaction_id": ["TX1"],
            "timestamp": [pd.Timestamp("2024-01-01T10:00:05+02:00")],
            "customer_id": ["C1"],
            "terminal_id": ["T1"],
            "amount": [12.3],
            "is_fraud": [0],
            "fraud_scenario": [0],
        }
    )
    write_transactions(frame, tmp_path / "tx.csv")
    assert (tmp_path / "tx.csv").read_text().splitlines()[1] == "TX1,2024-01-01T08:00:05+00:00,C1,T1,12.30,0,0"


def test_ids_stay_strings_and_naive_times_are_read_as_utc(tmp_path):
    frame = read_transactions(write(tmp_path, HEADER, "007,2024-01-01 10:00:00,0042,0099,5,1"))
    row = frame.iloc[0]
    assert (row.transaction_id, row.customer_id, row.terminal_id) == ("007", "0042", "0099")
    assert row.timestamp == pd.Timestamp("2024-01-01T10:00:00+00:00")
    assert (row.amount, row.is_fraud, row.fraud_scenario) == (5.0, 1, 0)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_transactions(tmp_path / "nowhere.csv")


def test_missing_columns_are_named(tmp_path):
    with pytest.raises(DataFileError, match="missing column\\(s\\) terminal_id, is_fraud"):
        read_transactions(write(tmp_path, "transaction_id,timestamp,customer_id,amount", "a,2024-01-01,c,1"))


def test_labels_may_be_missing_when_the_caller_says_so(tmp_path):
    path = write(tmp_path, "transaction_id,timestamp,customer_id,terminal_id,amount", "a,2024-01-01,c,t,1")
    assert read_transactions(path, require_labels=False)["is_fraud"].tolist() == [0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a,yesterday,c,t,1,0", "bad timestamp"),
        ("a,2024-01-01,c,t,lots,0", "bad amount"),
        ("a,2024-01-01,c,t,-1,0", "negative or empty amount on line 2"),
        ("a,2024-01-01,c,t,1,2", "is_fraud must be 0 or 1"),
        (",2024-01-01,c,t,1,0", "empty transaction_id on line 2"),
    ],
)
def test_a_bad_value_is_refused_in_one_line(tmp_path, line, message):
    with pytest.raises(DataFileError, match=message) as caught:
        read_transactions(write(tmp_path, HEADER, line))
    assert "\n" not in str(caught.value)


def test_a_duplicate_transaction_id_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="duplicate transaction_id on line 3"):
        read_transactions(write(tmp_path, HEADER, "a,2024-01-01,c,t,1,0", "a,2024-01-02,c,t,1,0"))


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="no transactions"):
        read_transactions(write(tmp_path, HEADER))
