"""import_labels FILE: chargeback files into transaction labels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from predictions.models import Transaction

HEADER = "transaction_id,label,source,labelled_at\n"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chargebacks.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _labels() -> dict[str, str]:
    return dict(Transaction.objects.values_list("transaction_id", "label"))


def test_it_imports_a_good_file_and_says_what_it_did(run, make_transaction, tmp_path):
    make_transaction(transaction_id="TX1")
    make_transaction(transaction_id="TX2")
    path = _file(tmp_path, HEADER + "TX1,fraud,chargeback,2026-03-01\nTX2,legitimate,review,2026-03-02T08:00:00Z\n")

    ran = run("import_labels", path)

    assert _labels() == {"TX1": "fraud", "TX2": "legitimate"}
    assert ran.summary.startswith("2 rows read: 2 imported, 0 already stored")
    assert ran.err == ""


def test_running_it_again_changes_nothing(run, make_transaction, tmp_path):
    make_transaction(transaction_id="TX1")
    path = _file(tmp_path, HEADER + "TX1,fraud,chargeback,2026-03-01\n")
    run("import_labels", path)
    before = list(Transaction.objects.values_list("label", "label_source", "labelled_at"))

    ran = run("import_labels", path)

    assert list(Transaction.objects.values_list("label", "label_source", "labelled_at")) == before
    assert ran.summary.startswith("1 rows read: 0 imported, 1 already stored")


def test_unknown_ids_and_bad_rows_are_reported_with_line_numbers(run, make_transaction, tmp_path):
    make_transaction(transaction_id="TX1")
    make_transaction(transaction_id="TX2")
    path = _file(
        tmp_path,
        HEADER
        + "TX1,fraud,chargeback,2026-03-01\n"  # line 2: imported
        + "NOPE,fraud,chargeback,2026-03-01\n"  # line 3: unknown id
        + "TX2,fraud,chargeback,yesterday\n",  # line 4: bad time
    )

    ran = run("import_labels", path)

    assert ran.err.splitlines() == [
        "skipped line 3: unknown transaction_id 'NOPE'",
        "skipped line 4: labelled_at: must be a date (YYYY-MM-DD) or an ISO 8601 time with a time zone",
    ]
    assert ran.summary.endswith("1 unknown ids, 1 bad (skipped)")
    assert _labels() == {"TX1": "fraud", "TX2": "unknown"}


def test_strict_imports_nothing_when_a_row_is_bad(run, make_transaction, tmp_path):
    make_transaction(transaction_id="TX1")
    path = _file(tmp_path, HEADER + "TX1,fraud,chargeback,2026-03-01\nNOPE,fraud,chargeback,2026-03-01\n")

    with pytest.raises(CommandError, match=r"nothing imported .*line 3: unknown transaction_id 'NOPE'"):
        run("import_labels", path, "--strict")

    assert _labels() == {"TX1": "unknown"}


def test_a_dry_run_stores_nothing(run, make_transaction, tmp_path):
    make_transaction(transaction_id="TX1")
    ran = run("import_labels", _file(tmp_path, HEADER + "TX1,fraud,chargeback,2026-03-01\n"), "--dry-run")

    assert "1 imported" in ran.summary and "dry run" in ran.summary
    assert _labels() == {"TX1": "unknown"}


def test_a_wrong_header_imports_nothing_and_says_why_in_one_line(run, make_transaction, tmp_path):
    path = _file(tmp_path, "id,label,source,when\nTX1,fraud,chargeback,2026-03-01\n")
    make_transaction(transaction_id="TX1")

    with pytest.raises(
        CommandError, match=r"wrong header 'id,label,source,when', expected transaction_id,label,source,labelled_at"
    ):
        run("import_labels", path)

    assert _labels() == {"TX1": "unknown"}


def test_from_the_shell_a_wrong_header_is_one_line_on_stderr_and_exit_status_1(tmp_path):
    path = _file(tmp_path, "id,label\nTX1,fraud\n")

    # The header is checked before the database is touched, so the real manage.py can run here.
    done = subprocess.run(
        [sys.executable, "manage.py", "import_labels", str(path)],
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "fraudsite.test_settings", "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "wrong header" in done.stderr and "nothing imported" in done.stderr
