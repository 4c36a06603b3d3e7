"""What the Prometheus metrics (and LOG_FORMAT=json) cost a scoring request, in prometheus-client's multiprocess
mode as under gunicorn.conf.py (each value written to an mmap'd file), in process, without a load generator.

A fresh SQLite database gets the demo's history and model (bootstrap_demo). Then Django's test client posts new
transactions in paired blocks, alternated so that drift on a shared machine falls on all variants alike:

- bare: no metrics at all (the middleware left out, integrity.signed's audit-row count a no-op);
- metrics: as served (request count and latency, scores and decisions, three audit rows on commit);
- metrics+json: the same with LOG_FORMAT=json, the request lines written to /dev/null.

It also times the instrumentation's calls on their own, and one scrape of /metrics.

    nice -n 19 .venv/bin/python bench/metrics.py [--blocks 10] [--per-block 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 30


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-block", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fraudsite-bench-metrics-"))
    (work / "prometheus").mkdir()
    (work / "static").mkdir()  # WhiteNoise warns without it
    os.environ.update(
        {
            # Before prometheus_client is imported: it picks its value class then.
            "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
            "DATABASE_URL": f"sqlite:///{work}/bench-metrics.sqlite3",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 30,
            "DEBUG": "0",
            "FRAUDSITE_VAR_DIR": str(work),
            "FRAUDSITE_MODEL_DIR": str(work / "models"),
            "FRAUDSITE_AUDIT_KEY": "bench-only-audit-key-0123456789abcdef",
            "THROTTLE_SCORING": "none",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",  # the console handler's formatter; the variants choose whether requests log
            "ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    print(f"preparing {work} (migrate, bootstrap_demo) ...", flush=True)
    call_command("migrate", verbosity=0)
    call_command("bootstrap_demo", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("create_api_client", "bench-metrics", "--role", "scoring", stdout=out)
    token = out.getvalue().split()[-1]
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115

    variants = {name: _client(name, token) for name in ("bare", "metrics", "metrics+json")}
    times: dict[str, list[float]] = {name: [] for name in variants}
    bodies = _bodies(WARMUP * len(variants) + args.blocks * args.per_block * len(variants))
    for name, client in variants.items():
        _post(client, name, [next(bodies) for _ in range(WARMUP)])
    for block in range(args.blocks):
        order = list(variants) if block % 2 == 0 else list(reversed(variants))
        for name in order:
            times[name] += _post(variants[name], name, [next(bodies) for _ in range(args.per_block)])
    bare = statistics.median(times["bare"])
    print(f"POST /api/v1/transactions/, {args.blocks} paired blocks of {args.per_block}, SQLite, multiprocess mode")
    for name, measured in times.items():
        median, mean = statistics.median(measured), statistics.mean(measured)
        print(
            f"  {name:13s} median {median * 1000:.3f} ms, mean {mean * 1000:.3f} ms,"
            f" median - bare {(median - bare) * 1e6:+.0f} us (n={len(measured)})"
        )
    _calls_alone(variants["metrics"])


def _client(name: str, token: str):
    from django.conf import settings
    from django.test import Client, override_settings

    middleware = [m for m in settings.MIDDLEWARE if name != "bare" or "observability" not in m]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    # The handler builds its middleware (and reads LOG_FORMAT) on its first request: make it here.
    with override_settings(MIDDLEWARE=middleware, LOG_FORMAT="json" if name == "metrics+json" else "plain"):
        client.get("/api/v1/health/live")
    return client


def _bodies(count: int):
    start = datetime.now(UTC) - timedelta(minutes=4)
    stamp = time.time_ns()
    for i in range(count):
        yield json.dumps(
            {
                "transaction_id": f"bench-metrics-{stamp}-{i}",
                "timestamp": (start + timedelta(milliseconds=i)).isoformat(),
                "customer_id": f"C{i % 3000:05d}",
                "terminal_id": f"T{i % 6000:05d}",
                "amount": "42.00",
            }
        )


def _post(client, name: str, bodies: list[str]) -> list[float]:
    # bare: integrity.signed counts no audit row either.
    patch = (
        mock.patch("predictions.services.integrity.audit_row_written", new=_no_count) if name == "bare" else _nothing()
    )
    times = []
    with patch:
        for body in bodies:
            began = time.perf_counter()
            response = client.post("/api/v1/transactions/", body, content_type="application/json")
            times.append(time.perf_counter() - began)
            if response.status_code != 201:
                sys.exit(f"{name}: {response.status_code}: {response.content[:200]!r}")
    return times


def _no_count(table: str) -> None:
    """integrity.signed's audit-row count, in the bare variant: a plain function, as cheap as a call gets."""


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _calls_alone(client) -> None:
    """Each call's best time of several runs: on a shared machine the minimum is what the code costs."""
    from django.db import transaction

    from predictions import metrics

    result = {"model_version": "bench", "score": 0.12, "decision": "approve"}

    observe = _best(
        lambda: metrics.request_observe(endpoint="transaction-list", method="POST", status=201, seconds=0.003)
    )
    scores = _best(lambda: metrics.scores_observe([result]))
    rows = 3 * min(_audit_row(transaction, metrics) for _ in range(7))
    log_line = _best(_log_line())
    began = time.perf_counter()
    scrape = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    scrape_ms = (time.perf_counter() - began) * 1000
    assert scrape.status_code == 200
    print("the calls alone, multiprocess mode, per scoring request (best of 7 runs of 5,000):")
    print(f"  request_observe (counter + histogram)        {observe * 1e6:.1f} us")
    print(f"  scores_observe, one result                   {scores * 1e6:.1f} us")
    print(f"  audit_row_written x3, registered + committed {rows * 1e6:.1f} us")
    print(f"  total                                        {(observe + scores + rows) * 1e6:.1f} us")
    print(f"  LOG_FORMAT=json: the request's line, formatted, to /dev/null {log_line * 1e6:.1f} us")
    print(f"GET /metrics (this process's files): {scrape_ms:.1f} ms, {len(scrape.content):,} bytes")


def _audit_row(transaction, metrics, *, number: int = 5_000) -> float:
    """One audit row's count: its on_commit registration, and the callback's increment when the block commits.

    Timed apart: Django runs a block's callbacks with list.pop(0), so thousands of them in one block (unlike
    the three of a scoring request) would time that list, not the count.
    """
    with transaction.atomic():
        began = time.perf_counter()
        for _ in range(number):
            metrics.audit_row_written("request")
        registered = (time.perf_counter() - began) / number
        transaction.get_connection().run_on_commit.clear()
    series = metrics.AUDIT_ROWS.labels("request")
    return registered + min(timeit.repeat(series.inc, number=number, repeat=7)) / number


def _log_line():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from fraudsite.observability.middleware import _log_request

    request = RequestFactory().post("/api/v1/transactions/")
    response = HttpResponse(status=201, headers={"X-Request-ID": "0b7d5c3e-2f39-4f5e-8f0e-5d7d8a9b6c21"})
    return lambda: _log_request(request, response, endpoint="transaction-list", seconds=0.002)


def _best(call, *, number: int = 5_000) -> float:
    return min(timeit.repeat(call, number=number, repeat=7)) / number


if __name__ == "__main__":
    main()
