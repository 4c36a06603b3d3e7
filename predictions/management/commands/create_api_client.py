"""create_api_client NAME --role scoring|analyst: a new API user with a token."""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.services.clients import ROLES, ApiClientError, api_client_create


class Command(BaseCommand):
    help = "Create an API client (a user in the scoring or analyst role) and print its token on the last line."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = "example:\n  python manage.py create_api_client acme-checkout --role scoring"
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the client's user name (letters, digits and @ . + - _)")
        # Checked by the service, not by argparse choices, so a bad role is refused in one line.
        parser.add_argument("--role", required=True, help=f"one of: {', '.join(ROLES)}")

    def handle(self, *args, name: str, role: str, **options) -> None:
        try:
            user, token = api_client_create(name=name, role=role)
        except ApiClientError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created API client {user.username!r} with role {role}. Its token:")
        self.stdout.write(token.key)
