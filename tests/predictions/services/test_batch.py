from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model_package.features import history_window, transaction_features
from predictions.models import Decision, Label, Prediction, ScoringRequest, Transaction
from predictions.services.batch import ScoreFileError, transactions_score_file
from predictions.services.loading import transactions_load

RECENT_FROM = pd.Timestamp("2026-03-04", tz="UTC")


@pytest.fixture(scope="module")
def files(small_transactions, tmp_path_factory) -> dict[str, Path]:
    """History (labelled) up to RECENT_FROM, and the first two recent days to score."""
    from model_package.io import write_transactions

    directory = tmp_path_factory.mktemp("batch")
    history = small_transactions[small_transactions["timestamp"] < RECENT_FROM]
    recent = small_transactions[
        (small_transactions["timestamp"] >= RECENT_FROM)
        & (small_transactions["timestamp"] < RECENT_FROM + pd.Timedelta(days=2))
    ]
    paths = {"history": directory / "history.csv", "recent": directory / "recent.csv"}
    write_transactions(history, paths["history"])
    # Shuffled: the service must put the rows in time order itself.
    write_transactions(recent.sample(frac=1.0, random_state=1), paths["recent"])
    return paths


@pytest.fixture
def with_history(db, files):
    transactions_load(path=files["history"], with_labels=True)


@pytest.mark.django_db
def test_it_stores_each_row_with_its_prediction_under_one_request(with_history, active_model_version, files, tmp_path):
    recent = pd.read_csv(files["recent"])
    out = tmp_path / "scores.csv"

    result = transactions_score_file(path=files["recent"], out=out)

    assert result.scored == len(recent)
    request = ScoringRequest.objects.get()
    assert (request.endpoint, request.status_code) == ("score_file", 201)
    predictions = Prediction.objects.filter(request=request)
    assert predictions.count() == len(recent)
    assert set(predictions.values_list("model_version__version", flat=True)) == {active_model_version.version}
    assert Transaction.objects.filter(transaction_id__in=recent["transaction_id"]).count() == len(recent)


@pytest.mark.django_db
def test_the_output_has_one_row_per_transaction_in_time_order(with_history, active_model_version, files, tmp_path):
    out = tmp_path / "scores.csv"
    transactions_score_file(path=files["recent"], out=out)

    written = pd.read_csv(out, dtype={"transaction_id": str}, float_precision="round_trip")
    recent = pd.read_csv(files["recent"], dtype={"transaction_id": str}).sort_values(["timestamp", "transaction_id"])
    assert list(written.columns) == ["transaction_id", "score", "decision", "model_decision", "model_version"]
    assert written["transaction_id"].tolist() == recent["transaction_id"].tolist()
    stored = dict(Prediction.objects.values_list("transaction__transaction_id", "score"))
    assert written["score"].tolist() == [stored[t] for t in written["transaction_id"]]
    assert set(written["decision"]) <= {"approve", "review", "decline"}
    assert set(written["model_version"]) == {active_model_version.version}


def online_features(tx: Transaction, names: list[str]) -> list[float]:
    """The serving computation (model_package.features.transaction_features) over what was stored before tx.

    The queries are the API's (services.scoring), minus tx itself, which the API had not stored yet.
    """
    window = history_window(tx.timestamp)
    others = Transaction.objects.exclude(pk=tx.pk)
    customer = others.filter(
        customer_id=tx.customer_id, timestamp__gt=window.customer_since, timestamp__lte=tx.timestamp
    ).values_list("timestamp", "amount")
    terminal = others.filter(
        terminal_id=tx.terminal_id, timestamp__gte=window.terminal_since, timestamp__lt=window.terminal_until
    ).values_list("timestamp", "label")
    return transaction_features(
        timestamp=tx.timestamp,
        amount=float(tx.amount),
        customer_history=[(ts, float(amount)) for ts, amount in customer],
        terminal_history=[(ts, label == Label.FRAUD) for ts, label in terminal],
        names=names,
    ).tolist()


@pytest.mark.django_db
@pytest.mark.parametrize("chunk_rows", [100_000, 7], ids=["one chunk", "chunks of 7 prepared while the last commits"])
def test_features_equal_what_the_api_computes_for_the_same_rows_in_order(
    with_history, active_model_version, files, tmp_path, chunk_rows
):
    transactions_score_file(path=files["recent"], out=tmp_path / "scores.csv", chunk_rows=chunk_rows)

    scored = list(Transaction.objects.filter(predictions__isnull=False).order_by("timestamp", "transaction_id"))
    # A row sharing its second with another row of its customer would depend on arrival order; none here.
    assert len({(tx.customer_id, tx.timestamp) for tx in scored}) == len(scored)
    # The first rows lean on stored history only, the later ones on the file's earlier rows too.
    for tx in scored[:20] + scored[-20:]:
        stored = tx.predictions.get().features  # the values, in model order
        assert stored == online_features(tx, active_model_version.feature_names), tx.transaction_id
    # Each output row carries the score stored with its own transaction.
    output = pd.read_csv(tmp_path / "scores.csv", dtype={"transaction_id": str}, float_precision="round_trip")
    stored_scores = dict(Prediction.objects.values_list("transaction__transaction_id", "score"))
    assert len(output) == len(scored)
    assert all(stored_scores[row.transaction_id] == row.score for row in output.itertuples())


@pytest.mark.django_db
def test_a_second_run_scores_nothing_and_writes_the_same_output(with_history, active_model_version, files, tmp_path):
    transactions_score_file(path=files["recent"], out=tmp_path / "first.csv")
    counts = (Transaction.objects.count(), Prediction.objects.count(), ScoringRequest.objects.count())

    again = transactions_score_file(path=files["recent"], out=tmp_path / "second.csv")

    assert (again.scored, again.already_scored) == (0, len(pd.read_csv(files["recent"])))
    assert (Transaction.objects.count(), Prediction.objects.count(), ScoringRequest.objects.count()) == counts
    assert (tmp_path / "first.csv").read_bytes() == (tmp_path / "second.csv").read_bytes()


@pytest.mark.django_db
def test_a_run_that_stopped_half_way_is_finished_by_the_next(with_history, active_model_version, files, tmp_path):
    recent = pd.read_csv(files["recent"], dtype={"transaction_id": str})
    first_half = tmp_path / "half.csv"
    recent.sort_values("timestamp").iloc[: len(recent) // 2].to_csv(first_half, index=False)
    transactions_score_file(path=first_half, out=tmp_path / "half-scores.csv")
    half = {p.transaction.transaction_id: p.score for p in Prediction.objects.select_related("transaction")}

    result = transactions_score_file(path=files["recent"], out=tmp_path / "scores.csv", chunk_rows=100)

    assert (result.already_scored, result.scored) == (len(half), len(recent) - len(half))
    assert ScoringRequest.objects.count() == 2
    # The earlier predictions are untouched.
    for transaction_id, score in half.items():
        assert Prediction.objects.get(transaction__transaction_id=transaction_id).score == score


@pytest.mark.django_db
def test_a_transaction_stored_with_other_content_is_refused_and_reported(
    with_history, active_model_version, files, tmp_path, make_transaction
):
    recent = pd.read_csv(files["recent"], dtype={"transaction_id": str})
    clash = recent.iloc[0]
    make_transaction(transaction_id=clash["transaction_id"], amount=Decimal("1.23"))

    result = transactions_score_file(path=files["recent"], out=tmp_path / "scores.csv")

    assert (result.refused, result.scored) == (1, len(recent) - 1)
    assert "already stored with different content" in result.problems[0].reason  # the API's words
    assert result.problems[0].line == 2  # the first data row of the file
    assert not Prediction.objects.filter(transaction__transaction_id=clash["transaction_id"]).exists()


@pytest.mark.django_db
def test_strict_stores_nothing_if_a_row_is_refused(with_history, active_model_version, files, tmp_path):
    recent = pd.read_csv(files["recent"], dtype={"transaction_id": str})
    bad = tmp_path / "bad.csv"
    recent.assign(amount=recent["amount"].astype(str).where(recent.index != 3, "-1")).to_csv(bad, index=False)
    before = Transaction.objects.count()

    with pytest.raises(ScoreFileError, match=r"1 rows cannot be scored, nothing stored: line 5: amount"):
        transactions_score_file(path=bad, out=tmp_path / "scores.csv", strict=True)

    assert Transaction.objects.count() == before
    assert not Prediction.objects.exists()
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.django_db
def test_without_an_active_model_it_refuses_before_storing_anything(with_history, files, tmp_path):
    before = Transaction.objects.count()
    with pytest.raises(ScoreFileError, match="no model version is active"):
        transactions_score_file(path=files["recent"], out=tmp_path / "scores.csv")
    assert Transaction.objects.count() == before
    assert not ScoringRequest.objects.exists()


@pytest.mark.django_db
def test_only_flagged_predictions_carry_reasons(with_history, active_model_version, files, tmp_path):
    transactions_score_file(path=files["recent"], out=tmp_path / "scores.csv")

    approved = Prediction.objects.filter(decision=Decision.APPROVE)
    assert set(map(len, approved.values_list("reasons", flat=True))) == {0}
    flagged = Prediction.objects.exclude(decision=Decision.APPROVE)
    assert any(flagged.values_list("reasons", flat=True)) == flagged.exists()
    assert np.isfinite(list(Prediction.objects.values_list("latency_ms", flat=True))).all()
