"""list_api_clients: every API client with its role, state and key prefix (never the key)."""

from __future__ import annotations

from typing import Any

from predictions.management.base import FraudsiteCommand
from predictions.services.clients import api_clients_list

COLUMNS = ("name", "role", "state", "key", "key created")


class Command(FraudsiteCommand):
    help = (
        "List the API clients: name, role, whether it may sign in, the first characters of its key and when\n"
        "the key was made. Keys themselves are not stored and cannot be shown."
    )
    example = "python manage.py list_api_clients"

    def handle(self, *args: Any, **options: Any) -> None:
        clients = api_clients_list()
        if not clients:
            self.summary("no API clients (create one with create_api_client)")
            return
        rows = [COLUMNS]
        for client in clients:
            state = "active" if client.active and client.key_prefix else "revoked"
            created = f"{client.key_created:%Y-%m-%d %H:%M}" if client.key_created else "-"
            prefix = f"{client.key_prefix}..." if client.key_prefix else "-"
            rows.append((client.name, client.role, state, prefix, created))
        self.table(rows)
        self.summary(f"{len(clients)} API clients")
