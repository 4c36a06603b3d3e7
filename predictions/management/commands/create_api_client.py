"""create_api_client NAME --role scoring|analyst, or NAME --rotate, or NAME --revoke."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from predictions.management.base import FraudsiteCommand
from predictions.services.clients import (
    ROLES,
    api_client_create,
    api_client_create_or_rotate,
    api_client_revoke,
    api_client_rotate,
)
from predictions.services.events import Actor


class Command(FraudsiteCommand):
    help = (
        "Create an API client (a user in the scoring or analyst role) and print its key on the last line,\n"
        "or give an existing client a new key (--rotate: the old key stops working), or revoke it (--revoke).\n"
        "--role with --rotate creates the client if it is missing and rotates its key otherwise, so a script\n"
        "gets a working key on every run. Only a hash of the key is stored: it is shown this once."
    )
    example = (
        "python manage.py create_api_client acme-checkout --role scoring\n"
        "python manage.py create_api_client acme-checkout --rotate\n"
        "python manage.py create_api_client fraud-desk --role analyst --rotate   # created, or a new key"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the client's user name (letters, digits and @ . + - _)")
        # Checked by the service, not by argparse choices, so a bad role is refused in one line.
        parser.add_argument("--role", help=f"for a new client, one of: {', '.join(ROLES)}")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--rotate", action="store_true", help="a new key for an existing client (with --role: created if missing)"
        )
        action.add_argument("--revoke", action="store_true", help="the client's key stops working")

    def handle(self, *args: Any, name: str, role: str | None, rotate: bool, revoke: bool, **options: Any) -> None:
        actor = Actor.command("create_api_client")
        if revoke and role:
            raise CommandError("--role is for a new client; --revoke keeps the client's role")
        if rotate and role:
            created, key = api_client_create_or_rotate(name=name, role=role, actor=actor)
            done = f"Created API client {name!r} with role {role}" if created else f"API client {name!r} has a new key"
            self.stdout.write(f"{done}. Its key:")
            self.stdout.write(key)
        elif revoke:
            api_client_revoke(name=name, actor=actor)
            self.summary(f"API client {name!r} revoked: its key no longer works (--rotate gives it a new one)")
        elif rotate:
            key = api_client_rotate(name=name, actor=actor)
            self.stdout.write(f"API client {name!r} has a new key; the old one no longer works. Its key:")
            self.stdout.write(key)
        elif not role:
            raise CommandError(f"--role is required for a new client: one of {', '.join(ROLES)}")
        else:
            _, key = api_client_create(name=name, role=role, actor=actor)
            self.stdout.write(f"Created API client {name!r} with role {role}. Its key:")
            self.stdout.write(key)
