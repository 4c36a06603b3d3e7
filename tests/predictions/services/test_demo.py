"""The demo install's service: the demo users and their credentials file, the demo model's alert budget.

The whole bootstrap (simulate, load, train) is exercised through the command in
tests/predictions/commands/test_bootstrap_demo.py.
"""

from __future__ import annotations

import json
import stat

import pandas as pd
import pytest
from django.contrib.auth.models import User

from predictions.services.clients import api_client_key_is_current
from predictions.services.demo import DEMO_DAYS, demo_alert_budget, demo_bootstrap, demo_users_ensure


@pytest.mark.django_db
def test_it_creates_the_three_demo_users_and_writes_their_passwords_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "var" / "demo-credentials.json"

    credentials = demo_users_ensure(credentials_path=path)

    admin, analyst, client = (User.objects.get(username=name) for name in ("admin", "analyst", "demo-client"))
    assert admin.is_superuser and admin.check_password(credentials.admin_password)
    assert analyst.is_staff and not analyst.is_superuser and analyst.check_password(credentials.analyst_password)
    assert client.groups.get().name == "scoring"
    assert api_client_key_is_current(name="demo-client", key=credentials.token)
    written = json.loads(path.read_text())
    assert written == {
        "admin": credentials.admin_password,
        "analyst": credentials.analyst_password,
        "demo-client-key": credentials.token,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_a_second_call_gives_back_the_same_credentials(tmp_path):
    path = tmp_path / "demo-credentials.json"
    first = demo_users_ensure(credentials_path=path)

    assert demo_users_ensure(credentials_path=path) == first
    assert User.objects.filter(username__in=["admin", "analyst", "demo-client"]).count() == 3


@pytest.mark.django_db
def test_a_user_whose_password_was_not_written_down_gets_a_new_one(tmp_path):
    path = tmp_path / "demo-credentials.json"
    first = demo_users_ensure(credentials_path=path)
    path.write_text(json.dumps({"admin": first.admin_password}))

    second = demo_users_ensure(credentials_path=path)

    assert second.admin_password == first.admin_password
    assert second.analyst_password != first.analyst_password
    assert User.objects.get(username="analyst").check_password(second.analyst_password)


@pytest.mark.django_db
def test_with_a_model_already_active_it_builds_nothing(tmp_path, model_version):
    outcome = demo_bootstrap(var_dir=tmp_path)

    assert outcome.built is None
    assert outcome.model_version == model_version
    assert not (tmp_path / "demo").exists()
    assert (tmp_path / "demo-credentials.json").exists()


def test_the_alert_budget_keeps_the_books_100_alerts_for_85_frauds_a_day():
    frauds_a_day = 85
    frame = pd.DataFrame({"is_fraud": [1] * (frauds_a_day * DEMO_DAYS)})

    assert demo_alert_budget(frame=frame) == 100


def test_the_alert_budget_is_never_zero():
    assert demo_alert_budget(frame=pd.DataFrame({"is_fraud": [0, 0, 0]})) == 1
