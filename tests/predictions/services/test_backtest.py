"""Backtests: a period's stored transactions replayed with a candidate, against the live decisions; nothing written.

The fixture history is one day of ten transactions whose candidate score is amount / 1000 (a stand-in model),
so each figure below can be counted by hand from the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from predictions.models import AuditEvent, Prediction, ScoringRequest, ShadowPrediction
from predictions.services.backtest import BacktestError, backtest_run
from tests.conftest import aware

pytestmark = pytest.mark.django_db

DAY = aware(2026, 3, 2)
# (amount, label now, live decision). At review 0.5 and decline 0.9 the candidate decides on amount / 1000:
# decline from 900, review from 500, approve below.
HISTORY = [
    (950, "fraud", "decline"),  # 1: candidate decline, unchanged
    (920, "fraud", "review"),  # 2: candidate decline, changed
    (910, "legitimate", "approve"),  # 3: candidate decline, changed
    (700, "fraud", "review"),  # 4: candidate review, unchanged
    (600, "legitimate", "approve"),  # 5: candidate review, changed
    (550, "legitimate", "approve"),  # 6: candidate review, changed
    (300, "fraud", "review"),  # 7: candidate approve, changed
    (200, "legitimate", "approve"),  # 8: candidate approve
    (100, "legitimate", "approve"),  # 9: candidate approve
    (50, "unknown", "approve"),  # 10: candidate approve; unlabelled, so in no precision or recall
]
LIVE_SCORE = {"approve": 0.1, "review": 0.6, "decline": 0.95}


@dataclass(frozen=True)
class Scored:
    score: float


class AmountModel:
    """A stand-in candidate: its score is the amount (its first feature) / 1000."""

    def __init__(self, feature_names=("TX_AMOUNT", "TX_DURING_NIGHT")) -> None:
        self.feature_names = tuple(feature_names)

    def score_many(self, features: np.ndarray, *, explain: str) -> list[Scored]:
        return [Scored(float(row[0]) / 1000) for row in features]


@pytest.fixture
def history(make_prediction, make_transaction):
    for n, (amount, label, decision) in enumerate(HISTORY, start=1):
        make_prediction(
            score=LIVE_SCORE[decision],
            decision=decision,
            transaction_id=f"bt-{n:02d}",
            timestamp=DAY.replace(hour=n),
            customer_id=f"C{n}",
            amount=Decimal(amount),
            label=label,
        )
    # Outside the period: never replayed.
    make_prediction(score=0.95, transaction_id="bt-next-day", timestamp=aware(2026, 3, 3, 1), amount=Decimal(990))


def run(model=None, **options):
    with mock.patch("predictions.services.backtest._model", return_value=model or AmountModel()):
        return backtest_run(since=DAY, until=aware(2026, 3, 3), review=0.5, decline=0.9, **options)


def figures(side):
    return {row.decision: (row.transactions, row.frauds, row.precision, row.recall) for row in side.decisions}


def test_it_gives_the_precision_and_recall_of_each_decision_counted_by_hand(history, model_version):
    backtest = run()

    live, candidate = backtest.comparison.sides
    # 9 labelled, 4 frauds (1, 2, 4, 7).
    assert (candidate.labelled, candidate.frauds) == (live.labelled, live.frauds) == (9, 4)
    assert figures(candidate) == {
        "decline": (3, 2, 2 / 3, 2 / 4),  # 1, 2, 3
        "review": (3, 1, 1 / 3, 1 / 4),  # 4, 5, 6
        "approve": (3, 1, 1 / 3, 1 / 4),  # 7, 8, 9 (10 is unlabelled)
        "review or decline": (6, 3, 3 / 6, 3 / 4),
    }
    assert figures(live) == {
        "decline": (1, 1, 1.0, 1 / 4),  # 1
        "review": (3, 3, 1.0, 3 / 4),  # 2, 4, 7
        "approve": (5, 0, 0.0, 0.0),  # 3, 5, 6, 8, 9
        "review or decline": (4, 4, 1.0, 1.0),
    }
    assert (live.alerts_per_day, candidate.alerts_per_day) == (4.0, 6.0)
    assert backtest.comparison.transactions == 10
    assert (backtest.from_stored, backtest.recomputed) == (10, 0)


def test_it_lists_the_decisions_that_would_change(history, model_version):
    comparison = run().comparison

    assert sorted(comparison.changed["transaction_id"]) == ["bt-02", "bt-03", "bt-05", "bt-06", "bt-07"]
    assert comparison.changes == {
        ("review", "decline"): 1,
        ("approve", "decline"): 1,
        ("approve", "review"): 2,
        ("review", "approve"): 1,
    }


def test_card_precision_at_k_counts_the_frauds_among_the_top_k_cards(history, model_version):
    # k = 2: the candidate's top cards are C1 (0.95) and C2 (0.92), both fraud; live's are C1 (0.95) and, of the
    # cards at 0.6 (C2, C4, C7), C2 by card id (stable order): both fraud too. k = 3 separates them: C3 (0.91, a
    # legitimate card) against C4 (0.6, fraud).
    assert [side.card_precision_at_k for side in run(k=2).comparison.sides] == [1.0, 1.0]
    assert [side.card_precision_at_k for side in run(k=3).comparison.sides] == [1.0, 2 / 3]


def test_a_candidate_with_other_features_is_scored_from_recomputed_history(history, model_version):
    backtest = run(AmountModel(feature_names=("TX_AMOUNT",)))

    # The same amounts, recomputed: the same figures.
    assert (backtest.from_stored, backtest.recomputed) == (0, 10)
    assert figures(backtest.comparison.sides[1])["review or decline"] == (6, 3, 3 / 6, 3 / 4)


def test_the_rules_hook_decides_last(history, model_version):
    def never_decline(model_decision, fields, features):
        assert features["TX_AMOUNT"] == float(fields["amount"]) and features["score"] == fields["amount"] / 1000
        return "review" if model_decision == "decline" else model_decision

    with mock.patch("predictions.services.backtest._model", return_value=AmountModel()):
        backtest = backtest_run(since=DAY, until=aware(2026, 3, 3), review=0.5, decline=0.9, decide=never_decline)

    assert figures(backtest.comparison.sides[1])["decline"] == (0, 0, None, 0.0)


def test_with_the_live_model_and_its_thresholds_nothing_changes_and_nothing_is_written(
    active_model_version, scoring_client, transaction_payload, tmp_path
):
    amounts = ["5.00", "40.00", "250.00", "900.00", "1500.00", "3000.00"]
    for amount in amounts:
        body = transaction_payload(amount=amount)
        assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201
    counts = (Prediction.objects.count(), ScoringRequest.objects.count(), AuditEvent.objects.count())
    out = StringIO()
    today = pd.Timestamp.now(tz="UTC").date().isoformat()

    call_command(
        "backtest",
        "--since",
        today,
        "--until",
        today,
        "--out",
        tmp_path / "changed.csv",
        "--plots",
        tmp_path / "plots",
        stdout=out,
    )

    text = out.getvalue()
    assert "features: 6 stored, 0 recomputed from history" in text
    assert "decisions that would change: 0 of 6 transactions both decided" in text
    assert pd.read_csv(tmp_path / "changed.csv").empty
    assert len(list((tmp_path / "plots").glob("*.png"))) == 1
    assert (Prediction.objects.count(), ScoringRequest.objects.count(), AuditEvent.objects.count()) == counts
    assert ShadowPrediction.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-03-05", "--until", "2026-03-01"], "must be after --since"),
        (["--since", "2026-03-01", "--until", "2026-03-05", "--model", "nope"], "unknown model version 'nope'"),
        (
            ["--since", "2026-03-01", "--until", "2026-03-05", "--review", "0.9", "--decline", "0.5"],
            "must not be above",
        ),
        (["--since", "2026-03-01", "--until", "2026-03-05"], "no stored transaction between"),
        (["--since", "March", "--until", "2026-03-05"], "is not a date"),
        (["--since", "2026-03-01", "--until", "2026-03-05", "--review", "2"], "must be a score from 0 to 1"),
    ],
)
def test_bad_arguments_are_one_line_errors(active_model_version, args, message):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("backtest", *args)
    assert "\n" not in str(raised.value)


def test_without_an_active_model_it_asks_for_one(db):
    with pytest.raises(BacktestError, match="name the candidate with --model"):
        backtest_run(since=DAY, until=aware(2026, 3, 3))


def test_the_candidate_decides_with_a_rule_set_and_the_lists_as_they_stood(history, model_version):
    from datetime import timedelta

    from predictions.models import ListEntry
    from predictions.services.backtest import layer_decision
    from predictions.services.comparison import CANDIDATE
    from predictions.services.events import Actor
    from predictions.services.policy import rule_set_create

    big = {"name": "big", "condition": {">": [{"var": "amount"}, 650]}, "decision": "decline"}
    rule_set_create(version="r1", rules=[big], description="", actor=Actor(name="ana", via="test"))
    # C9 was blocked before the day; C8 only now, after it: its transaction was not blocked then.
    ListEntry.objects.create(list="block", field="customer_id", value="C9", reason="x", created_at=DAY - timedelta(1))
    ListEntry.objects.create(list="block", field="customer_id", value="C8", reason="y")

    decided = run(decide=layer_decision("r1")).frame.sort_values("transaction_id")[f"{CANDIDATE}_decision"]

    # Thresholds alone: decline 950, 920, 910; review 700, 600, 550; approve the rest (HISTORY). The rule declines
    # 700 too, and the list C9 (100).
    assert decided.tolist() == [
        *["decline"] * 4,
        *["review"] * 2,
        *["approve"] * 2,
        "decline",
        "approve",
    ]
    assert run(decide=layer_decision("none")).frame.sort_values("transaction_id")[f"{CANDIDATE}_decision"].tolist()[
        3
    ] == ("review")
    with pytest.raises(BacktestError, match="unknown rule set version 'r9'"):
        layer_decision("r9")
