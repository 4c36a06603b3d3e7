"""What the transaction page shows next to the model's view: the customer's and the terminal's recent past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from predictions.selectors import customer_history, terminal_fraud_rate

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_customer_history_holds_the_last_30_days_up_to_the_transaction_newest_first(make_transaction, make_prediction):
    make_transaction(transaction_id="too-old", customer_id="C1", timestamp=NOW - timedelta(days=30, seconds=1))
    make_transaction(transaction_id="day-29", customer_id="C1", timestamp=NOW - timedelta(days=29), label="fraud")
    make_prediction(score=0.75, transaction_id="day-1", customer_id="C1", timestamp=NOW - timedelta(days=1))
    make_transaction(transaction_id="this-one", customer_id="C1", timestamp=NOW)
    make_transaction(transaction_id="later", customer_id="C1", timestamp=NOW + timedelta(minutes=1))
    make_transaction(transaction_id="other-customer", customer_id="C2", timestamp=NOW - timedelta(days=2))

    rows = [(tx.transaction_id, tx.label, tx.latest_score) for tx in customer_history(customer_id="C1", until=NOW)]

    assert rows == [("this-one", "unknown", None), ("day-1", "unknown", 0.75), ("day-29", "fraud", None)]


@pytest.mark.django_db
def test_terminal_fraud_rate_counts_every_known_label_in_the_window(make_transaction):
    for days, label in [(1, "fraud"), (2, "legitimate"), (3, "legitimate"), (4, "unknown")]:
        make_transaction(terminal_id="T1", timestamp=NOW - timedelta(days=days), label=label)
    make_transaction(terminal_id="T1", timestamp=NOW - timedelta(days=31), label="fraud")  # outside the window
    make_transaction(terminal_id="T2", timestamp=NOW - timedelta(days=1), label="fraud")  # another terminal

    rate = terminal_fraud_rate(terminal_id="T1", until=NOW)

    # 1 fraud among the 4 transactions of the last 30 days.
    assert (rate.transactions, rate.frauds, rate.legitimate, rate.unknown) == (4, 1, 2, 1)
    assert rate.rate == pytest.approx(0.25)


@pytest.mark.django_db
def test_a_terminal_without_transactions_has_a_zero_fraud_rate():
    assert terminal_fraud_rate(terminal_id="T-new", until=NOW).rate == 0.0
