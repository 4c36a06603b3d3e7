"""Ground-truth labels: recording one, and importing a chargeback file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from predictions.models import Transaction
from predictions.services.events import Actor
from predictions.services.labels import LabelError, LabelImportError, label_record, labels_import

ACTOR = Actor(name="tester", via="test")

HEADER = "transaction_id,label,source,labelled_at\n"


def _state(transaction_id: str) -> tuple:
    tx = Transaction.objects.get(transaction_id=transaction_id)
    return tx.label, tx.label_source, tx.labelled_at


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chargebacks.csv"
    path.write_text(text, encoding="utf-8")
    return path


# --- label_record --------------------------------------------------------------------------------


def test_recording_a_label_sets_label_source_and_time(make_transaction):
    transaction = make_transaction(transaction_id="tx-1")
    when = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)

    assert (
        label_record(actor=ACTOR, transaction=transaction, label="fraud", source="chargeback", labelled_at=when) is True
    )

    assert _state("tx-1") == ("fraud", "chargeback", when)
    assert transaction.label == "fraud"  # the caller's object is refreshed too


def test_an_older_chargeback_does_not_undo_a_newer_review(make_transaction):
    reviewed = datetime(2026, 2, 10, tzinfo=UTC)
    transaction = make_transaction(label="legitimate", label_source="review", labelled_at=reviewed)

    changed = label_record(
        actor=ACTOR,
        transaction=transaction,
        label="fraud",
        source="chargeback",
        labelled_at=reviewed - timedelta(days=3),
    )

    assert changed is False
    assert _state(transaction.transaction_id) == ("legitimate", "review", reviewed)


def test_a_label_loaded_with_the_history_is_always_superseded(make_transaction):
    transaction = make_transaction(label="legitimate", label_source="history", labelled_at=timezone.now())
    older = timezone.now() - timedelta(days=30)

    assert (
        label_record(actor=ACTOR, transaction=transaction, label="fraud", source="chargeback", labelled_at=older)
        is True
    )
    assert _state(transaction.transaction_id) == ("fraud", "chargeback", older)


@pytest.mark.parametrize(
    ("label", "source", "field"),
    [("unknown", "review", "label"), ("fraud", "history", "source"), ("maybe", "review", "label")],
)
def test_it_refuses_a_label_or_source_it_does_not_know(make_transaction, label, source, field):
    transaction = make_transaction()
    with pytest.raises(LabelError, match=field):
        label_record(actor=ACTOR, transaction=transaction, label=label, source=source)
    assert _state(transaction.transaction_id)[0] == "unknown"


# --- labels_import -------------------------------------------------------------------------------


def test_a_good_file_sets_every_label(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-a")
    make_transaction(transaction_id="tx-b")
    path = _csv(
        tmp_path,
        HEADER + "tx-a,fraud,chargeback,2026-02-03T10:00:00Z\ntx-b,legitimate,review,2026-02-04\n",
    )

    report = labels_import(actor=ACTOR, path=path)

    assert (report.rows, report.imported, report.unchanged, report.bad, report.unknown) == (2, 2, 0, 0, 0)
    assert report.complete
    assert _state("tx-a") == ("fraud", "chargeback", datetime(2026, 2, 3, 10, tzinfo=UTC))
    # A bare date is midnight UTC that day.
    assert _state("tx-b") == ("legitimate", "review", datetime(2026, 2, 4, tzinfo=UTC))


def test_importing_the_same_file_twice_changes_nothing_the_second_time(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-a")
    path = _csv(tmp_path, HEADER + "tx-a,fraud,chargeback,2026-02-03T10:00:00+01:00\n")
    labels_import(actor=ACTOR, path=path)
    stored = _state("tx-a")

    again = labels_import(actor=ACTOR, path=path)

    assert (again.imported, again.unchanged) == (0, 1)
    assert _state("tx-a") == stored


def test_it_reports_unknown_ids_and_bad_rows_with_their_line_numbers_and_imports_the_rest(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-good")
    make_transaction(transaction_id="tx-dup")
    path = _csv(
        tmp_path,
        HEADER
        + "tx-good,fraud,chargeback,2026-02-03T10:00:00Z\n"  # line 2
        + "tx-nobody,fraud,chargeback,2026-02-03T10:00:00Z\n"  # line 3: unknown id
        + "tx-dup,fraudulent,chargeback,2026-02-03T10:00:00Z\n"  # line 4: bad label
        + "tx-dup,fraud,email,2026-02-03T10:00:00Z\n"  # line 5: repeated id
        + "tx-x,fraud,chargeback,2026-02-03T10:00:00\n"  # line 6: no time zone
        + "tx-y,fraud,chargeback\n"  # line 7: a field missing
        + "tx z,fraud,chargeback,2026-02-03\n",  # line 8: a space in the id
    )

    report = labels_import(actor=ACTOR, path=path)

    assert [str(problem) for problem in report.unknown_ids] == ["line 3: unknown transaction_id 'tx-nobody'"]
    assert [problem.line for problem in report.bad_rows] == [4, 5, 6, 7, 8]
    assert "label" in report.bad_rows[0].reason
    assert "earlier in the file (line 4)" in report.bad_rows[1].reason
    assert "time zone" in report.bad_rows[2].reason
    assert "expected 4 fields" in report.bad_rows[3].reason
    assert (report.imported, report.bad, report.unknown, report.complete) == (1, 5, 1, False)
    assert _state("tx-good")[0] == "fraud"
    assert _state("tx-dup")[0] == "unknown"


@pytest.mark.parametrize(
    "header",
    [
        "transaction_id,label,source\n",
        "transaction_id,label,source,labelled_at,extra\n",
        "id,label,source,labelled_at\n",
        "tx-a,fraud,chargeback,2026-02-03\n",
    ],
)
def test_a_file_with_a_wrong_header_imports_nothing(make_transaction, tmp_path, header):
    make_transaction(transaction_id="tx-a")
    path = _csv(tmp_path, header + "tx-a,fraud,chargeback,2026-02-03\n")

    with pytest.raises(LabelImportError, match=r"wrong header.*nothing imported"):
        labels_import(actor=ACTOR, path=path)

    assert _state("tx-a")[0] == "unknown"


def test_the_columns_may_come_in_any_order_and_a_byte_order_mark_is_ignored(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-a")
    path = tmp_path / "excel.csv"
    path.write_text("\ufefflabelled_at,source,label,transaction_id\r\n2026-02-03,chargeback,fraud,tx-a\r\n", "utf-8")

    assert labels_import(actor=ACTOR, path=path).imported == 1
    assert _state("tx-a")[0] == "fraud"


def test_an_empty_or_missing_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(LabelImportError, match="empty file"):
        labels_import(actor=ACTOR, path=_csv(tmp_path, ""))
    with pytest.raises(LabelImportError, match="no such file"):
        labels_import(actor=ACTOR, path=tmp_path / "missing.csv")


def test_a_dry_run_reports_but_stores_nothing(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-a")
    path = _csv(tmp_path, HEADER + "tx-a,fraud,chargeback,2026-02-03\n")

    report = labels_import(actor=ACTOR, path=path, dry_run=True)

    assert report.imported == 1
    assert _state("tx-a")[0] == "unknown"


def test_an_import_spanning_several_chunks_is_one_transaction(make_transaction, tmp_path, monkeypatch):
    for i in range(5):
        make_transaction(transaction_id=f"tx-{i}")
    path = _csv(tmp_path, HEADER + "".join(f"tx-{i},fraud,chargeback,2026-02-03\n" for i in range(5)))
    calls = {"n": 0}
    original = Transaction.objects.bulk_update

    def fail_on_second_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(Transaction.objects, "bulk_update", fail_on_second_chunk)

    with pytest.raises(RuntimeError):
        labels_import(actor=ACTOR, path=path, chunk_rows=2)

    # The first chunk's labels were rolled back with the rest.
    assert set(Transaction.objects.values_list("label", flat=True)) == {"unknown"}
