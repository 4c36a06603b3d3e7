"""Evaluating a model version from its stored predictions against the labels learnt since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from predictions.models import ModelVersion, Prediction, Transaction
from predictions.services.evaluation import (
    EvaluationError,
    evaluation_figures,
    evaluation_plot,
    model_version_evaluate,
)

DAY_1 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)

# (transaction, time, card, score, decision, label): six labelled transactions over two days, two unlabelled.
KNOWN_CASE = [
    ("a", DAY_1, "C1", 0.95, "decline", "fraud"),
    ("b", DAY_1, "C2", 0.80, "review", "legitimate"),
    ("c", DAY_1, "C3", 0.70, "review", "fraud"),
    ("d", DAY_2, "C1", 0.40, "approve", "legitimate"),
    ("e", DAY_2, "C4", 0.30, "approve", "fraud"),
    ("f", DAY_2, "C5", 0.10, "approve", "legitimate"),
    ("g", DAY_2, "C6", 0.60, "review", "unknown"),
    ("h", DAY_2, "C7", 0.20, "approve", "unknown"),
]


def make_version(name: str, *, is_active: bool = False) -> ModelVersion:
    return ModelVersion.objects.create(
        version=name,
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=[],
        thresholds={"review": 0.5, "decline": 0.9},
        trained_at=timezone.now() - timedelta(days=30),
        is_active=is_active,
    )


def store(rows, *, version: ModelVersion, prefix: str = "") -> None:
    for transaction_id, when, card, score, decision, label in rows:
        transaction = Transaction.objects.create(
            transaction_id=prefix + transaction_id,
            timestamp=when,
            customer_id=card,
            terminal_id="T1",
            amount=Decimal("10.00"),
            currency="EUR",
            label=label,
        )
        Prediction.objects.create(
            transaction=transaction,
            model_version=version,
            score=score,
            decision=decision,
            thresholds=version.thresholds,
            features=[],
            latency_ms=1.0,
        )


@pytest.fixture
def known_case(db) -> ModelVersion:
    version = make_version("eval-v1", is_active=True)
    store(KNOWN_CASE, version=version)
    return version


def test_it_computes_auc_and_average_precision_by_hand(known_case):
    evaluation = model_version_evaluate(k=1)

    # AUC: of the 3 x 3 (fraud, legitimate) pairs the fraud scores higher in 3 + 2 + 1 = 6 -> 6/9.
    assert evaluation.auc == pytest.approx(6 / 9)
    # AP: frauds at ranks 1, 3, 5 -> precisions 1, 2/3, 3/5, each for a third of the recall -> 34/45.
    assert evaluation.average_precision == pytest.approx(34 / 45)


def test_it_agrees_with_scikit_learns_metrics(known_case):
    from sklearn.metrics import average_precision_score, roc_auc_score

    labelled = [row for row in KNOWN_CASE if row[5] != "unknown"]
    labels = [int(row[5] == "fraud") for row in labelled]
    scores = [row[3] for row in labelled]

    evaluation = model_version_evaluate(k=1)

    assert evaluation.auc == pytest.approx(roc_auc_score(labels, scores))
    assert evaluation.average_precision == pytest.approx(average_precision_score(labels, scores))


def test_card_precision_leaves_out_cards_caught_on_an_earlier_day(known_case):
    # k=1. Day 1: the top card C1 is a fraud -> 1. Day 2: C1 (caught) is left out, so the top card is
    # C4 (0.30, fraud) -> 1, not C1 (0.40, legitimate). Mean over the two days: 1.0.
    assert model_version_evaluate(k=1).card_precision_at_k == pytest.approx(1.0)
    # k=2. Day 1: C1, C2 -> 1 fraud of 2. Day 2: C4, C5 -> 1 of 2. Mean 0.5.
    assert model_version_evaluate(k=2).card_precision_at_k == pytest.approx(0.5)


def test_unknown_labels_are_excluded_and_counted(known_case):
    evaluation = model_version_evaluate(k=1)

    assert (evaluation.predictions, evaluation.excluded_unknown) == (8, 2)
    assert (evaluation.transactions, evaluation.frauds, evaluation.days) == (6, 3, 2)


def test_it_gives_precision_and_recall_of_each_decision(known_case):
    figures = {row.decision: row for row in model_version_evaluate(k=1).decisions}

    # decline: a (fraud). review: b (legitimate), c (fraud). approve: d, f (legitimate), e (fraud). 3 frauds in all.
    assert (figures["decline"].transactions, figures["decline"].precision, figures["decline"].recall) == (
        1,
        1.0,
        pytest.approx(1 / 3),
    )
    assert (figures["review"].transactions, figures["review"].precision, figures["review"].recall) == (
        2,
        0.5,
        pytest.approx(1 / 3),
    )
    assert (figures["approve"].frauds, figures["approve"].recall) == (1, pytest.approx(1 / 3))
    flagged = figures["review or decline"]
    assert (flagged.transactions, flagged.frauds) == (3, 2)
    assert flagged.precision == pytest.approx(2 / 3)
    assert flagged.recall == pytest.approx(2 / 3)


def test_since_and_until_select_transactions_by_time(known_case):
    evaluation = model_version_evaluate(since=DAY_2 - timedelta(hours=1), until=DAY_2 + timedelta(hours=1), k=1)

    # Day 2 only: d (0.40, legitimate), e (0.30, fraud), f (0.10, legitimate) -> e beats f only: AUC 1/2.
    assert (evaluation.transactions, evaluation.frauds) == (3, 1)
    assert evaluation.auc == pytest.approx(0.5)


def test_it_evaluates_the_version_asked_for(known_case):
    other = make_version("eval-v0")
    store(
        [("x", DAY_1, "C9", 0.9, "decline", "fraud"), ("y", DAY_1, "C8", 0.1, "approve", "fraud")],
        version=other,
        prefix="v0-",
    )

    evaluation = model_version_evaluate(version="eval-v0", k=1)

    assert (evaluation.version, evaluation.transactions, evaluation.frauds) == ("eval-v0", 2, 2)
    assert evaluation.auc is None  # one class only


def test_an_unknown_or_missing_version_is_refused(db):
    with pytest.raises(EvaluationError, match="no model version is active"):
        model_version_evaluate()
    with pytest.raises(EvaluationError, match="unknown model version 'nope'"):
        model_version_evaluate(version="nope")


def test_it_writes_a_precision_recall_curve_and_a_score_histogram(known_case, tmp_path):
    paths = evaluation_plot(evaluation=model_version_evaluate(k=1), directory=tmp_path / "plots")

    assert [path.name for path in paths] == ["eval-v1-precision-recall.png", "eval-v1-score-histogram.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_of_a_version_without_labels_still_render(db, tmp_path):
    version = make_version("eval-empty", is_active=True)
    store([("u", DAY_1, "C1", 0.5, "review", "unknown")], version=version)

    evaluation = model_version_evaluate()

    assert (evaluation.transactions, evaluation.auc, evaluation.card_precision_at_k) == (0, None, None)
    assert all(path.exists() for path in evaluation_plot(evaluation=evaluation, directory=tmp_path))


def test_every_chart_title_fits_in_its_image_with_a_long_version_name(db):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    version = make_version("hgb-20261203T072247Z-c71d3074", is_active=True)
    store(
        [("a", DAY_1, "C1", 0.9, "decline", "fraud"), ("b", DAY_1, "C2", 0.1, "approve", "legitimate")], version=version
    )

    for figure in evaluation_figures(evaluation=model_version_evaluate(k=1)).values():
        renderer = FigureCanvasAgg(figure).get_renderer()  # as savefig draws a PNG
        title = figure.axes[0].title
        box = title.get_window_extent(renderer)
        assert "hgb-20261203T072247Z-c71d3074" in title.get_text()
        assert box.x0 >= 0 and box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height
