"""create_api_client NAME --role scoring|analyst: a new API user with a token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from predictions.management.base import FraudsiteCommand
from predictions.services.clients import ROLES, api_client_create


class Command(FraudsiteCommand):
    help = "Create an API client (a user in the scoring or analyst role) and print its token on the last line."
    example = "python manage.py create_api_client acme-checkout --role scoring"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the client's user name (letters, digits and @ . + - _)")
        # Checked by the service, not by argparse choices, so a bad role is refused in one line.
        parser.add_argument("--role", required=True, help=f"one of: {', '.join(ROLES)}")

    def handle(self, *args: Any, name: str, role: str, **options: Any) -> None:
        user, token = api_client_create(name=name, role=role)
        self.stdout.write(f"Created API client {user.username!r} with role {role}. Its token:")
        self.stdout.write(token.key)
