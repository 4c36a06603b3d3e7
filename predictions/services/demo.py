"""The demo install: a simulated history ending now, an active model trained on it, and the demo users.

`python manage.py bootstrap_demo` (run by `make run` every time) calls demo_bootstrap; a re-run does no
data work and gives back the same credentials.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from predictions.models import ModelVersion
from predictions.services.clients import api_client_create, api_client_key_is_current, api_client_rotate
from predictions.services.events import Actor

if TYPE_CHECKING:
    import pandas as pd

    from predictions.services.training import TrainingOutcome

# Small enough to take seconds, big enough for the protocol: terminal features need 37 days of
# history and training 42 more (28 train, 7 delay, 7 test); 75 days holds the protocol, and the first
# training days have at least the 30 days of customer history.
DEMO_CUSTOMERS = 300
DEMO_TERMINALS = 600
DEMO_DAYS = 75
DEMO_SEED = 2018
BOOK_ALERTS_PER_FRAUD = 100 / 85  # the book's alert budget against its frauds a day
# Demo ids get a prefix, so that files made later with generate_transactions (TX00000001, ...) never
# collide with the demo history.
DEMO_ID_PREFIX = "demo-"
ADMIN, ANALYST, CLIENT = "admin", "analyst", "demo-client"
CLIENT_KEY = "demo-client-key"  # the credentials file's entry for the scoring client's API key
CREDENTIALS_FILE = "demo-credentials.json"
HISTORY_FILE = Path("demo") / "demo-transactions.csv"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoCredentials:
    """The demo users' secrets: the admin's and the analyst's passwords, the scoring client's token."""

    admin_password: str
    analyst_password: str
    token: str


@dataclass(frozen=True)
class DemoModel:
    """What a first run built: the history file, how many of its transactions were stored, the training."""

    path: Path
    inserted: int
    training: TrainingOutcome


@dataclass(frozen=True)
class DemoBootstrap:
    model_version: ModelVersion  # the active one
    built: DemoModel | None  # None: a model was already active, so no data work was done
    credentials: DemoCredentials


def demo_bootstrap(*, var_dir: Path | None = None, progress: Progress | None = None) -> DemoBootstrap:
    """Make a fresh install usable: build the demo model if none is active, then ensure the demo users.

    var_dir: where the history file and the credentials file go (settings.VAR_DIR by default).
    progress: called as progress(rows_done, total_rows) while the history is loaded.
    """
    var_dir = Path(var_dir if var_dir is not None else settings.VAR_DIR)
    active = ModelVersion.objects.filter(is_active=True).first()
    built = None
    if active is None:
        built = demo_model_build(path=var_dir / HISTORY_FILE, progress=progress)
        active = built.training.model_version
    credentials = demo_users_ensure(credentials_path=var_dir / CREDENTIALS_FILE)
    return DemoBootstrap(model_version=active, built=built, credentials=credentials)


def demo_model_build(*, path: Path, progress: Progress | None = None) -> DemoModel:
    """Simulate the demo history into `path`, store it with its labels, train the default model and activate it."""
    # pandas and scikit-learn: imported for the data work, not when bootstrap_demo --help imports this module
    from model_package.io import write_transactions
    from predictions.services.loading import transactions_load
    from predictions.services.training import TrainingOptions, model_train_from_file

    frame = demo_transactions_simulate(now=timezone.now())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_transactions(frame, path)
    loaded = transactions_load(path=path, with_labels=True, progress=progress)
    options = TrainingOptions(alert_budget=demo_alert_budget(frame=frame))
    training = model_train_from_file(path=path, options=options, activate_by=Actor.command("bootstrap_demo"))
    return DemoModel(path=path, inserted=loaded.inserted, training=training)


def demo_transactions_simulate(*, now: datetime) -> pd.DataFrame:
    """A simulated history whose last day is now's day and which stops at now (nothing in the future)."""
    from model_package.simulate import simulate

    start = (now - timedelta(days=DEMO_DAYS - 1)).date()
    frame = simulate(customers=DEMO_CUSTOMERS, terminals=DEMO_TERMINALS, days=DEMO_DAYS, start=start, seed=DEMO_SEED)
    frame = frame[frame["timestamp"] <= now].copy()
    frame["transaction_id"] = DEMO_ID_PREFIX + frame["transaction_id"].astype(str)
    return frame


def demo_alert_budget(*, frame: pd.DataFrame) -> int:
    """The book's 100 alerts a day for its 85 frauds a day, scaled to the demo's frauds a day.

    The scenarios compromise 2 terminals and 3 customers a day whatever the population's size, so the
    small demo's fraud rate is about 13 times the book's (11 % against 0.84 %). A budget scaled to its
    transactions (1 % of them) would alert on fewer cases than there are frauds: every alert would then
    be precise enough to decline, and the demo would never show a review.
    """
    frauds_per_day = frame["is_fraud"].sum() / DEMO_DAYS
    return max(1, round(frauds_per_day * BOOK_ALERTS_PER_FRAUD))


def demo_users_ensure(*, credentials_path: Path) -> DemoCredentials:
    """Create the demo users if missing; passwords and the client's key live in credentials_path (mode 0600) so a
    re-run can print them (the database keeps only the key's hash). A key that no longer works is rotated."""
    stored = _read_credentials(credentials_path)
    with transaction.atomic():
        for username in (ADMIN, ANALYST):
            user = User.objects.filter(username=username).first()
            if user is None or username not in stored:
                # A new user, or one whose password was never written down here: give it a fresh one.
                stored[username] = secrets.token_urlsafe(12)
                _ensure_user(username, password=stored[username])
        actor = Actor.command("bootstrap_demo")
        key = stored.get(CLIENT_KEY, "")
        if not User.objects.filter(username=CLIENT).exists():
            _, key = api_client_create(name=CLIENT, role="scoring", actor=actor)
        elif not api_client_key_is_current(name=CLIENT, key=key):
            key = api_client_rotate(name=CLIENT, actor=actor)
        stored[CLIENT_KEY] = key
    _write_credentials(credentials_path, {ADMIN: stored[ADMIN], ANALYST: stored[ANALYST], CLIENT_KEY: key})
    return DemoCredentials(admin_password=stored[ADMIN], analyst_password=stored[ANALYST], token=key)


def _ensure_user(username: str, *, password: str) -> None:
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    if username == ADMIN:
        user.is_staff = user.is_superuser = True
    else:
        user.is_staff = True
    user.save()
    if username == ANALYST:
        user.groups.add(Group.objects.get(name="analyst"))


def _read_credentials(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def _write_credentials(path: Path, credentials: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(credentials, handle, indent=2)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed
