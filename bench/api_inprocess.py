"""The in-process cost of one scoring request, without a load generator: Django's test client, one client.

Run it on a database that bench/api.py prepared and kept (`bench/api.py --duration 1 --warmup 0 --keep`
prints its directory); it posts N new transactions for that history and prints the median and mean time.
Used to compare two trees with little noise (bench/RESULTS.md, issue 12).

    .venv/bin/python bench/api_inprocess.py /tmp/fraudsite-bench-XXXX 1050 label
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fraudsite_bench_api_NNNN .venv/bin/python bench/api_inprocess.py ...
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

WARMUP = 50


def main() -> None:
    work, count, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.environ.update(
        {
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{work}/bench-api.sqlite3",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 30,
            "DEBUG": "0",
            "FRAUDSITE_VAR_DIR": work,
            "FRAUDSITE_MODEL_DIR": f"{work}/models",
            "FRAUDSITE_AUDIT_KEY": "bench-only-audit-key-0123456789abcdef",
            "THROTTLE_SCORING": "none",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
        }
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    out = StringIO()
    call_command("create_api_client", f"inprocess-{label}-{time.time_ns()}", "--role", "scoring", stdout=out)
    client = Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().split()[-1]}")
    start = datetime.now(UTC) - timedelta(minutes=5)
    bodies = [
        json.dumps(
            {
                "transaction_id": f"inprocess-{label}-{time.time_ns()}-{i}",
                "timestamp": (start + timedelta(milliseconds=i)).isoformat(),
                "customer_id": f"C{i % 3000:05d}",
                "terminal_id": f"T{i % 6000:05d}",
                "amount": "42.00",
            }
        )
        for i in range(count)
    ]
    times = []
    for index, body in enumerate(bodies):
        began = time.perf_counter()
        response = client.post("/api/v1/transactions/", body, content_type="application/json")
        if index >= WARMUP:
            times.append(time.perf_counter() - began)
        if response.status_code != 201:
            sys.exit(f"{response.status_code}: {response.content[:200]!r}")
    print(
        f"{label}: median {statistics.median(times) * 1000:.2f} ms, mean {statistics.mean(times) * 1000:.2f} ms,"
        f" n={len(times)}"
    )


if __name__ == "__main__":
    main()
