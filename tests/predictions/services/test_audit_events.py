"""Who did what: every human or admin action leaves an AuditEvent with its actor, in the same transaction."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.db.models import QuerySet

from predictions.models import AuditEvent, ModelVersion, Review, Transaction
from predictions.services.events import Actor
from predictions.services.model_versions import model_version_activate, model_version_register
from predictions.services.reviews import review_record_bulk

pytestmark = pytest.mark.django_db

LABEL_URL = "/api/v1/transactions/{}/label/"


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_a_chargeback_from_the_api_records_who_and_the_label_before_and_after(analyst_client, make_transaction):
    make_transaction(transaction_id="tx-1")

    response = analyst_client.post(LABEL_URL.format("tx-1"), {"label": "fraud", "source": "chargeback"}, format="json")

    assert response.status_code == 200
    [event] = _events("label.set")
    labelled_at = Transaction.objects.get(transaction_id="tx-1").labelled_at
    assert (event.actor, event.via, event.target_type, event.target_id) == ("analyst", "api", "transaction", "tx-1")
    assert event.before == {"label": "unknown", "source": "", "labelled_at": None}
    assert event.after == {"label": "fraud", "source": "chargeback", "labelled_at": labelled_at.isoformat()}


def test_a_review_in_the_admin_records_the_reviewer(client, analyst_user, make_transaction):
    transaction = make_transaction(transaction_id="tx-2", label="legitimate", label_source="history")
    client.force_login(analyst_user)

    client.post(f"/admin/predictions/transaction/{transaction.pk}/review/", {"outcome": "fraud", "notes": "stolen"})

    [event] = _events("label.set")
    assert (event.actor, event.via, event.target_id) == ("analyst", "admin", "tx-2")
    assert (event.before["label"], event.after["label"], event.after["source"]) == ("legitimate", "fraud", "review")


def test_import_labels_records_the_operator_and_only_the_rows_it_changed(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-3")
    make_transaction(
        transaction_id="tx-4", label="fraud", label_source="chargeback", labelled_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    path = tmp_path / "labels.csv"
    path.write_text(
        "transaction_id,label,source,labelled_at\n"
        "tx-3,fraud,chargeback,2026-02-02T00:00:00Z\n"
        "tx-4,fraud,chargeback,2026-02-01T00:00:00Z\n"  # already stored as it is: no change, no event
    )

    call_command("import_labels", str(path), stdout=StringIO())

    [event] = _events("label.set")
    assert (event.actor, event.via, event.target_id) == (f"os:{getpass.getuser()}", "import_labels", "tx-3")
    assert event.after == {"label": "fraud", "source": "chargeback", "labelled_at": "2026-02-02T00:00:00+00:00"}


def test_a_dry_run_or_a_refused_import_leaves_no_event(make_transaction, tmp_path):
    make_transaction(transaction_id="tx-5")
    path = tmp_path / "labels.csv"
    path.write_text("transaction_id,label,source,labelled_at\ntx-5,fraud,chargeback,\nno-such-tx,fraud,chargeback,\n")

    call_command("import_labels", str(path), "--dry-run", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("import_labels", str(path), "--strict", stdout=StringIO())

    assert AuditEvent.objects.count() == 0
    assert Transaction.objects.get(transaction_id="tx-5").label == "unknown"


def test_a_bulk_review_that_fails_leaves_neither_reviews_nor_events(make_transaction, analyst_user, monkeypatch):
    transactions = [make_transaction() for _ in range(3)]

    def failing_update(self: QuerySet, **fields: object) -> int:
        raise IntegrityError("the label update failed")

    monkeypatch.setattr(QuerySet, "update", failing_update)
    with pytest.raises(IntegrityError):
        review_record_bulk(transactions=transactions, reviewer=analyst_user, outcome="fraud", via="admin")

    assert AuditEvent.objects.count() == 0
    assert Review.objects.count() == 0


def test_activating_a_model_records_who_and_the_versions_before_and_after(active_model_version, trained_artifact):
    first = active_model_version.version
    second = ModelVersion.objects.create(
        **{
            field.name: getattr(active_model_version, field.name)
            for field in ModelVersion._meta.concrete_fields
            if field.name not in ("id", "version", "is_active", "activated_at")
        },
        version="v-second",
    )

    model_version_activate(version=second.version, actor=Actor(name="lead", via="admin"))

    [*_, event] = _events("model.activated")
    assert (event.actor, event.via, event.target_type, event.target_id) == (
        "lead",
        "admin",
        "model_version",
        "v-second",
    )
    assert (event.before, event.after) == ({"active": first}, {"active": "v-second"})


def test_activate_model_the_command_records_the_operator(active_model_version, trained_artifact):
    before = AuditEvent.objects.count()
    ModelVersion.objects.filter(pk=active_model_version.pk).update(is_active=False)

    call_command("activate_model", active_model_version.version, stdout=StringIO())

    assert AuditEvent.objects.count() == before + 1
    event = _events("model.activated")[-1]
    assert (event.actor, event.via, event.before) == (f"os:{getpass.getuser()}", "activate_model", {"active": None})


def test_a_model_that_fails_verification_is_not_activated_and_leaves_no_event(trained_artifact, tmp_path):
    version = model_version_register(artifact_dir=trained_artifact)
    ModelVersion.objects.filter(pk=version.pk).update(artifact_sha256="0" * 64)

    with pytest.raises(Exception, match="cannot be activated"):
        model_version_activate(version=version.version, actor=Actor(name="lead", via="admin"))

    assert AuditEvent.objects.count() == 0


def test_the_admin_shows_events_read_only(client, make_transaction, analyst_client):
    make_transaction(transaction_id="tx-6")
    analyst_client.post(LABEL_URL.format("tx-6"), {"label": "fraud", "source": "chargeback"}, format="json")
    client.force_login(User.objects.create_superuser("lead", password="pw"))

    page = client.get("/admin/predictions/auditevent/?action=label.set")
    event = AuditEvent.objects.get()

    assert page.status_code == 200
    assert "tx-6" in page.content.decode()
    assert client.get(f"/admin/predictions/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/predictions/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 1
