"""The OpenAPI schema: generated without a warning, every error answer described, served to clients."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

# Every status each operation can answer. Any /api/ request: 405, 406 (Accept), 411 and 413 (the body-size
# middleware), 500; with credentials also 401, 403, 429 and 503 (the database); then each operation's own.
ANY = {"405", "406", "411", "413", "500"}
CREDENTIALS = ANY | {"401", "403", "429", "503"}
EXPECTED_ERRORS = {
    ("/api/v1/transactions/", "post"): CREDENTIALS | {"400", "409", "415"},
    ("/api/v1/transactions/batch/", "post"): CREDENTIALS | {"400", "409", "415"},
    ("/api/v1/transactions/", "get"): CREDENTIALS | {"400", "404"},
    ("/api/v1/transactions/{transaction_id}/", "get"): CREDENTIALS | {"404"},
    ("/api/v1/transactions/{transaction_id}/label/", "post"): CREDENTIALS | {"400", "404", "415"},
    ("/api/v1/models/", "get"): CREDENTIALS | {"400", "404"},
    ("/api/v1/models/{version}/", "get"): CREDENTIALS | {"404"},
    ("/api/v1/models/active/", "get"): CREDENTIALS | {"404"},
    ("/api/v1/lists/", "get"): CREDENTIALS | {"400", "404"},
    ("/api/v1/lists/", "post"): CREDENTIALS | {"400", "415"},
    ("/api/v1/lists/{id}/", "get"): CREDENTIALS | {"404"},
    ("/api/v1/lists/{id}/", "delete"): CREDENTIALS | {"400", "404"},
    ("/api/v1/rule-sets/", "get"): CREDENTIALS | {"400", "404"},
    ("/api/v1/rule-sets/", "post"): CREDENTIALS | {"400", "415"},
    ("/api/v1/rule-sets/{version}/", "get"): CREDENTIALS | {"404"},
    ("/api/v1/rule-sets/{version}/activate/", "post"): CREDENTIALS | {"404"},
    ("/api/v1/health/live/", "get"): ANY,
    ("/api/v1/health/ready/", "get"): ANY | {"503"},
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
    assert errors == EXPECTED_ERRORS[(path, method)]
    for status in errors:
        content = responses[status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
        assert content["examples"], f"{method} {path} {status} has no example"


def test_every_operation_is_listed_with_its_errors(schema):
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}

    assert operations == set(EXPECTED_ERRORS)


@pytest.mark.parametrize("path", ["/api/v1/transactions/", "/api/v1/models/"])
def test_a_list_documents_its_page_past_the_end_and_its_page_parameters(schema, path):
    operation = schema["paths"][path]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}

    examples = operation["responses"]["404"]["content"]["application/json"]["examples"]
    assert [example["value"]["detail"] for example in examples.values()] == ["Invalid page."]
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}


def test_the_input_objects_refuse_unknown_fields_and_the_batch_says_its_size(schema):
    components = schema["components"]["schemas"]

    for name in ("TransactionIn", "BatchIn", "LabelInput"):
        assert components[name]["additionalProperties"] is False, name
    items = components["BatchIn"]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, 1000)


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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/api/v1/schema/", None),
        ("/api/v1/schema/", "Token not-a-token"),
        ("/api/v1/docs/", "Token not-a-token"),  # without any credentials, docs/ sends to the login page
    ],
)
def test_the_schema_and_swagger_ui_refuse_without_credentials_in_the_json_error_shape(client, path, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get(path, **extra)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "code", "detail", "fields", "request_id"}
    assert (body["status"], body["fields"], body["request_id"]) == (401, {}, None)
    assert body["code"] in {"not_authenticated", "authentication_failed"}
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
@pytest.mark.parametrize("method", ["options", "post", "delete"])
def test_the_schema_and_swagger_ui_answer_other_methods_with_a_json_405(analyst_client, path, method):
    response = getattr(analyst_client, method)(path)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
