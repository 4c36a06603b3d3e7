"""After every other live test (this module runs last), the audit they left verifies: what the service wrote
through every path, with the database's triggers on, carries valid digests, and a seal covers it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live


def test_the_audit_of_the_whole_live_run_verifies_and_seals(live_service):
    sealed = live_service.manage("seal_audit")
    verified = live_service.manage("verify_audit")

    assert sealed.returncode == 0, sealed.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("audit intact: "), verified.stdout


def test_an_edit_beside_the_service_is_refused_by_the_database(live_service):
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('UPDATE predictions_prediction SET score = 0.5')\n"
    )

    edited = live_service.manage("shell", "-c", code)

    assert edited.returncode != 0
    assert "fraudsite: audit rows are append-only" in edited.stderr
