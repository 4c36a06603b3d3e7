"""bootstrap_demo: make a fresh install usable (history, an active model, demo users); `make run` calls it."""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from predictions.management.base import FraudsiteCommand
from predictions.models import ModelVersion
from predictions.services.clients import api_client_create
from predictions.services.history import transactions_load
from predictions.services.training import TrainingOptions, model_train_from_file

# Small enough to take seconds, big enough for the protocol: terminal features need 37 days of
# history and training 21 more (7 train, 7 delay, 7 test); 75 days leaves room for both.
DEMO_CUSTOMERS = 300
DEMO_TERMINALS = 600
DEMO_DAYS = 75
DEMO_SEED = 2018
BOOK_ALERTS_PER_FRAUD = 100 / 85  # the book's alert budget against its frauds a day
# Demo ids get a prefix, so that files made later with generate_transactions (TX00000001, ...) never
# collide with the demo history.
DEMO_ID_PREFIX = "demo-"
ADMIN, ANALYST, CLIENT = "admin", "analyst", "demo-client"


class Command(FraudsiteCommand):
    help = (
        "Prepare a fresh install for a demo: if no model is active, simulate transactions ending now, load\n"
        "them as labelled history, train a random forest and activate it. Create the users admin (superuser),\n"
        "analyst (staff, analyst role) and demo-client (scoring role, API token) if missing, and print their\n"
        "credentials (kept in var/demo-credentials.json, mode 0600). A re-run only prints them again."
    )
    example = "python manage.py bootstrap_demo"

    def handle(self, *args: Any, **options: Any) -> None:
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is None:
            self._bootstrap_model()
        else:
            self.stdout.write(f"model {active.version} is active: no data work to do")
        credentials = _demo_users(Path(settings.VAR_DIR) / "demo-credentials.json")
        self._print_credentials(credentials)
        self.summary(f"demo ready: model {ModelVersion.objects.get(is_active=True).version} active")

    def _bootstrap_model(self) -> None:
        from model_package.io import write_transactions

        frame = _demo_transactions()
        path = Path(settings.VAR_DIR) / "demo" / "demo-transactions.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_transactions(frame, path)
        with self.progress(description="loading history") as progress:
            loaded = transactions_load(path=path, with_labels=True, progress=progress)
        self.stdout.write(f"history: {loaded.inserted:,} transactions stored from {path}")
        options = TrainingOptions(algorithm="rf", alert_budget=_alert_budget(frame))
        outcome = model_train_from_file(path=path, options=options, activate=True)
        self.stdout.write(outcome.metrics_table)
        self.stdout.write(f"model {outcome.model_version.version} trained and activated")

    def _print_credentials(self, credentials: dict[str, str]) -> None:
        port = os.environ.get("PORT", "8000")
        body = json.dumps(
            {
                "transaction_id": "try-1",
                "timestamp": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "customer_id": "C00001",
                "terminal_id": "T00001",
                "amount": "42.00",
            }
        )
        lines = [
            "",
            f"  admin (superuser):       {ADMIN} / {credentials[ADMIN]}",
            f"  analyst (review queue):  {ANALYST} / {credentials[ANALYST]}",
            f"  scoring client token:    {credentials['token']}",
            "",
            "  try it:",
            f"  curl -H 'Authorization: Token {credentials['token']}' -H 'Content-Type: application/json' \\",
            f"       -d '{body}' http://127.0.0.1:{port}/api/v1/transactions/",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _demo_transactions():
    """A simulated history whose last day is today and which stops now (nothing in the future)."""
    from model_package.simulate import simulate

    now = timezone.now()
    start = (now - timedelta(days=DEMO_DAYS - 1)).date()
    frame = simulate(customers=DEMO_CUSTOMERS, terminals=DEMO_TERMINALS, days=DEMO_DAYS, start=start, seed=DEMO_SEED)
    frame = frame[frame["timestamp"] <= now].copy()
    frame["transaction_id"] = DEMO_ID_PREFIX + frame["transaction_id"].astype(str)
    return frame


def _alert_budget(frame) -> int:
    """The book's 100 alerts a day for its 85 frauds a day, scaled to the demo's frauds a day.

    The scenarios compromise 2 terminals and 3 customers a day whatever the population's size, so the
    small demo's fraud rate is about 13 times the book's (11 % against 0.84 %). A budget scaled to its
    transactions (1 % of them) would alert on fewer cases than there are frauds: every alert would then
    be precise enough to decline, and the demo would never show a review.
    """
    frauds_per_day = frame["is_fraud"].sum() / DEMO_DAYS
    return max(1, round(frauds_per_day * BOOK_ALERTS_PER_FRAUD))


def _demo_users(credentials_path: Path) -> dict[str, str]:
    """Create the demo users if missing; passwords live in credentials_path so a re-run can print them."""
    stored = _read_credentials(credentials_path)
    with transaction.atomic():
        for username in (ADMIN, ANALYST):
            user = User.objects.filter(username=username).first()
            if user is None or username not in stored:
                # A new user, or one whose password was never written down here: give it a fresh one.
                stored[username] = secrets.token_urlsafe(12)
                _ensure_user(username, password=stored[username])
        client = User.objects.filter(username=CLIENT).first()
        if client is None:
            client, token = api_client_create(name=CLIENT, role="scoring")
        else:
            token, _ = Token.objects.get_or_create(user=client)
    _write_credentials(credentials_path, {ADMIN: stored[ADMIN], ANALYST: stored[ANALYST]})
    return {ADMIN: stored[ADMIN], ANALYST: stored[ANALYST], "token": token.key}


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
