"""evaluate_model: production metrics of a model version from stored predictions and labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from predictions.models import ModelVersion, Prediction, Transaction

DAY_1 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)

# (card, time, score, decision, label): 4 labelled, 1 unknown.
ROWS = [
    ("C1", DAY_1, 0.9, "review", "fraud"),
    ("C2", DAY_1, 0.6, "review", "legitimate"),
    ("C3", DAY_2, 0.4, "approve", "fraud"),
    ("C4", DAY_2, 0.2, "approve", "legitimate"),
    ("C5", DAY_2, 0.7, "review", "unknown"),
]


@pytest.fixture
def scored(db) -> ModelVersion:
    version = ModelVersion.objects.create(
        version="cmd-v1",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=[],
        thresholds={"review": 0.5, "decline": 0.95},
        trained_at=timezone.now() - timedelta(days=30),
        is_active=True,
    )
    for i, (card, when, score, decision, label) in enumerate(ROWS):
        tx = Transaction.objects.create(
            transaction_id=f"E{i}",
            timestamp=when,
            customer_id=card,
            terminal_id="T1",
            amount=Decimal("5.00"),
            currency="EUR",
            label=label,
        )
        Prediction.objects.create(
            transaction=tx,
            model_version=version,
            score=score,
            decision=decision,
            thresholds=version.thresholds,
            features=[],
            latency_ms=1.0,
        )
    return version


def _figure(out: str, name: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith(name))
    return line.split()[-1]


def test_it_prints_the_metrics_of_the_active_version(run, scored):
    ran = run("evaluate_model", "--k", "1")

    # Fraud scores 0.9, 0.4; legitimate 0.6, 0.2: 3 of the 4 pairs ordered right -> AUC 0.75.
    assert _figure(ran.out, "ROC AUC") == "0.750"
    # Ranked 0.9 F, 0.6 L, 0.4 F, 0.2 L -> AP = (1 + 2/3) / 2 = 0.833.
    assert _figure(ran.out, "average precision") == "0.833"
    # k=1: day 1 top card C1 is fraud (1), day 2 top card C3 is fraud (1) -> 1.000.
    assert _figure(ran.out, "card precision@1") == "1.000"
    assert "1 with an unknown label excluded" in ran.out
    # review: C1 (fraud), C2 (legitimate) -> precision 0.5, recall 1 of 2 frauds = 0.5.
    review = next(line for line in ran.out.splitlines() if line.startswith("review "))
    assert review.split() == ["review", "2", "1", "0.500", "0.500"]
    assert ran.summary == "evaluated 4 labelled transactions of model version cmd-v1"


def test_since_and_until_take_whole_days(run, scored):
    ran = run("evaluate_model", "--since", "2026-02-02", "--until", "2026-02-02", "--k", "1")

    # Day 2 only: C3 (0.4, fraud) above C4 (0.2, legitimate) -> AUC 1.0; C5 is unknown.
    assert "3 scored transactions; 1 with an unknown label excluded; 2 evaluated (1 fraud)" in ran.out
    assert _figure(ran.out, "ROC AUC") == "1.000"


def test_it_names_a_version_with_version(run, scored):
    ModelVersion.objects.filter(pk=scored.pk).update(is_active=False)

    assert "model version cmd-v1" in run("evaluate_model", "--version", "cmd-v1").out
    with pytest.raises(CommandError, match="no model version is active"):
        run("evaluate_model")
    with pytest.raises(CommandError, match="unknown model version 'v9'"):
        run("evaluate_model", "--version", "v9")


def test_plots_writes_two_png_charts(run, scored, tmp_path):
    ran = run("evaluate_model", "--plots", tmp_path / "charts")

    written = sorted(path.name for path in (tmp_path / "charts").iterdir())
    assert written == ["cmd-v1-precision-recall.png", "cmd-v1-score-histogram.png"]
    assert ran.out.count("wrote ") == 2


def test_a_bad_date_is_refused_by_the_parser(run, scored):
    with pytest.raises(CommandError, match="not a date"):
        run("evaluate_model", "--since", "last tuesday")
