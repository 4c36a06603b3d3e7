"""seal_audit [--every SECONDS]: seal the audit rows written since the last seal."""

from __future__ import annotations

import time
from typing import Any

from predictions.management.base import FraudsiteCommand, positive_int
from predictions.services.integrity import SEAL_DELAY, audit_seal


class Command(FraudsiteCommand):
    help = (
        "Seal every audit table's rows that are older than "
        f"{int(SEAL_DELAY.total_seconds())} s and not sealed yet: a seal records\n"
        "which rows existed and the hash of their digests, chained to the seal before, so verify_audit shows a\n"
        "row removed or inserted later. Run it every minute (--every 60, or from cron); a row removed before\n"
        "it is sealed is not detected."
    )
    example = "python manage.py seal_audit --every 60"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--every", type=positive_int, help="keep running, sealing every SECONDS")

    def handle(self, *args: Any, every: int | None, **options: Any) -> None:
        while True:
            seals = audit_seal()
            rows = sum(seal.count for seal in seals)
            if seals or every is None:
                self.summary(f"{len(seals)} blocks sealed ({rows:,} rows)")
            if every is None:
                return
            time.sleep(every)
