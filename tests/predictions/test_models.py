"""The audit rules the data model itself enforces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from predictions.models import AuditImmutableError, ModelVersion, ScoringRequest, audit_deletion_allowed


def _request() -> ScoringRequest:
    return ScoringRequest.objects.create(endpoint="transactions", status_code=201, duration_ms=3.0)


def _model_version(version: str, *, is_active: bool) -> ModelVersion:
    return ModelVersion.objects.create(
        version=version,
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=[],
        thresholds={"review": 0.5, "decline": 0.9},
        trained_at=timezone.now() - timedelta(days=1),
        is_active=is_active,
    )


@pytest.mark.django_db
def test_an_audit_row_cannot_be_changed_once_written():
    request = _request()
    request.status_code = 500
    with pytest.raises(AuditImmutableError):
        request.save()
    request.refresh_from_db()
    assert request.status_code == 201


@pytest.mark.django_db
def test_audit_rows_cannot_be_bulk_updated_or_deleted_through_the_orm():
    request = _request()
    with pytest.raises(AuditImmutableError):
        ScoringRequest.objects.filter(pk=request.pk).update(status_code=500)
    with pytest.raises(AuditImmutableError):
        ScoringRequest.objects.all().delete()
    with pytest.raises(AuditImmutableError):
        request.delete()
    assert ScoringRequest.objects.filter(pk=request.pk, status_code=201).exists()


@pytest.mark.django_db
def test_only_the_retention_block_may_delete_audit_rows():
    _request()
    with audit_deletion_allowed():
        ScoringRequest.objects.all().delete()
    assert ScoringRequest.objects.count() == 0


@pytest.mark.usefixtures("flushable_audit")
def test_the_database_refuses_a_second_active_model_version():
    _model_version("one", is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        _model_version("two", is_active=True)
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == ["one"]
