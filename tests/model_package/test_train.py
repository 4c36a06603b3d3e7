from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from model_package.errors import TrainingError
from model_package.features import FEATURE_NAMES, feature_table
from model_package.io import write_transactions
from model_package.train import data_fingerprint, main, train_model


def test_the_default_windows_are_the_latest_that_fit_the_data(quick_results):
    # The small simulation runs 70 days from 2026-01-01, so its last day is 2026-03-11.
    assert quick_results["rf"].windows == {
        "data_start": "2026-01-01",
        "train_start": "2026-02-19",
        "train_end": "2026-02-25",
        "delay_start": "2026-02-26",
        "delay_end": "2026-03-04",
        "test_start": "2026-03-05",
        "test_end": "2026-03-11",
        "data_end": "2026-03-11",
    }


def expected_test_rows(transactions: pd.DataFrame, train_start: date) -> pd.DataFrame:
    """The test week without known compromised cards, written out the book's way: day by day."""
    day = transactions["timestamp"].dt.date
    start = pd.Timestamp(train_start).date()
    known = set(
        transactions.loc[
            (day >= start) & (day < start + pd.Timedelta(days=7)) & (transactions.is_fraud == 1), "customer_id"
        ]
    )
    kept = []
    for offset in range(7):
        test_day = start + pd.Timedelta(days=14 + offset)
        learned = test_day - pd.Timedelta(days=8)  # the day whose frauds are known by now
        known |= set(transactions.loc[(day == learned) & (transactions.is_fraud == 1), "customer_id"])
        kept.append(transactions[(day == test_day) & ~transactions["customer_id"].isin(known)])
    return pd.concat(kept)


def test_known_compromised_cards_are_left_out_of_the_test(small_transactions, quick_results):
    result = quick_results["logreg"]
    test = expected_test_rows(small_transactions, date.fromisoformat(result.windows["train_start"]))
    scores = result.pipeline.predict_proba(feature_table(small_transactions).loc[test.index].to_numpy())[:, 1]

    assert result.metrics["test"]["transactions"] == len(test)
    assert result.metrics["test"]["frauds"] == test["is_fraud"].sum()
    assert result.metrics["auc"] == pytest.approx(roc_auc_score(test["is_fraud"], scores), abs=1e-12)
    assert result.metrics["average_precision"] == pytest.approx(average_precision_score(test["is_fraud"], scores))


def test_the_training_window_holds_exactly_its_seven_days(small_transactions, quick_results):
    day = small_transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_train = small_transactions[(day >= "2026-02-19") & (day <= "2026-02-25")]
    assert quick_results["rf"].metrics["train"] == {
        "transactions": len(in_train),
        "frauds": int(in_train["is_fraud"].sum()),
    }


def test_thresholds_are_chosen_on_the_delay_days_before_the_test(quick_results):
    result = quick_results["rf"]
    chosen = result.metrics["thresholds"]
    assert chosen["days"] == [f"2026-0{d}" for d in ("2-26", "2-27", "2-28", "3-01", "3-02", "3-03", "3-04")]
    assert chosen["review"]["alerts_per_day"] <= 3  # the alert budget the fixture asked for
    assert 0 < result.thresholds.review <= result.thresholds.decline <= 1
    assert {"precision", "recall", "alerts_per_day"} <= set(result.metrics["test"]["review"])


def test_the_forest_is_the_books_row_and_predicts_in_one_thread(small_transactions):
    result = train_model(small_transactions, algorithm="rf", alert_budget=3)
    model = result.pipeline.named_steps["model"]
    assert (model.n_estimators, model.random_state, model.n_jobs) == (100, 0, 1)
    assert result.parameters["pipeline"]["model"]["n_estimators"] == 100
    assert result.parameters["protocol"]["delay_days"] == 7
    assert len(result.feature_medians) == len(FEATURE_NAMES)


@pytest.mark.parametrize("algorithm", ["logreg", "hgb"])
def test_every_algorithm_trains_and_evaluates(quick_results, algorithm):
    result = quick_results[algorithm]
    assert result.algorithm == algorithm
    assert result.version.startswith(f"{algorithm}-")
    assert 0.5 < result.metrics["auc"] <= 1


def test_too_few_days_for_the_protocol_is_refused(small_transactions):
    first_days = small_transactions[small_transactions["timestamp"] < "2026-01-15"]
    with pytest.raises(TrainingError, match=r"needs 21 days .* the data covers 2026-01-01 to 2026-01-14"):
        train_model(first_days)


def test_a_train_start_whose_test_runs_past_the_data_is_refused(small_transactions):
    with pytest.raises(TrainingError, match="from 2026-03-01 to 2026-03-21"):
        train_model(small_transactions, train_start=date(2026, 3, 1))


def test_an_unknown_algorithm_is_refused(small_transactions):
    with pytest.raises(TrainingError, match="unknown algorithm 'svm'"):
        train_model(small_transactions, algorithm="svm")


def test_a_training_week_without_fraud_is_refused(small_transactions):
    with pytest.raises(TrainingError, match="both frauds and legitimate"):
        train_model(small_transactions.assign(is_fraud=0))


def test_the_fingerprint_follows_the_content_not_the_row_order(small_transactions):
    shuffled = small_transactions.sample(frac=1, random_state=1)
    edited = small_transactions.copy()
    edited.loc[edited.index[0], "amount"] += 0.01
    assert data_fingerprint(shuffled) == data_fingerprint(small_transactions)
    assert data_fingerprint(edited) != data_fingerprint(small_transactions)


def test_the_command_trains_saves_and_prints_the_table(small_transactions, tmp_path, capsys):
    data = tmp_path / "tx.csv"
    write_transactions(small_transactions, data)
    assert (
        main(["--data", str(data), "--algorithm", "logreg", "--out", str(tmp_path / "model"), "--alert-budget", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "AUC" in out and "manifest sha256" in out
    assert (tmp_path / "model" / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("make_data", "message"),
    [
        (lambda tmp_path, frame: tmp_path / "missing.csv", "no such file"),
        (lambda tmp_path, frame: _written(tmp_path, frame.drop(columns=["is_fraud"])), "missing column(s) is_fraud"),
        (lambda tmp_path, frame: _written(tmp_path, frame[frame.timestamp < "2026-01-10"]), "needs 21 days"),
    ],
)
def test_the_command_refuses_bad_input_with_one_line(small_transactions, tmp_path, capsys, make_data, message):
    data = make_data(tmp_path, small_transactions)
    assert main(["--data", str(data), "--out", str(tmp_path / "model")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "model").exists()


def _written(tmp_path, frame):
    path = tmp_path / "tx.csv"
    write_transactions(frame, path)
    return path


def test_the_command_refuses_an_occupied_out_directory_with_one_line(small_transactions, tmp_path, capsys):
    data = _written(tmp_path, small_transactions)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("not an artifact")
    assert (
        main(["--data", str(data), "--algorithm", "logreg", "--alert-budget", "3", "--out", str(tmp_path / "model")])
        == 2
    )
    err = capsys.readouterr().err
    assert "not an empty directory" in err
    assert err.count("\n") == 1
