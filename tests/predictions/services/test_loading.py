from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from predictions.models import Label, LabelSource, Transaction
from predictions.services.loading import LoadError, transactions_load


def aware(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


HEADER = "transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud"


def write(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


GOOD = [
    "TX1,2026-01-05T10:00:00+00:00,C1,T1,12.50,0",
    "TX2,2026-01-05T11:30:00Z,C1,T2,230.00,1",
    "TX3,2026-01-06T09:15:00+02:00,C2,T1,0,0",
]


@pytest.mark.django_db
def test_it_stores_every_row_with_its_label_from_history(tmp_path):
    result = transactions_load(path=write(tmp_path, *GOOD), with_labels=True)

    assert (result.rows, result.inserted, result.already_stored, result.bad) == (3, 3, 0, 0)
    tx2 = Transaction.objects.get(transaction_id="TX2")
    assert tx2.amount == Decimal("230.00")
    assert tx2.timestamp == aware(2026, 1, 5, 11, 30)
    assert (tx2.label, tx2.label_source) == (Label.FRAUD, LabelSource.HISTORY)
    assert tx2.labelled_at is not None
    assert Transaction.objects.get(transaction_id="TX1").label == Label.LEGITIMATE
    # +02:00 is read as the same instant in UTC: 09:15 in Athens is 07:15 UTC.
    assert Transaction.objects.get(transaction_id="TX3").timestamp == aware(2026, 1, 6, 7, 15)


@pytest.mark.django_db
def test_without_with_labels_the_label_stays_unknown(tmp_path):
    transactions_load(path=write(tmp_path, *GOOD))

    assert set(Transaction.objects.values_list("label", "label_source", "labelled_at")) == {(Label.UNKNOWN, "", None)}


@pytest.mark.django_db
def test_stored_times_are_found_by_the_orm_exactly(tmp_path):
    # The raw insert must write datetimes the way Django writes them, or equality lookups miss rows.
    path = write(tmp_path, "TX1,2026-01-05T10:00:00+00:00,C1,T1,1.00,0", "TX2,2026-01-05T10:00:00.250000Z,C1,T1,1,0")
    transactions_load(path=path)

    assert Transaction.objects.filter(timestamp=aware(2026, 1, 5, 10, 0)).get().transaction_id == "TX1"
    assert Transaction.objects.filter(timestamp=aware(2026, 1, 5, 10, 0, 0, 250000)).get().transaction_id == "TX2"
    assert Transaction.objects.filter(timestamp__lte=aware(2026, 1, 5, 10, 0)).count() == 1


@pytest.mark.django_db
def test_it_takes_the_default_currency_and_the_files_currency(tmp_path, settings):
    settings.FRAUDSITE_DEFAULT_CURRENCY = "EUR"
    path = write(
        tmp_path,
        "TX1,2026-01-05T10:00:00Z,C1,T1,1.00,USD",
        "TX2,2026-01-05T10:00:00Z,C1,T1,1.00,",
        header="transaction_id,timestamp,customer_id,terminal_id,amount,currency",
    )
    transactions_load(path=path)

    assert dict(Transaction.objects.values_list("transaction_id", "currency")) == {"TX1": "USD", "TX2": "EUR"}


BAD_ROWS = {
    "TX 1,2026-01-05T10:00:00Z,C1,T1,1.00,0": "transaction_id",
    "TX5,2026-01-05T10:00:00,C1,T1,1.00,0": "timestamp: must be an ISO 8601 time with a time zone",
    "TX6,yesterday,C1,T1,1.00,0": "timestamp: must be an ISO 8601 time with a time zone",
    "TX7,2026-01-05T10:00:00Z,,T1,1.00,0": "customer_id",
    "TX8,2026-01-05T10:00:00Z,C1,T1,-1.00,0": "amount: must be at least 0",
    "TX9,2026-01-05T10:00:00Z,C1,T1,1.005,0": "amount: must have at most 2 decimal places",
    "TX10,2026-01-05T10:00:00Z,C1,T1,1000000000.01,0": "amount: must be at most",
    "TX11,2026-01-05T10:00:00Z,C1,T1,ten,0": "amount: must be a decimal number",
    "TX12,2026-01-05T10:00:00Z,C1,T1,1.00,2": "is_fraud: must be 0 or 1",
    "TX1,2026-01-05T10:00:00Z,C1,T1,1.00,0": "transaction_id: appears earlier in the file",
}


@pytest.mark.django_db
def test_it_skips_each_bad_row_and_names_its_line_and_rule(tmp_path):
    path = write(tmp_path, *GOOD, *BAD_ROWS)
    result = transactions_load(path=path, with_labels=True)

    assert (result.inserted, result.bad) == (3, len(BAD_ROWS))
    # Line 1 is the header and lines 2-4 the good rows, so the bad rows are on lines 5 onwards in file order.
    assert [bad.line for bad in result.bad_rows] == list(range(5, 5 + len(BAD_ROWS)))
    for bad, expected in zip(result.bad_rows, BAD_ROWS.values(), strict=True):
        assert expected in bad.reason
    assert Transaction.objects.count() == 3


@pytest.mark.django_db
def test_a_timestamp_more_than_five_minutes_ahead_is_refused(tmp_path):
    soon = (timezone.now() + timedelta(minutes=2)).isoformat()
    late = (timezone.now() + timedelta(minutes=10)).isoformat()
    result = transactions_load(path=write(tmp_path, f"TX1,{soon},C1,T1,1.00,0", f"TX2,{late},C1,T1,1.00,0"))

    assert result.inserted == 1
    assert [(bad.line, "in the future" in bad.reason) for bad in result.bad_rows] == [(3, True)]


@pytest.mark.django_db
def test_strict_stores_nothing_when_one_row_is_bad(tmp_path):
    path = write(tmp_path, *GOOD, "TX9,2026-01-05T10:00:00Z,C1,T1,1.005,0")

    with pytest.raises(LoadError, match=r"1 bad rows, nothing stored: line 5: amount"):
        transactions_load(path=path, strict=True)
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_loading_again_finishes_an_interrupted_load_and_touches_nothing_stored(tmp_path):
    transactions_load(path=write(tmp_path, *GOOD[:2]), with_labels=True)
    first = {t.transaction_id: (t.pk, t.created_at) for t in Transaction.objects.all()}

    again = transactions_load(path=write(tmp_path, *GOOD), with_labels=True, chunk_rows=2)

    assert (again.inserted, again.already_stored) == (1, 2)
    assert {
        t.transaction_id: (t.pk, t.created_at) for t in Transaction.objects.filter(transaction_id__in=first)
    } == first


@pytest.mark.django_db
def test_a_stored_transaction_keeps_its_content_when_the_file_differs(tmp_path, make_transaction):
    make_transaction(transaction_id="TX1", amount=Decimal("99.99"))
    result = transactions_load(path=write(tmp_path, *GOOD))

    assert (result.inserted, result.already_stored) == (2, 1)
    assert Transaction.objects.get(transaction_id="TX1").amount == Decimal("99.99")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("transaction_id,timestamp,customer_id,amount", "missing columns: terminal_id"),
        ("transaction_id,timestamp,customer_id,terminal_id,amount,colour", "unknown columns: colour"),
    ],
)
def test_it_refuses_a_file_with_the_wrong_columns(tmp_path, header, message):
    with pytest.raises(LoadError, match=message):
        transactions_load(path=write(tmp_path, "TX1,2026-01-05T10:00:00Z,C1,T1,1.00", header=header))


@pytest.mark.django_db
def test_with_labels_needs_an_is_fraud_column(tmp_path):
    path = write(tmp_path, "TX1,2026-01-05T10:00:00Z,C1,T1,1.00", header=HEADER.removesuffix(",is_fraud"))
    with pytest.raises(LoadError, match="missing columns: is_fraud"):
        transactions_load(path=path, with_labels=True)


@pytest.mark.django_db
def test_it_refuses_a_missing_or_empty_file(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        transactions_load(path=tmp_path / "nowhere.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LoadError, match="empty file"):
        transactions_load(path=tmp_path / "empty.csv")
