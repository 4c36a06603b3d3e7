"""What the decision layer (block/allow lists and rules) adds to a scoring request: the one call of the scoring
path, services.decisions.prediction_decide, timed in-process on a fresh test database.

It reads the generation row (one query), looks the customer and the terminal up in the cached lists and
evaluates the active rule set. Measured with no list entry and no rule set, and with ENTRIES entries and the
RULES rules below; min of 5 x N calls. DATABASE_URL picks the database (SQLite by default).

    .venv/bin/python bench/decisions.py [N]
"""

from __future__ import annotations

import os
import sys
import timeit
from decimal import Decimal
from pathlib import Path

ENTRIES = 1000
RULES = [
    {
        "name": "big_at_risky_terminal",
        "decision": "review",
        "condition": {"and": [{">": [{"var": "amount"}, 1000]}, {">": [{"var": "TERMINAL_ID_RISK_7DAY_WINDOW"}, 0.2]}]},
    },
    {
        "name": "night_and_score",
        "decision": "decline",
        "condition": {"and": [{">": [{"var": "score"}, 0.5]}, {"==": [{"var": "TX_DURING_NIGHT"}, 1]}]},
    },
    {"name": "many_today", "decision": "review", "condition": {">": [{"var": "CUSTOMER_ID_NB_TX_1DAY_WINDOW"}, 10]}},
    {
        "name": "far_over_mean",
        "decision": "review",
        "condition": {">": [{"var": "CUSTOMER_ID_AMOUNT_OVER_MEAN_30DAY_WINDOW"}, 8]},
    },
    {
        "name": "foreign_currency_high",
        "decision": "review",
        "condition": {"and": [{"!=": [{"var": "currency"}, "EUR"]}, {">": [{"var": "amount"}, 500]}]},
    },
]


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.test_settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0)
    try:
        _measure(calls)
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def _measure(calls: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from model_package.features import ALL_FEATURE_NAMES
    from predictions.models import ListEntry, Prediction, Transaction
    from predictions.services.decisions import policy_active, prediction_decide
    from predictions.services.events import Actor
    from predictions.services.policy import list_entry_add, rule_set_activate, rule_set_create

    names = list(ALL_FEATURE_NAMES)
    tx = Transaction(customer_id="C00001", terminal_id="T00001", amount=Decimal("1500.00"), currency="EUR")

    # One row, decided again and again: building a Prediction costs more than deciding it, and is not the layer's.
    prediction = Prediction(
        transaction=tx, score=0.3, decision="approve", features=[0.25] * len(names), scored_at=timezone.now()
    )

    def one() -> None:
        prediction.decision = "approve"
        prediction_decide(prediction, feature_names=names)

    def report(label: str) -> None:
        policy_active()
        per_call = min(timeit.repeat(one, number=calls, repeat=5)) / calls
        marker = min(timeit.repeat(policy_active, number=calls, repeat=5)) / calls
        print(
            f"{connection.vendor} {label}: prediction_decide {per_call * 1e6:.1f} us a call "
            f"(of which the generation read {marker * 1e6:.1f} us), min of 5 x {calls}"
        )

    report("no entries, no rule set")
    actor = Actor(name="bench", via="bench")
    list_entry_add(list="block", field="terminal_id", value="T99999", reason="bench", expires_at=None, actor=actor)
    ListEntry.objects.bulk_create(
        ListEntry(
            list="block" if i % 2 else "allow",
            field="customer_id" if i % 3 else "terminal_id",
            value=f"X{i:05d}",
            reason="bench",
            author="bench",
        )
        for i in range(ENTRIES - 1)
    )
    rule_set_create(version="bench", rules=RULES, description="", actor=actor)
    rule_set_activate(version="bench", actor=actor)  # a new generation: the bulk-created entries are read too
    assert len(policy_active().lists.entries) == ENTRIES
    report(f"{ENTRIES} entries, {len(RULES)} rules")


if __name__ == "__main__":
    main()
