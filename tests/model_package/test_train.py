from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from model_package.errors import TrainingError
from model_package.features import ALL_FEATURE_NAMES, DEFAULT_FEATURE_NAMES, feature_table
from model_package.io import write_transactions
from model_package.train import (
    DEFAULT_ALGORITHM,
    DEFAULT_PARAMS,
    DEFAULT_TRAIN_DAYS,
    data_fingerprint,
    main,
    train_model,
)

ALERT_BUDGET = 30  # the root conftest's: enough alerts a day for the small simulation's frauds


def test_the_default_windows_are_the_latest_that_fit_the_data(quick_results):
    # The small simulation runs 70 days from 2026-01-01, so its last day is 2026-03-11; 28 days of training.
    assert quick_results["rf"].windows == {
        "data_start": "2026-01-01",
        "train_start": "2026-01-29",
        "train_end": "2026-02-25",
        "delay_start": "2026-02-26",
        "delay_end": "2026-03-04",
        "test_start": "2026-03-05",
        "test_end": "2026-03-11",
        "data_end": "2026-03-11",
    }


def expected_test_rows(transactions: pd.DataFrame, test_start: date) -> pd.DataFrame:
    """The test week without known compromised cards, written out the book's way: day by day, the cards with a
    fraud in the book's training week (the 7 days before the delay) or by the test day - 8."""
    day = transactions["timestamp"].dt.date
    start = pd.Timestamp(test_start).date() - pd.Timedelta(days=14)
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


@pytest.mark.parametrize("train_days", [7, DEFAULT_TRAIN_DAYS])
def test_known_compromised_cards_are_the_books_whatever_the_training_window(small_transactions, train_days):
    result = train_model(
        small_transactions, algorithm="logreg", train_days=train_days, alert_budget=ALERT_BUDGET, model_params={}
    )
    test = expected_test_rows(small_transactions, date.fromisoformat(result.windows["test_start"]))
    rows = feature_table(small_transactions, result.feature_names).loc[test.index].to_numpy()
    scores = result.pipeline.predict_proba(rows)[:, 1]

    assert result.metrics["test"]["transactions"] == len(test)
    assert result.metrics["test"]["frauds"] == test["is_fraud"].sum()
    assert result.metrics["auc"] == pytest.approx(roc_auc_score(test["is_fraud"], scores), abs=1e-12)
    assert result.metrics["average_precision"] == pytest.approx(average_precision_score(test["is_fraud"], scores))


def test_the_training_window_holds_exactly_its_days(small_transactions, quick_results):
    day = small_transactions["timestamp"].dt.strftime("%Y-%m-%d")
    in_train = small_transactions[(day >= "2026-01-29") & (day <= "2026-02-25")]
    assert quick_results["rf"].metrics["train"] == {
        "transactions": len(in_train),
        "frauds": int(in_train["is_fraud"].sum()),
    }


def test_thresholds_are_chosen_on_the_delay_days_before_the_test(quick_results):
    result = quick_results["rf"]
    chosen = result.metrics["thresholds"]
    assert chosen["days"] == [f"2026-0{d}" for d in ("2-26", "2-27", "2-28", "3-01", "3-02", "3-03", "3-04")]
    assert chosen["review"]["alerts_per_day"] <= ALERT_BUDGET  # the alert budget the fixture asked for
    assert 0 < result.thresholds.review < result.thresholds.decline <= 1
    assert {"precision", "recall", "alerts_per_day"} <= set(result.metrics["test"]["review"])


def test_the_forest_is_the_books_row_and_predicts_in_one_thread(small_transactions):
    result = train_model(small_transactions, algorithm="rf", alert_budget=ALERT_BUDGET)
    model = result.pipeline.named_steps["model"]
    assert (model.n_estimators, model.random_state, model.n_jobs) == (100, 0, 1)
    assert result.parameters["pipeline"]["model"]["n_estimators"] == 100
    assert result.parameters["protocol"]["delay_days"] == 7
    assert len(result.feature_medians) == len(result.feature_names)


def test_the_default_model_is_the_tuned_boosting_on_every_feature_over_28_days(small_transactions):
    result = train_model(small_transactions, alert_budget=ALERT_BUDGET)
    model = result.pipeline.named_steps["model"]
    assert (result.algorithm, DEFAULT_ALGORITHM) == ("hgb", "hgb")
    assert {name: model.get_params()[name] for name in DEFAULT_PARAMS["hgb"]} == DEFAULT_PARAMS["hgb"]
    assert result.feature_names == DEFAULT_FEATURE_NAMES == ALL_FEATURE_NAMES
    assert model.n_features_in_ == len(ALL_FEATURE_NAMES)
    assert result.parameters["protocol"]["train_days"] == DEFAULT_TRAIN_DAYS == 28


def test_a_model_trained_on_some_features_records_them_in_its_order(small_transactions):
    names = ("TERMINAL_ID_NB_FRAUD_7DAY_WINDOW", "TX_AMOUNT", "CUSTOMER_ID_AMOUNT_OVER_MEDIAN_30DAY_WINDOW")
    result = train_model(small_transactions, feature_names=names, alert_budget=ALERT_BUDGET)
    assert result.feature_names == names
    assert result.pipeline.named_steps["model"].n_features_in_ == 3
    assert len(result.feature_medians) == 3


def test_empty_model_params_are_the_librarys_defaults_the_books_rows(small_transactions):
    result = train_model(small_transactions, algorithm="hgb", model_params={}, alert_budget=ALERT_BUDGET)
    model = result.pipeline.named_steps["model"]
    assert (model.learning_rate, model.max_iter, model.max_leaf_nodes) == (0.1, 100, 31)


def test_an_unknown_feature_is_refused_by_name(small_transactions):
    with pytest.raises(TrainingError, match=r"unknown feature.*TX_COLOUR"):
        train_model(small_transactions, feature_names=["TX_AMOUNT", "TX_COLOUR"])


def test_a_model_without_a_review_band_is_refused_with_one_line(small_transactions):
    # Ten trees on a week with 25 frauds a day tie hundreds of rows at a score of 1.0, far more than 3 alerts a
    # day: the only threshold within the budget flags just those ties, and each one would be declined.
    with pytest.raises(TrainingError, match="no review band") as refused:
        train_model(small_transactions, algorithm="rf", alert_budget=3, model_params={"n_estimators": 10})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("algorithm", ["logreg", "hgb"])
def test_every_algorithm_trains_and_evaluates(quick_results, algorithm):
    result = quick_results[algorithm]
    assert result.algorithm == algorithm
    assert result.version.startswith(f"{algorithm}-")
    assert 0.5 < result.metrics["auc"] <= 1


def test_too_few_days_for_the_protocol_is_refused(small_transactions):
    first_days = small_transactions[small_transactions["timestamp"] < "2026-01-15"]
    with pytest.raises(TrainingError, match=r"needs 42 days .* the data covers 2026-01-01 to 2026-01-14"):
        train_model(first_days)


def test_a_train_start_whose_test_runs_past_the_data_is_refused(small_transactions):
    with pytest.raises(TrainingError, match="from 2026-03-01 to 2026-04-11"):
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
        main(["--data", str(data), "--algorithm", "logreg", "--out", str(tmp_path / "model"), "--alert-budget", "30"])
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
        (lambda tmp_path, frame: _written(tmp_path, frame[frame.timestamp < "2026-01-10"]), "needs 42 days"),
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
        main(["--data", str(data), "--algorithm", "logreg", "--alert-budget", "30", "--out", str(tmp_path / "model")])
        == 2
    )
    err = capsys.readouterr().err
    assert "not an empty directory" in err
    assert err.count("\n") == 1
