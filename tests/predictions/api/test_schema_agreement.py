"""The OpenAPI schema and the service agree on every input: what the schema allows is accepted, and what it
refuses is a 400 naming the field.

Each value below is checked both ways, by a JSON Schema validator over the served schema and by the service.
What JSON Schema cannot say is left to the descriptions and not sent here: metadata's 4 KiB, a timestamp's
range (1970 to 5 minutes from now), each transaction_id once in a batch (the schema says only that no two
items are equal), and the parser's refusals of NUL, lone surrogates, duplicate keys and deep nesting
(README, "Errors").
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db

TRANSACTION_VALUES: dict[str, list[Any]] = {
    "transaction_id": [
        "tx-ok.1:a_b",
        "x" * 64,
        "",
        " tx",
        "tx 1",
        "tx-1\n",
        "tx-é",
        "x" * 65,
        123,
        1.5,
        True,
        None,
        ["tx"],
    ],
    "customer_id": ["C1", "  C1  ", "C\n1", "c" * 64, " " + "c" * 64 + "\t", "", "   ", "\u3000", "c" * 65, 7, None],
    "terminal_id": ["T1", "T" * 65, False, {"id": "T1"}],
    "amount": [
        "0",
        "42.50",
        "42.5",
        "999999999.99",
        "1000000000",
        "1000000000.00",
        "",
        "42.",
        ".5",
        "42.505",
        "-1",
        "+1",
        "1e2",
        " 42.50",
        "42.50\n",
        "1000000000.01",
        "0999999999",
        "١٢",
        "NaN",
        42,
        42.5,
        0,
        1000000000,
        1000000001,
        -1,
        12.345,
        True,
        None,
    ],
    "currency": ["EUR", "USD", "eur", "000", "EURO", "", " EUR", "ABC", 978, None],
    "metadata": [{}, {"channel": "pos", "nested": [1, {"b": None}]}, [], "pos", None],
    "colour": ["red"],  # an unknown field
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    with django_db_blocker.unblock():
        call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    return json.loads(path.read_text())


def _validator(schema: dict[str, Any], component: str) -> jsonschema.Draft4Validator:
    """A validator of one request body; OpenAPI 3.0's schema objects are (nearly) JSON Schema draft 4."""
    return jsonschema.Draft4Validator({"$ref": f"#/components/schemas/{component}", "components": schema["components"]})


def _cases(values: dict[str, list[Any]]) -> list[Any]:
    return [
        pytest.param(name, value, id=f"{name}={value!r:.30}") for name, values in values.items() for value in values
    ]


def _transaction(index: int, **fields: Any) -> dict[str, Any]:
    body = {
        "transaction_id": f"agree-{index}",
        "timestamp": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "customer_id": "C1",
        "terminal_id": "T1",
        "amount": "12.50",
    }
    return {**body, **fields}


@pytest.mark.parametrize(("name", "value"), _cases(TRANSACTION_VALUES))
def test_a_transaction_field_is_accepted_exactly_when_the_schema_allows_it(
    scoring_client, active_model_version, schema, name, value
):
    body = _transaction(0, **{name: value})

    allowed = _validator(schema, "TransactionIn").is_valid(body)
    answer = scoring_client.post("/api/v1/transactions/", body, format="json")

    assert (answer.status_code in (200, 201)) == allowed, answer.content
    if not allowed:
        assert answer.status_code == 400
        assert list(answer.json()["fields"]) == [name]


@pytest.mark.parametrize("count", [0, 1, 1000, 1001])
def test_a_batch_is_accepted_exactly_when_its_size_is_within_the_schemas(
    scoring_client, active_model_version, schema, count
):
    body = {"items": [_transaction(index) for index in range(count)]}

    allowed = _validator(schema, "BatchIn").is_valid(body)
    answer = scoring_client.post("/api/v1/transactions/batch/", body, format="json")

    assert (answer.status_code == 201) == allowed
    if not allowed:
        assert (answer.status_code, list(answer.json()["fields"])) == (400, ["items"])


LABEL_VALUES: dict[str, list[Any]] = {
    "label": ["fraud", "legitimate", "unknown", "FRAUD", "", 1, None],
    "source": ["review", "chargeback", "history", "", None],
    "notes": ["", "  checked  ", "n" * 2000, "n" * 2001, " " * 2001, 5, None],
    "colour": ["red"],
}


@pytest.mark.parametrize(("name", "value"), _cases(LABEL_VALUES))
def test_a_label_field_is_accepted_exactly_when_the_schema_allows_it(
    analyst_client, make_transaction, schema, name, value
):
    make_transaction(transaction_id="tx-label")
    body = {"label": "fraud", "source": "review", name: value}

    allowed = _validator(schema, "LabelInput").is_valid(body)
    answer = analyst_client.post("/api/v1/transactions/tx-label/label/", body, format="json")

    assert (answer.status_code == 200) == allowed, answer.content
    if not allowed:
        assert (answer.status_code, list(answer.json()["fields"])) == (400, [name])


@pytest.mark.parametrize(
    ("source", "notes"), [("chargeback", "seen"), ("chargeback", "  "), ("chargeback", ""), ("review", "seen")]
)
def test_notes_with_a_source_other_than_review_are_refused_as_the_schema_says(
    analyst_client, make_transaction, schema, source, notes
):
    make_transaction(transaction_id="tx-label")
    body = {"label": "fraud", "source": source, "notes": notes}

    allowed = _validator(schema, "LabelInput").is_valid(body)
    answer = analyst_client.post("/api/v1/transactions/tx-label/label/", body, format="json")

    assert (answer.status_code == 200) == allowed, answer.content


def test_a_batch_with_an_item_twice_is_refused_as_the_schema_says(scoring_client, active_model_version, schema):
    item = _transaction(1)
    body = {"items": [item, item]}

    assert not _validator(schema, "BatchIn").is_valid(body)
    answer = scoring_client.post("/api/v1/transactions/batch/", body, format="json")
    assert (answer.status_code, list(answer.json()["fields"])) == (400, ["items[1].transaction_id"])


QUERY_VALUES: dict[str, list[str]] = {
    "page": ["1", "0", "-1", "abc", "1.0", "null", ""],
    "page_size": ["1", "500", "0", "501", "-5", "null", "ten", ""],
    "flagged": ["true", "false", "maybe", "True", "1", ""],
    "reviewed": ["true", "yes"],
    "decision": ["review", "maybe", ""],
    "score_min": ["0", "0.5", "1", "1.5", "-0.1", "NaN", "high", ""],
    # format date-time is not checked by the validator here; the refusals are in test_query_parameters.py.
    "timestamp_after": ["2026-03-01T00:00:00Z", "2026-03-01T01:00:00+01:00", ""],
    "ordering": ["-score", "timestamp,-amount", "score,nope", "colour", ""],
}


def _query_allowed(parameter: dict[str, Any], text: str) -> bool:
    """The schema's verdict on a query value: a text, read as the schema's type says, against its schema."""
    if text == "":
        return parameter.get("allowEmptyValue", False)
    read = {
        "integer": int,
        "number": lambda text: json.loads(text, parse_constant=_not_a_number),
        "boolean": {"true": True, "false": False}.__getitem__,
        "array": lambda text: text.split(","),
    }.get(parameter["schema"]["type"], str)
    try:
        value = read(text)
    except (KeyError, ValueError):
        return False
    return jsonschema.Draft4Validator(parameter["schema"]).is_valid(value)


def _not_a_number(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


@pytest.mark.parametrize(("name", "text"), _cases(QUERY_VALUES))
def test_a_list_query_is_accepted_exactly_when_the_schema_allows_it(
    analyst_client, make_transaction, schema, name, text
):
    make_transaction(transaction_id="tx-listed")
    parameters = {item["name"]: item for item in schema["paths"]["/api/v1/transactions/"]["get"]["parameters"]}

    answer = analyst_client.get("/api/v1/transactions/", {name: text})

    assert (answer.status_code == 200) == _query_allowed(parameters[name], text), answer.content
    if answer.status_code != 200:
        assert (answer.status_code, list(answer.json()["fields"])) == (400, [name])
