"""services.scoring: features from the stored history, one atomic write, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError

from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES
from predictions.models import Prediction, ScoringRequest, Transaction
from predictions.services import scoring
from predictions.services.audit import request_audit_begin
from predictions.services.model_loader import ModelUnavailable
from predictions.services.scoring import (
    DuplicateTransaction,
    TransactionInput,
    transaction_score,
    transactions_score_batch,
)

pytestmark = pytest.mark.django_db

# A Saturday, 03:00 UTC: a weekend and a night transaction.
T = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)


def audit():
    return request_audit_begin(endpoint="transactions", body=b"{}", remote_addr="127.0.0.1")


def tx(transaction_id="new-1", *, timestamp=T, customer_id="C1", terminal_id="T1", amount="40.00", **extra):
    return TransactionInput(
        transaction_id=transaction_id,
        timestamp=timestamp,
        customer_id=customer_id,
        terminal_id=terminal_id,
        amount=Decimal(amount),
        currency="EUR",
        metadata=extra.pop("metadata", {}),
    )


@pytest.fixture
def history(make_transaction):
    """The customer's and the terminal's stored history around T, each row placed to test one window edge."""
    for ago, amount in [(timedelta(hours=2), "10.00"), (timedelta(days=3), "20.00"), (timedelta(days=20), "30.00")]:
        make_transaction(timestamp=T - ago, customer_id="C1", terminal_id="T-else", amount=Decimal(amount))
    make_transaction(timestamp=T - timedelta(days=31), customer_id="C1", terminal_id="T-else", amount=Decimal(1000))
    for ago, label in [
        (timedelta(days=3), "fraud"),  # inside the 7-day label delay: not counted
        (timedelta(days=7, hours=12), "fraud"),  # in the 1-, 7- and 30-day terminal windows
        (timedelta(days=10), "legitimate"),  # in the 7- and 30-day windows
        (timedelta(days=20), "unknown"),  # in the 30-day window, not a fraud
        (timedelta(days=40), "fraud"),  # older than 7 + 30 days: not counted
    ]:
        make_transaction(timestamp=T - ago, customer_id="C-other", terminal_id="T1", label=label)


def test_it_computes_the_features_from_the_stored_history(active_model_version, history):
    transaction_score(transaction_input=tx(), audit=audit())

    prediction = Prediction.objects.get()
    # The values, in the model version's feature order: the default model's, every feature.
    assert active_model_version.feature_names == list(ALL_FEATURE_NAMES) == list(prediction.named_features)
    features = prediction.named_features
    assert {name: features[name] for name in FEATURE_NAMES} == {
        "TX_AMOUNT": 40.0,
        "TX_DURING_WEEKEND": 1.0,
        "TX_DURING_NIGHT": 1.0,
        # Customer windows hold the transaction itself: 1 day (10 + 40), 7 days (+20), 30 days (+30).
        "CUSTOMER_ID_NB_TX_1DAY_WINDOW": 2.0,
        "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW": 25.0,
        "CUSTOMER_ID_NB_TX_7DAY_WINDOW": 3.0,
        "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW": 70 / 3,
        "CUSTOMER_ID_NB_TX_30DAY_WINDOW": 4.0,
        "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW": 25.0,
        # Terminal windows end 7 days back: [t-8d, t-7d) one fraud; [t-14d, t-7d) + one legitimate; [t-37d, t-7d)
        # + one unknown.
        "TERMINAL_ID_NB_TX_1DAY_WINDOW": 1.0,
        "TERMINAL_ID_RISK_1DAY_WINDOW": 1.0,
        "TERMINAL_ID_NB_TX_7DAY_WINDOW": 2.0,
        "TERMINAL_ID_RISK_7DAY_WINDOW": 0.5,
        "TERMINAL_ID_NB_TX_30DAY_WINDOW": 3.0,
        "TERMINAL_ID_RISK_30DAY_WINDOW": 1 / 3,
    }
    assert {name: features[name] for name in ALL_FEATURE_NAMES[len(FEATURE_NAMES) :]} == pytest.approx(
        {
            # Previous amounts: 10 and 20 in 7 days, plus 30 in 30 days (mean 20, median 20, sd sqrt(200/3)).
            "CUSTOMER_ID_AMOUNT_OVER_MEAN_7DAY_WINDOW": 40 / 15,
            "CUSTOMER_ID_AMOUNT_OVER_MEAN_30DAY_WINDOW": 2.0,
            "CUSTOMER_ID_AMOUNT_OVER_MEDIAN_30DAY_WINDOW": 2.0,
            "CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW": 20 / (200 / 3) ** 0.5,
            "CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_1DAY_WINDOW": 10 / 20,
            "CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_7DAY_WINDOW": 20 / 20,
            # The one known fraud, 7.5 days back; the 14-day window also holds the legitimate and the unknown row.
            "TERMINAL_ID_NB_FRAUD_1DAY_WINDOW": 1.0,
            "TERMINAL_ID_NB_FRAUD_7DAY_WINDOW": 1.0,
            "TERMINAL_ID_NB_FRAUD_30DAY_WINDOW": 1.0,
            "TERMINAL_ID_RISK_14DAY_WINDOW": 1 / 3,
            "TERMINAL_ID_DAYS_SINCE_FIRST_FRAUD_30DAY_WINDOW": 7.5,
            "TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW": 7.5,
        },
        rel=1e-15,
    )


def test_a_first_transaction_has_only_itself_as_history(active_model_version):
    transaction_score(transaction_input=tx(timestamp=datetime(2026, 3, 4, 12, tzinfo=UTC)), audit=audit())

    features = Prediction.objects.get().named_features
    assert (features["TX_DURING_WEEKEND"], features["TX_DURING_NIGHT"]) == (0.0, 0.0)  # a Wednesday noon
    assert features["CUSTOMER_ID_NB_TX_30DAY_WINDOW"] == 1.0
    assert features["CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW"] == 40.0
    assert features["TERMINAL_ID_NB_TX_30DAY_WINDOW"] == features["TERMINAL_ID_RISK_30DAY_WINDOW"] == 0.0


def test_the_stored_score_is_the_models_score_of_the_stored_features(active_model_version, history):
    import numpy as np

    from predictions.services.model_loader import active_model

    outcome = transaction_score(transaction_input=tx(), audit=audit())

    prediction = Prediction.objects.get()
    _, model = active_model()
    recomputed = model.score_one(np.array(prediction.features))
    assert prediction.score == outcome.result["score"] == recomputed.score
    assert prediction.decision == recomputed.decision
    # Reasons are stored for flagged scores only (services.records.REASONS), as score_file stores them.
    explained = recomputed.reasons if recomputed.decision != "approve" else ()
    assert prediction.reasons == [
        {"feature": r.feature, "value": r.value, "contribution": r.contribution} for r in explained
    ]


def test_it_writes_the_three_rows_or_none(active_model_version, database_refuses_predictions):
    request = audit()
    with pytest.raises(IntegrityError):
        transaction_score(transaction_input=tx(), audit=request)

    assert (Transaction.objects.count(), ScoringRequest.objects.count()) == (0, 0)
    assert request.recorded is False  # so the view records the failure on its own


def test_it_raises_model_unavailable_and_stores_nothing_without_an_active_model(db):
    with pytest.raises(ModelUnavailable):
        transaction_score(transaction_input=tx(), audit=audit())

    assert Transaction.objects.count() == 0


def test_a_replay_needs_no_model(active_model_version):
    first = transaction_score(transaction_input=tx(), audit=audit())
    active_model_version.__class__.objects.update(is_active=False)

    again = transaction_score(transaction_input=tx(), audit=audit())

    assert again.replayed is True
    assert again.result == first.result


def test_other_metadata_is_other_content(active_model_version):
    transaction_score(transaction_input=tx(metadata={"a": 1}), audit=audit())

    with pytest.raises(DuplicateTransaction) as conflict:
        transaction_score(transaction_input=tx(metadata={"a": 2}), audit=audit())

    assert conflict.value.conflicts == {"transaction_id": "transaction new-1 is already stored with different content"}


def test_a_batch_that_loses_a_race_replays_the_winners_rows(active_model_version):
    winner = transaction_score(transaction_input=tx("race-1"), audit=audit())
    real_lookup = scoring.stored_transactions
    lookups = []

    def lookup(ids):
        lookups.append(ids)
        return {} if len(lookups) == 1 else real_lookup(ids)  # the first misses race-1, stored just before

    with mock.patch.object(scoring, "stored_transactions", side_effect=lookup):
        outcome = transactions_score_batch(transactions=[tx("race-1"), tx("race-2", amount="5.00")], audit=audit())

    results = outcome.result["results"]
    assert results[0] == {**winner.result, "replayed": True}
    assert results[1]["replayed"] is False
    assert Prediction.objects.count() == 2
    assert len(lookups) == 2  # the race was lost once, then replayed


def test_a_batch_that_loses_two_races_in_a_row_replays_both_winners(active_model_version):
    # 16 overlapping batches: after losing to one, a batch can lose again to another before it commits.
    first_winner = transaction_score(transaction_input=tx("race-1"), audit=audit())
    real_lookup = scoring.stored_transactions
    second_winner = {}

    def lookup(ids):
        if not second_winner:
            # The lookup misses race-1, stored by the first winner just before.
            # A concurrent request stores race-2 (its own lookup is not this one).
            second_winner["outcome"] = transaction_score(transaction_input=tx("race-2", amount="5.00"), audit=audit())
            return {}
        if len(second_winner) == 1:
            second_winner["seen"] = True  # the retry sees race-1 but misses race-2, stored meanwhile
            return {tid: row for tid, row in real_lookup(ids).items() if tid != "race-2"}
        return real_lookup(ids)

    with mock.patch.object(scoring, "stored_transactions", side_effect=lookup):
        outcome = transactions_score_batch(transactions=[tx("race-1"), tx("race-2", amount="5.00")], audit=audit())

    results = outcome.result["results"]
    assert results == [
        {**first_winner.result, "replayed": True},
        {**second_winner["outcome"].result, "replayed": True},
    ]
    assert Prediction.objects.count() == 2


def test_batch_items_at_one_terminal_count_earlier_items_once(active_model_version):
    # An earlier item of the same customer AND terminal is history for both windows, but one transaction.
    earlier = tx("b-1", timestamp=T - timedelta(days=8))
    later = tx("b-2", timestamp=T)

    transactions_score_batch(transactions=[later, earlier], audit=audit())

    features = Prediction.objects.get(transaction__transaction_id="b-2").named_features
    assert features["CUSTOMER_ID_NB_TX_30DAY_WINDOW"] == 2.0
    assert features["TERMINAL_ID_NB_TX_1DAY_WINDOW"] == 1.0
    assert features["TERMINAL_ID_RISK_1DAY_WINDOW"] == 0.0  # its label is not known yet
