"""predictions.rules: every entry point gives the same message for the same mistake.

The API answers {"field": [message]}; a transactions file reports "field: message" for its line, and so
does a label file. The vectorised checks of the file loader are the twin of the API's serializer, so
each mistake is sent both ways here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from predictions import rules
from predictions.services.events import Actor
from predictions.services.labels import labels_import
from predictions.services.loading import transactions_load

ACTOR = Actor(name="tester", via="test")

GOOD = {
    "transaction_id": "tx-1",
    "timestamp": "2026-01-05T10:00:00Z",
    "customer_id": "C1",
    "terminal_id": "T1",
    "amount": "12.50",
    "currency": "EUR",
}
FUTURE = (timezone.now() + timedelta(hours=1)).isoformat()

# (field, a bad value, the rule's message): each a mistake a client or a file can make.
MISTAKES = [
    ("transaction_id", "tx 1", rules.TRANSACTION_ID_MESSAGE),
    ("transaction_id", "x" * 65, rules.TRANSACTION_ID_MESSAGE),
    ("timestamp", "2026-01-05T10:00:00", rules.TIMESTAMP_MESSAGE),
    ("timestamp", "yesterday", rules.TIMESTAMP_MESSAGE),
    ("timestamp", FUTURE, rules.FUTURE_MESSAGE),
    ("timestamp", "2026-01-05T10:00:00+25:00", rules.TIMESTAMP_MESSAGE),
    ("timestamp", "0001-01-15T00:00:00Z", rules.TIMESTAMP_MESSAGE),
    ("timestamp", "1969-12-31T23:59:59Z", rules.TIMESTAMP_MESSAGE),
    ("timestamp", "0001-01-01T00:00:00+14:00", rules.TIMESTAMP_MESSAGE),
    ("customer_id", "", rules.PARTY_ID_MESSAGE),
    ("customer_id", "   ", rules.PARTY_ID_MESSAGE),
    ("terminal_id", "T" * 65, rules.PARTY_ID_MESSAGE),
    ("amount", "ten", rules.AMOUNT_NUMBER_MESSAGE),
    ("amount", "1.005", rules.AMOUNT_PLACES_MESSAGE),
    ("amount", "-1.00", rules.AMOUNT_MIN_MESSAGE),
    ("amount", "1000000000.01", rules.AMOUNT_MAX_MESSAGE),
    ("currency", "eur", rules.CURRENCY_MESSAGE),
    ("currency", "EURO", rules.CURRENCY_MESSAGE),
    ("currency", "ABC", rules.CURRENCY_MESSAGE),
]


def _file(tmp_path: Path, row: dict[str, str]) -> Path:
    path = tmp_path / "transactions.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    return path


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), MISTAKES, ids=[f"{f}={v[:20]!r}" for f, v, _ in MISTAKES])
def test_the_api_and_a_transactions_file_give_the_same_message(scoring_client, tmp_path, field, value, message):
    bad = {**GOOD, field: value}

    answer = scoring_client.post("/api/v1/transactions/", bad, format="json")
    loaded = transactions_load(path=_file(tmp_path, bad))

    assert answer.status_code == 400
    assert answer.json()["fields"] == {field: [message]}
    assert [bad_row.reason for bad_row in loaded.bad_rows] == [f"{field}: {message}"]


LABEL_MISTAKES = [
    ("label", "maybe", rules.LABEL_MESSAGE),
    ("source", "history", rules.LABEL_SOURCE_MESSAGE),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), LABEL_MISTAKES)
def test_the_label_api_and_a_label_file_give_the_same_message(
    analyst_client, make_transaction, tmp_path, field, value, message
):
    make_transaction(transaction_id="tx-a")
    bad = {"label": "fraud", "source": "chargeback", field: value}
    path = tmp_path / "labels.csv"
    path.write_text(f"transaction_id,label,source,labelled_at\ntx-a,{bad['label']},{bad['source']},2026-02-03\n")

    answer = analyst_client.post("/api/v1/transactions/tx-a/label/", bad, format="json")
    report = labels_import(actor=ACTOR, path=path)

    assert answer.json()["fields"] == {field: [message]}
    assert report.bad_rows[0].reason.startswith(f"{field}: {message}")


@pytest.mark.django_db
def test_a_label_file_and_a_transactions_file_give_the_same_transaction_id_message(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("transaction_id,label,source,labelled_at\ntx 1,fraud,chargeback,2026-02-03\n")

    label_report = labels_import(actor=ACTOR, path=labels)
    loaded = transactions_load(path=_file(tmp_path, {**GOOD, "transaction_id": "tx 1"}))

    assert (
        label_report.bad_rows[0].reason
        == loaded.bad_rows[0].reason
        == f"transaction_id: {rules.TRANSACTION_ID_MESSAGE}"
    )
