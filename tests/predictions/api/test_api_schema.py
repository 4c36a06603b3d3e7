"""The OpenAPI schema: generated without a warning, every error answer described, served to clients."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

# The error statuses each endpoint documents (its own errors plus 401/403/405/429/500).
EXPECTED_ERRORS = {
    ("/api/v1/transactions/", "post"): {"400", "401", "403", "405", "409", "413", "415", "429", "500", "503"},
    ("/api/v1/transactions/batch/", "post"): {"400", "401", "403", "405", "409", "413", "415", "429", "500", "503"},
    ("/api/v1/transactions/", "get"): {"400", "401", "403", "405", "429", "500"},
    ("/api/v1/transactions/{transaction_id}/", "get"): {"401", "403", "404", "405", "429", "500"},
    ("/api/v1/models/", "get"): {"401", "403", "405", "429", "500"},
    ("/api/v1/models/active/", "get"): {"401", "403", "404", "405", "429", "500"},
    ("/api/v1/health/ready/", "get"): {"405", "500", "503"},
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    with django_db_blocker.unblock():
        # --fail-on-warn turns any warning of drf-spectacular (an undescribed field, ...) into a failure.
        call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


def test_the_schema_generates_without_warnings_and_validates(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "method"), sorted(EXPECTED_ERRORS))
def test_each_endpoint_lists_its_error_responses_in_the_one_error_shape(schema, path, method):
    responses = schema["paths"][path][method]["responses"]

    errors = {status for status in responses if int(status) >= 400}
    assert errors >= EXPECTED_ERRORS[(path, method)]
    for status in errors & EXPECTED_ERRORS[(path, method)]:
        content = responses[status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
        assert content["examples"], f"{method} {path} {status} has no example"


def test_the_scoring_answer_and_its_replay_header_are_described(schema):
    post = schema["paths"]["/api/v1/transactions/"]["post"]

    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoringResult"
    }
    assert "Idempotent-Replayed" in post["responses"]["200"]["headers"]


def test_every_field_of_the_input_is_described(schema):
    properties = schema["components"]["schemas"]["TransactionIn"]["properties"]

    assert set(properties) == {
        "transaction_id",
        "timestamp",
        "customer_id",
        "terminal_id",
        "amount",
        "currency",
        "metadata",
    }
    assert all(field.get("description") for field in properties.values())


@pytest.mark.django_db
def test_the_schema_and_swagger_ui_are_served_to_an_authenticated_client(analyst_client):
    schema = analyst_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = analyst_client.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert "/api/v1/transactions/" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
