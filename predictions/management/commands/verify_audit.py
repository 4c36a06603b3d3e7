"""verify_audit [--since D] [--until D]: prove the audit was not changed outside fraudsite."""

from __future__ import annotations

import sys
from typing import Any

from predictions.management.base import FraudsiteCommand, since_bound, until_bound
from predictions.services.integrity import audit_verify


class Command(FraudsiteCommand):
    help = (
        "Check every audit row in the range (transactions' own fields, scoring requests, predictions,\n"
        "reviews, audit events) against its keyed hash, and every sealed block that covers the range\n"
        "against the rows stored now. Prints one line per record changed, removed or inserted outside\n"
        "fraudsite ('transaction <id>: changed', 'prediction 42: removed', ...) and exits with status 1\n"
        "if there is any. Needs the FRAUDSITE_AUDIT_KEY the rows were written with. Nothing is written."
    )
    example = "python manage.py verify_audit --since 2026-03-01 --until 2026-03-31"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", type=since_bound, help="rows from this day or time on")
        parser.add_argument("--until", type=until_bound, help="rows before this time (a date: to the end of that day)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify(since=options["since"], until=options["until"])
        for finding in result.findings:
            self.stdout.write(str(finding))
        rows = sum(result.checked.values())
        counts = ", ".join(f"{count:,} {kind}" for kind, count in result.checked.items())
        unsealed = f"; {result.unsealed:,} not sealed yet (seal_audit)" if result.unsealed else ""
        detail = f"{rows:,} rows ({counts}), {result.seals:,} sealed blocks{unsealed}"
        if result.findings:
            self.stderr.write(
                f"{len(result.findings):,} records changed, removed or inserted outside fraudsite: {detail}"
            )
            sys.exit(1)
        self.summary(f"audit intact: {detail}")
