from __future__ import annotations

import itertools
import json
import stat
import subprocess
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from predictions.models import ModelVersion, Transaction
from predictions.services.clients import api_client_key_is_current


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.FRAUDSITE_MODEL_DIR = tmp_path / "var" / "models"
    return settings.VAR_DIR


@pytest.mark.slow
@pytest.mark.django_db
def test_a_fresh_install_gets_history_an_active_model_and_the_demo_users(run, var_dir):
    ran = run("bootstrap_demo")

    version = ModelVersion.objects.get(is_active=True)
    newest = Transaction.objects.order_by("-timestamp").first().timestamp
    oldest = Transaction.objects.order_by("timestamp").first().timestamp
    # The history ends now (today, nothing in the future) and begins 74 days before today: 75 days.
    assert timezone.now() - timedelta(days=1) < newest <= timezone.now()
    assert oldest.date() == (timezone.now() - timedelta(days=74)).date()
    assert Transaction.objects.filter(label="fraud").exists()
    # The demo model can answer all three decisions: a score band is sent to review, not declined.
    assert 0 < version.thresholds["review"] < version.thresholds["decline"] < 1

    credentials = json.loads((var_dir / "demo-credentials.json").read_text())
    assert stat.S_IMODE((var_dir / "demo-credentials.json").stat().st_mode) == 0o600
    admin, analyst, client = (User.objects.get(username=name) for name in ("admin", "analyst", "demo-client"))
    assert admin.is_superuser and admin.check_password(credentials["admin"])
    assert analyst.is_staff and not analyst.is_superuser and analyst.check_password(credentials["analyst"])
    assert list(analyst.groups.values_list("name", flat=True)) == ["analyst"]
    assert list(client.groups.values_list("name", flat=True)) == ["scoring"]
    key = credentials["demo-client-key"]
    assert api_client_key_is_current(name="demo-client", key=key)
    for secret in (credentials["admin"], credentials["analyst"], key):
        assert secret in ran.out
    assert ran.summary == f"demo ready: model {version.version} active"


@pytest.mark.slow
@pytest.mark.django_db
def test_a_second_run_does_no_data_work_and_prints_the_same_credentials(run, var_dir, db_counts):
    first = run("bootstrap_demo")
    before = db_counts()

    second = run("bootstrap_demo")

    assert db_counts() == before
    assert "no data work to do" in second.out
    credential_lines = [line for line in first.out.splitlines() if " / " in line or "token:" in line]
    assert len(credential_lines) == 3
    for line in credential_lines:
        assert line in second.out


@pytest.mark.django_db
def test_with_a_model_already_active_it_only_creates_the_users(run, var_dir, active_model_version, db_counts):
    before = db_counts()

    ran = run("bootstrap_demo")

    assert db_counts() == before
    assert f"model {active_model_version.version} is active: no data work to do" in ran.out
    assert User.objects.filter(username__in=["admin", "analyst", "demo-client"]).count() == 3


@pytest.mark.django_db
def test_a_key_that_no_longer_works_is_rotated_and_the_new_one_printed(run, var_dir, active_model_version):
    run("bootstrap_demo")
    first = json.loads((var_dir / "demo-credentials.json").read_text())["demo-client-key"]
    call_command("create_api_client", "demo-client", "--revoke", stdout=StringIO())

    again = run("bootstrap_demo")

    key = json.loads((var_dir / "demo-credentials.json").read_text())["demo-client-key"]
    assert key != first
    assert api_client_key_is_current(name="demo-client", key=key)
    assert f"scoring client token:    {key}" in again.out


def _try_it_body(out: str) -> dict:
    """The body that the printed "try it" snippet sends, as bash evaluates it now (curl replaced by a stub)."""
    lines = itertools.takewhile(lambda line: line.startswith("  "), out.split("try it")[1].splitlines()[1:])
    snippet = "\n".join(line.strip() for line in lines)
    stub = 'curl() { while [ $# -gt 0 ]; do if [ "$1" = -d ]; then printf %s "$2"; fi; shift; done; }\n'
    done = subprocess.run(["bash", "-c", stub + snippet], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.django_db
def test_the_printed_try_it_scores_a_new_transaction_on_every_run(run, var_dir, active_model_version):
    ran = run("bootstrap_demo")
    token = json.loads((var_dir / "demo-credentials.json").read_text())["demo-client-key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    first = _try_it_body(ran.out)
    time.sleep(1.1)  # the snippet's id is the second it is sent
    second = _try_it_body(run("bootstrap_demo").out)

    assert "http://127.0.0.1:8000/api/v1/transactions/" in ran.out
    assert client.post("/api/v1/transactions/", first, format="json").status_code == 201
    assert client.post("/api/v1/transactions/", second, format="json").status_code == 201
    assert client.post("/api/v1/transactions/", first, format="json").status_code == 200  # the same second: a replay
