"""GET /metrics: the operator's metrics in the Prometheus text format, for loopback or a metrics token only.

In the test process prometheus_client keeps values in memory (no PROMETHEUS_MULTIPROC_DIR), and they add up over
the whole run: each test reads /metrics before and after what it does, and asserts the difference.
tests/live/test_metrics.py checks the same across two gunicorn workers.
"""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from fraudsite.observability.logs import JsonFormatter
from predictions.services.model_loader import clear_cache

pytestmark = pytest.mark.django_db

SCORE = "/api/v1/transactions/"
BATCH = "/api/v1/transactions/batch/"
TOKEN = "a-metrics-token-of-some-length"


def scrape(client: Client | None = None, **headers: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of GET /metrics, parsed as Prometheus parses it."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_it_counts_requests_by_route_name_and_status_with_their_latency(scoring_client, active_model_version):
    before = scrape()

    scoring_client.post(SCORE, {"transaction_id": "m-1"}, format="json")  # 400: fields missing
    scoring_client.get("/api/v1/transactions/m-unknown/")  # 403: a scoring client may not read

    after = scrape()
    route = {"endpoint": "transaction-list", "method": "POST"}
    assert grew(before, after, "fraudsite_http_requests_total", status="400", **route) == 1
    assert grew(before, after, "fraudsite_http_request_duration_seconds_count", **route) == 1
    assert grew(before, after, "fraudsite_http_request_duration_seconds_bucket", le="+Inf", **route) == 1
    detail = {"endpoint": "transaction-detail", "method": "GET", "status": "403"}
    assert grew(before, after, "fraudsite_http_requests_total", **detail) == 1
    assert not any("m-unknown" in str(labels) for _, labels in after), "a raw path became a label"


def test_a_request_refused_before_its_route_is_resolved_counts_under_its_route(settings, scoring_client):
    settings.FRAUDSITE_MAX_BODY_BYTES = 1024
    before = scrape()

    response = scoring_client.post(SCORE, b"{" + b" " * 2000 + b"}", content_type="application/json")

    assert response.status_code == 413
    route = {"endpoint": "transaction-list", "method": "POST", "status": "413"}
    assert grew(before, scrape(), "fraudsite_http_requests_total", **route) == 1


def test_it_counts_new_scores_and_decisions_by_model_version_and_the_audit_rows(
    scoring_client, active_model_version, transaction_payload, django_capture_on_commit_callbacks
):
    clear_cache()  # this test's first score loads the model
    version = active_model_version.version
    before = scrape()

    body = transaction_payload(transaction_id="m-2")

    with django_capture_on_commit_callbacks(execute=True):
        first = scoring_client.post(SCORE, body, format="json")
        scoring_client.post(SCORE, body, format="json")  # a replay
        batch = scoring_client.post(BATCH, {"items": [body, transaction_payload(transaction_id="m-3")]}, format="json")

    after = scrape()
    assert (first.status_code, batch.status_code) == (201, 201)
    decisions = [first.json()["decision"], batch.json()["results"][1]["decision"]]
    # Two new scores (m-2 once, m-3), not the replays of m-2.
    assert grew(before, after, "fraudsite_scores_count", model_version=version) == 2
    for decision in set(decisions):
        counted = grew(before, after, "fraudsite_decisions_total", model_version=version, decision=decision)
        assert counted == decisions.count(decision)
    scores = [first.json()["score"], batch.json()["results"][1]["score"]]
    assert grew(before, after, "fraudsite_scores_sum", model_version=version) == pytest.approx(sum(scores))
    assert grew(before, after, "fraudsite_model_load_seconds_count", model_version=version) == 1
    assert value(after, "fraudsite_active_model_info", model_version=version) == 1
    # Three requests, two transactions and their two predictions.
    assert grew(before, after, "fraudsite_audit_rows_total", table="request") == 3
    assert grew(before, after, "fraudsite_audit_rows_total", table="transaction") == 2
    assert grew(before, after, "fraudsite_audit_rows_total", table="prediction") == 2


def test_a_rolled_back_write_counts_no_audit_row(scoring_client, active_model_version, transaction_payload):
    # pytest-django's transaction around the test never commits: nothing was written for good.
    before = scrape()

    assert scoring_client.post(SCORE, transaction_payload(), format="json").status_code == 201

    assert grew(before, scrape(), "fraudsite_audit_rows_total", table="transaction") == 0


def test_it_counts_a_model_that_fails_to_load(scoring_client, model_version, transaction_payload):
    clear_cache()  # model_version's artifact is at /nowhere
    before = scrape()

    response = scoring_client.post(SCORE, transaction_payload(), format="json")

    assert response.status_code == 503
    after = scrape()
    assert grew(before, after, "fraudsite_model_load_failures_total", model_version=model_version.version) == 1
    assert grew(before, after, "fraudsite_model_load_seconds_count", model_version=model_version.version) == 0


def test_it_counts_database_errors(scoring_client, active_model_version, transaction_payload):
    before = scrape()

    with mock.patch("predictions.api.views.transaction_score", side_effect=OperationalError("server closed")):
        response = scoring_client.post(SCORE, transaction_payload(), format="json")

    assert response.status_code == 503
    assert grew(before, scrape(), "fraudsite_database_errors_total", error="OperationalError") == 1


def test_it_counts_database_errors_outside_the_api(analyst_user, model_version):
    client = Client(raise_request_exception=False)
    client.force_login(analyst_user)
    before = scrape()

    with mock.patch("predictions.templatetags.fraudsite_admin.dashboard_figures", side_effect=OperationalError("x")):
        response = client.get("/admin/")

    assert response.status_code == 500
    after = scrape()
    assert grew(before, after, "fraudsite_database_errors_total", error="OperationalError") == 1
    assert grew(before, after, "fraudsite_http_requests_total", endpoint="admin:index", method="GET", status="500") == 1


# --- who may read it -------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1"])
def test_without_a_token_loopback_may_read_it(address):
    assert Client().get("/metrics", REMOTE_ADDR=address).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "10.0.0.7"},
        {"REMOTE_ADDR": "203.0.113.9"},
        # A proxy on this host connects from loopback: what it forwards is not from this host.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
    ],
)
def test_without_a_token_anyone_else_gets_403(headers):
    response = Client().get("/metrics", **headers)

    assert response.status_code == 403
    assert b"fraudsite_" not in response.content
    assert b"METRICS_TOKEN" in response.content


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", f"Token {TOKEN}", "Bearer", f"Basic {TOKEN}"],
)
def test_with_a_token_only_that_bearer_token_may_read_it(settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)  # loopback too needs it

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"fraudsite_" not in response.content


def test_with_a_token_it_answers_that_token_from_anywhere(settings):
    settings.METRICS_TOKEN = TOKEN

    samples = scrape(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert any(name.startswith("fraudsite_http_requests") for name, _ in samples)


def test_it_answers_get_only():
    assert Client().post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


# --- LOG_FORMAT=json ----------------------------------------------------------------------------


def test_with_json_logs_each_request_is_one_line_with_its_request_id(
    settings, caplog, scoring_client, active_model_version, transaction_payload
):
    settings.LOG_FORMAT = "json"  # read when the middleware is built: the client below builds its own
    client = Client(HTTP_AUTHORIZATION=scoring_client._credentials["HTTP_AUTHORIZATION"])

    with caplog.at_level(logging.INFO, logger="fraudsite.requests"):
        response = client.post(SCORE, json.dumps(transaction_payload()), content_type="application/json")

    lines = [JsonFormatter().format(record) for record in caplog.records if record.name == "fraudsite.requests"]
    assert len(lines) == 1 and "\n" not in lines[0]
    entry = json.loads(lines[0])
    assert entry["request_id"] == response["X-Request-ID"] == response.json()["request_id"]
    assert entry | {"time": None, "duration_ms": None} == {
        "time": None,
        "level": "INFO",
        "logger": "fraudsite.requests",
        "message": "POST /api/v1/transactions/ 201",
        "request_id": response["X-Request-ID"],
        "method": "POST",
        "path": "/api/v1/transactions/",
        "endpoint": "transaction-list",
        "status": 201,
        "duration_ms": None,
        "remote_addr": "127.0.0.1",
    }
    assert entry["duration_ms"] > 0


def test_without_json_logs_django_writes_no_request_line(caplog, scoring_client, active_model_version):
    # gunicorn's access log has the line then (gunicorn.conf.py).
    with caplog.at_level(logging.INFO, logger="fraudsite.requests"):
        Client().get("/api/v1/health/live")

    assert [record for record in caplog.records if record.name == "fraudsite.requests"] == []
