"""/metrics under gunicorn with two workers: whichever worker answers, it counts both workers' requests
(prometheus-client's multiprocess mode, set up by gunicorn.conf.py), and it refuses an unauthorised caller."""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.live

SCORED = ("fraudsite_http_requests_total", {"endpoint": "transaction-list", "method": "POST", "status": "201"})
THREADS = 8
REQUESTS = 32
MAX_ROUNDS = 10


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(service, **headers: str) -> dict[tuple[str, frozenset], float]:
    answer = service.request("GET", "/metrics", headers=headers)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(answer.body.decode())


def value(scraped: dict, name: str, labels: dict[str, str]) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def per_worker(directory: Path, name: str, labels: dict[str, str]) -> dict[str, float]:
    """What each worker's own counter file holds for this series, by the worker's pid."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        merged = samples_of(MultiProcessCollector.merge([str(path)]))
        counted[path.stem.removeprefix("counter_")] = value(merged, name, labels)
    return counted


def samples_of(families) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}


def score_many(service, prefix: str) -> list[int]:
    """REQUESTS new transactions from THREADS threads at once, so that both workers are kept busy."""
    moment = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    start = threading.Barrier(THREADS)

    def send(i: int) -> int:
        if i < THREADS:
            start.wait(timeout=60)
        body = {
            "transaction_id": f"{prefix}-{i}",
            "timestamp": moment,
            "customer_id": f"LIVE-METRICS-{i % 5}",
            "terminal_id": "LIVE-METRICS-T",
            "amount": "12.50",
        }
        return service.request("POST", "/api/v1/transactions/", token=service.scoring_token, json_body=body).status

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(send, range(REQUESTS)))


def test_metrics_add_up_every_workers_requests_whichever_worker_answers(live_service):
    directory = live_service.log.parent / "prometheus"
    before, files_before = scrape(live_service), per_worker(directory, *SCORED)

    # Until both workers have scored: on a loaded machine one worker may take a whole round.
    sent = 0
    for _ in range(MAX_ROUNDS):
        assert score_many(live_service, f"live-metrics-{secrets.token_hex(4)}") == [201] * REQUESTS
        sent += REQUESTS
        files = per_worker(directory, *SCORED)
        scored_by = {pid for pid, count in files.items() if count > files_before.get(pid, 0)}
        if len(scored_by) == 2:
            break
    assert len(scored_by) == 2, f"both workers should have scored in {MAX_ROUNDS} rounds: {files}"
    # Several scrapes, new connections each, so both workers answer some: each answer is the sum of every
    # worker's file (those of workers that have exited too: their counts stay).
    for _ in range(6):
        after = scrape(live_service)
        assert value(after, *SCORED) == sum(files.values())
        assert value(after, *SCORED) - value(before, *SCORED) == sent


def test_metrics_hold_every_metric_the_operator_reads(live_service):
    score_many(live_service, f"live-metrics-{secrets.token_hex(4)}")

    scraped = scrape(live_service)

    version = next(dict(labels)["model_version"] for name, labels in scraped if name == "fraudsite_active_model_info")
    route = {"endpoint": "transaction-list", "method": "POST"}
    assert value(scraped, "fraudsite_http_request_duration_seconds_count", route) >= REQUESTS
    assert value(scraped, "fraudsite_scores_count", {"model_version": version}) >= REQUESTS
    decisions = sum(
        count for (name, labels), count in scraped.items()
        if name == "fraudsite_decisions_total" and dict(labels)["model_version"] == version
    )  # fmt: skip
    assert decisions == value(scraped, "fraudsite_scores_count", {"model_version": version})
    # Each worker loads the model before its first score (a worker restarted by an earlier test, once more).
    assert value(scraped, "fraudsite_model_load_seconds_count", {"model_version": version}) >= 1
    for table in ("transaction", "prediction", "request"):
        assert value(scraped, "fraudsite_audit_rows_total", {"table": table}) >= REQUESTS
    assert ("fraudsite_database_errors_total", frozenset({"error": "OperationalError"}.items())) in scraped


def test_without_a_token_a_request_through_a_proxy_is_refused(live_service):
    answer = live_service.request("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})

    assert answer.status == 403
    assert b"fraudsite_" not in answer.body


@pytest.fixture(scope="module")
def instance_with_token(live_service):
    """Another gunicorn (two workers) with a metrics token and JSON logs; before it starts, its metrics directory
    holds a file left from an earlier run (a copy of one of the live service's, with counts in it)."""
    token = secrets.token_urlsafe(24)
    directory = live_service.log.with_name("prometheus-metrics-token")
    directory.mkdir()
    left = next((live_service.log.parent / "prometheus").glob("counter_*.db"))
    shutil.copy(left, directory / "counter_1.db")
    with live_service.another_instance("metrics-token", METRICS_TOKEN=token, LOG_FORMAT="json") as service:
        yield service, token, directory


def test_with_a_token_a_wrong_or_missing_token_is_refused(instance_with_token):
    service, token, _ = instance_with_token

    missing = service.request("GET", "/metrics")
    wrong = service.request("GET", "/metrics", headers={"Authorization": f"Bearer {token[:-1]}"})
    right = scrape(service, Authorization=f"Bearer {token}")

    assert (missing.status, wrong.status) == (401, 401)
    assert b"fraudsite_" not in missing.body + wrong.body
    assert any(name == "fraudsite_active_model_info" for name, _ in right)


def test_gunicorn_starts_with_no_metrics_of_an_earlier_run(instance_with_token):
    service, token, directory = instance_with_token

    scraped = scrape(service, Authorization=f"Bearer {token}")

    assert not (directory / "counter_1.db").exists()
    assert value(scraped, *SCORED) == 0  # this instance has scored nothing yet


def test_with_json_logs_each_request_is_one_json_line_with_its_request_id(instance_with_token):
    service, _, _ = instance_with_token
    body = {
        "transaction_id": f"live-metrics-json-{secrets.token_hex(4)}",
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "customer_id": "LIVE-METRICS-JSON",
        "terminal_id": "LIVE-METRICS-T",
        "amount": "8.00",
    }

    answer = service.request("POST", "/api/v1/transactions/", token=service.scoring_token, json_body=body)

    assert answer.status == 201
    request_id = answer.headers["X-Request-ID"]
    lines = [json.loads(line) for line in service.log.read_text().splitlines() if request_id in line]
    assert len(lines) == 1, service.log.read_text()[-2000:]
    assert lines[0]["logger"] == "fraudsite.requests"
    assert (lines[0]["request_id"], lines[0]["status"], lines[0]["endpoint"]) == (request_id, 201, "transaction-list")
