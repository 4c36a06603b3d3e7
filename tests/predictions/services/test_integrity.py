"""Tamper evidence: edits made beside fraudsite, in SQL, are named by verify_audit; restored rows pass again.

Each test plays an insider with database access who gets past the triggers (the database owner can drop
them): `without_triggers` drops them inside the test's own transaction, which rolls back afterwards.
"""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predictions.models import AuditEvent, AuditSeal, Prediction, Review, ScoringRequest, Transaction
from predictions.services.events import Actor
from predictions.services.integrity import audit_seal, audit_verify
from predictions.services.retention import audit_purge

pytestmark = pytest.mark.django_db

ACTOR = Actor(name="tester", via="test")
# The shadow table's triggers (0011) first: on PostgreSQL they use 0009's function.
TRIGGERS = [
    importlib.import_module(f"predictions.migrations.{name}") for name in ("0011_shadow_model", "0009_audit_triggers")
]
LATER = timedelta(minutes=5)  # seal as if the rows were old enough


@pytest.fixture
def without_triggers(db):
    with connection.cursor() as cursor:
        for migration in TRIGGERS:
            for sql in migration.drop_statements(connection.vendor):
                cursor.execute(sql)


@pytest.fixture
def scored(active_model_version, scoring_client, transaction_payload, without_triggers):
    """Three transactions scored through the API, one reviewed, all sealed."""
    for n in range(3):
        body = transaction_payload(transaction_id=f"tx-{n}", amount=f"{10 + n}.00")
        assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201
    return Prediction.objects.order_by("pk")


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def findings(**bounds) -> list[str]:
    return [str(finding) for finding in audit_verify(**bounds).findings]


def test_an_untouched_audit_verifies(scored):
    assert audit_seal(now=timezone.now() + LATER)

    result = audit_verify()

    assert result.intact
    assert result.checked["transaction"] == 3
    assert result.checked["prediction"] == 3
    assert result.checked["request"] == 3
    assert result.unsealed == 0


def test_a_changed_score_is_named_and_passes_again_once_restored(scored):
    prediction = scored.first()
    sql("UPDATE predictions_prediction SET score = %s WHERE id = %s", [0.01, prediction.pk])

    assert findings() == [f"prediction {prediction.pk}: changed, or inserted outside fraudsite"]

    sql("UPDATE predictions_prediction SET score = %s WHERE id = %s", [prediction.score, prediction.pk])
    assert findings() == []


def test_a_prediction_copied_from_another_is_named(scored):
    target, source = scored[0], scored[1]
    sql(
        "UPDATE predictions_prediction SET score = %s, decision = %s, features = %s, reasons = %s, digest = %s"
        " WHERE id = %s",
        [source.score, source.decision, json.dumps(source.features), json.dumps(source.reasons), source.digest,
         target.pk],
    )  # fmt: skip

    assert findings() == [f"prediction {target.pk}: changed, or inserted outside fraudsite"]


def test_an_edited_response_is_named(scored):
    request = ScoringRequest.objects.order_by("pk").first()
    response = {**request.response, "decision": "approve", "score": 0.0}
    sql("UPDATE predictions_scoringrequest SET response = %s WHERE id = %s", [json.dumps(response), request.pk])

    assert findings() == [f"request {request.pk}: changed, or inserted outside fraudsite"]


def test_an_edited_amount_is_named_by_transaction_id(scored):
    sql("UPDATE predictions_transaction SET amount = %s WHERE transaction_id = %s", ["9999.00", "tx-1"])

    assert findings() == ["transaction tx-1: changed, or inserted outside fraudsite"]


def test_a_label_changed_through_the_label_path_is_not_a_finding(scored, analyst_client):
    response = analyst_client.post(
        "/api/v1/transactions/tx-0/label/", {"label": "fraud", "source": "chargeback"}, format="json"
    )

    assert response.status_code == 200
    assert findings() == []


def test_a_removed_sealed_prediction_is_named_and_passes_again_once_put_back(scored):
    audit_seal(now=timezone.now() + LATER)
    prediction = scored.last()
    row = Prediction.objects.filter(pk=prediction.pk).values().get()
    sql("DELETE FROM predictions_prediction WHERE id = %s", [prediction.pk])

    assert findings() == [f"prediction {prediction.pk}: removed (sealed in seal {_seal_of('prediction').pk})"]

    columns = ", ".join(row)
    values = [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
    sql(f"INSERT INTO predictions_prediction ({columns}) VALUES ({', '.join(['%s'] * len(row))})", values)
    assert findings() == []


def test_a_row_inserted_outside_fraudsite_is_named(scored):
    tx = Transaction.objects.get(transaction_id="tx-0")
    sql(
        "INSERT INTO predictions_transaction (transaction_id, timestamp, customer_id, terminal_id, amount, currency,"
        " metadata, label, label_source, created_at, digest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        ["forged", tx.timestamp, "C9", "T9", "1.00", "EUR", "{}", "legitimate", "history", tx.created_at, "0" * 64],
    )

    assert findings() == ["transaction forged: changed, or inserted outside fraudsite"]


def test_a_copied_row_with_its_digest_is_named_as_a_copy(scored, analyst_user):
    from predictions.services.reviews import review_record

    review = review_record(transaction=Transaction.objects.first(), reviewer=analyst_user, outcome="fraud", via="api")
    row = Review.objects.filter(pk=review.pk).values("transaction_id", "reviewer_id", "outcome", "notes",
                                                      "reviewed_at", "digest").get()  # fmt: skip
    sql(
        "INSERT INTO predictions_review (transaction_id, reviewer_id, outcome, notes, reviewed_at, digest)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        list(row.values()),
    )
    copy = Review.objects.exclude(pk=review.pk).get()

    assert findings() == [f"review {copy.pk}: inserted: a copy of review {review.pk}"]


def test_a_removed_seal_breaks_the_chain(scored, analyst_user, make_transaction):
    audit_seal(now=timezone.now() + LATER)
    make_transaction(transaction_id="later", created_at=timezone.now())
    audit_seal(now=timezone.now() + 2 * LATER)
    seals = list(AuditSeal.objects.order_by("pk"))
    sql("DELETE FROM predictions_auditseal WHERE id = %s", [seals[-2].pk])

    assert f"seal {seals[-1].pk}: the seal before it was removed or replaced" in findings()


def test_purged_rows_are_not_findings(scored):
    audit_seal(now=timezone.now() + LATER)

    audit_purge(actor=ACTOR, older_than_days=1, now=timezone.now() + timedelta(days=2))

    assert Prediction.objects.count() == 0
    assert AuditEvent.objects.filter(action="audit.purged").exists()
    assert findings() == []


def test_since_and_until_limit_the_rows_checked(scored):
    sql("UPDATE predictions_transaction SET amount = %s WHERE transaction_id = %s", ["9999.00", "tx-1"])

    assert findings(since=timezone.now() + timedelta(hours=1)) == []
    assert findings(until=timezone.now() + timedelta(hours=1)) == [
        "transaction tx-1: changed, or inserted outside fraudsite"
    ]


def test_the_command_prints_each_finding_and_exits_1_then_0_once_restored(scored):
    original = Transaction.objects.get(transaction_id="tx-2").amount
    sql("UPDATE predictions_transaction SET amount = %s WHERE transaction_id = %s", ["1.00", "tx-2"])
    out = StringIO()

    with pytest.raises(SystemExit) as failed:
        call_command("verify_audit", stdout=out, stderr=StringIO())

    assert failed.value.code == 1
    assert out.getvalue().splitlines() == ["transaction tx-2: changed, or inserted outside fraudsite"]
    sql("UPDATE predictions_transaction SET amount = %s WHERE transaction_id = %s", [original, "tx-2"])
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("audit intact: ")


def test_score_file_rows_verify(active_model_version, tmp_path, small_transactions, without_triggers):
    from model_package.io import write_transactions

    path = tmp_path / "tx.csv"
    write_transactions(small_transactions.head(300).drop(columns=["is_fraud"]), path)
    call_command("score_file", str(path), "--out", str(tmp_path / "scores.csv"), stdout=StringIO())
    call_command("load_transactions", str(path), stdout=StringIO())  # all stored already: nothing new

    result = audit_verify()

    assert result.checked["prediction"] == 300
    assert result.intact, [str(finding) for finding in result.findings[:5]]


def _seal_of(kind: str) -> AuditSeal:
    return AuditSeal.objects.filter(kind=kind).get()


@pytest.mark.parametrize(
    "metadata",
    [
        {"big": 1e16, "huge": 1.5e300, "negative": -2.5e20},  # jsonb reads their exponent form back as integers
        {"minus_zero": -0.0, "tiny": 1e-7, "plain": 1.0, "long": 123456789012345678901234567890.0},
        {"nested": [{"x": 0.30000000000000004}, 12345678901234567890]},
    ],
)
def test_metadata_numbers_verify_as_the_database_reads_them_back(
    active_model_version, scoring_client, transaction_payload, metadata
):
    body = json.dumps(transaction_payload(transaction_id="tx-meta", metadata={}))
    body = body.replace('"metadata": {}', '"metadata": ' + json.dumps(metadata))  # the client's spelling

    response = scoring_client.post("/api/v1/transactions/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    assert findings() == []


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8),
        children,
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metadata=st.dictionaries(st.text(max_size=8).filter(lambda key: "\x00" not in key), _json_values, max_size=5))
def test_any_metadata_the_service_accepts_verifies(active_model_version, scoring_client, transaction_payload, metadata):
    body = json.dumps(transaction_payload(transaction_id="tx-any", metadata=metadata))

    with transaction.atomic():  # each example's rows roll back with it
        response = scoring_client.post("/api/v1/transactions/", body, content_type="application/json")
        if response.status_code == 201:
            assert findings() == [], metadata
        transaction.set_rollback(True)


def test_after_a_key_rotation_old_rows_verify_under_the_retired_key_and_new_ones_under_the_new(
    scored, settings, transaction_payload, scoring_client
):
    old_key = settings.FRAUDSITE_AUDIT_KEY
    settings.FRAUDSITE_AUDIT_KEY = "a-new-audit-key-after-rotation-0123456789"
    body = transaction_payload(transaction_id="tx-after-rotation")
    assert scoring_client.post("/api/v1/transactions/", body, format="json").status_code == 201

    unrotated = findings()
    settings.FRAUDSITE_AUDIT_RETIRED_KEYS = [old_key]

    assert "transaction tx-0: changed, or inserted outside fraudsite" in unrotated
    assert "transaction tx-after-rotation: changed, or inserted outside fraudsite" not in unrotated
    assert findings() == []
