"""purge_audit: delete audit rows past their retention period; the only path that deletes them."""

from __future__ import annotations

from typing import Any

from predictions.management.base import FraudsiteCommand, positive_int
from predictions.services.events import Actor
from predictions.services.retention import audit_purge


class Command(FraudsiteCommand):
    help = (
        "Delete the predictions, scoring requests and reviews older than --older-than days, in atomic\n"
        "chunks, and print and log what was deleted. A request still referenced by a kept prediction is\n"
        "kept. Transactions and their labels are not audit rows and stay. --dry-run only counts."
    )
    example = "python manage.py purge_audit --older-than 365 --dry-run"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=positive_int, required=True, metavar="DAYS", help="retention in days")
        parser.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_purge(
            older_than_days=options["older_than"], dry_run=options["dry_run"], actor=Actor.command("purge_audit")
        )
        verb = "would delete" if result.dry_run else "deleted"
        for item in result.items:
            self.stdout.write(f"{verb} {item}")
        cutoff = f"older than {result.cutoff:%Y-%m-%d %H:%M} UTC"
        if result.dry_run:
            self.summary(f"{result.total:,} audit rows {cutoff} would be deleted: nothing was changed (dry run)")
        else:
            self.summary(f"{result.total:,} audit rows {cutoff} deleted")
