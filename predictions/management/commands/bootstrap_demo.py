"""bootstrap_demo: make a fresh install usable (history, an active model, demo users); `make run` calls it."""

from __future__ import annotations

import os
from typing import Any

from predictions.management.base import FraudsiteCommand
from predictions.services.demo import ADMIN, ANALYST, DemoBootstrap, DemoCredentials, demo_bootstrap


class Command(FraudsiteCommand):
    help = (
        "Prepare a fresh install for a demo: if no model is active, simulate transactions ending now, load\n"
        "them as labelled history, train a random forest and activate it. Create the users admin (superuser),\n"
        "analyst (staff, analyst role) and demo-client (scoring role, API token) if missing, and print their\n"
        "credentials (kept in var/demo-credentials.json, mode 0600). A re-run only prints them again."
    )
    example = "python manage.py bootstrap_demo"

    def handle(self, *args: Any, **options: Any) -> None:
        with self.progress(description="loading history") as progress:
            outcome = demo_bootstrap(progress=progress)
        self._print_model(outcome)
        self._print_credentials(outcome.credentials)
        self.summary(f"demo ready: model {outcome.model_version.version} active")

    def _print_model(self, outcome: DemoBootstrap) -> None:
        built = outcome.built
        if built is None:
            self.stdout.write(f"model {outcome.model_version.version} is active: no data work to do")
            return
        self.stdout.write(f"history: {built.inserted:,} transactions stored from {built.path}")
        self.stdout.write(built.training.metrics_table)
        self.stdout.write(f"model {built.training.model_version.version} trained and activated")

    def _print_credentials(self, credentials: DemoCredentials) -> None:
        port = os.environ.get("PORT", "8000")
        lines = [
            "",
            f"  admin (superuser):       {ADMIN} / {credentials.admin_password}",
            f"  analyst (review queue):  {ANALYST} / {credentials.analyst_password}",
            f"  scoring client token:    {credentials.token}",
            "",
            "  try it (a new transaction each time; the same second twice is a replay):",
            *(f"  {line}" for line in try_it_lines(token=credentials.token, port=port)),
            "",
        ]
        self.stdout.write("\n".join(lines))


def try_it_lines(*, token: str, port: str) -> list[str]:
    """A shell snippet that scores one transaction, and again on every run: its id is the time it is sent.

    A fixed id would answer 409 the second time, because the timestamp (which must be recent for the
    history to count) changes between runs.
    """
    body = (
        '{"transaction_id": "try-\'$NOW\'", "timestamp": "\'$NOW\'", '
        '"customer_id": "C00001", "terminal_id": "T00001", "amount": "42.00"}'
    )
    return [
        "NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        f"curl -s -H 'Authorization: Token {token}' -H 'Content-Type: application/json' \\",
        f"     -d '{body}' http://127.0.0.1:{port}/api/v1/transactions/",
    ]
