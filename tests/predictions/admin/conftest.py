"""Scored transactions without a trained model: a model version row and predictions written directly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from predictions.models import ModelVersion, Prediction

THRESHOLDS = {"review": 0.5, "decline": 0.9}


@pytest.fixture
def model_version(db) -> ModelVersion:
    return ModelVersion.objects.create(
        version="queue-test-v1",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=["TX_AMOUNT", "TX_DURING_NIGHT"],
        thresholds=THRESHOLDS,
        trained_at=timezone.now() - timedelta(days=1),
        is_active=True,
    )


@pytest.fixture
def make_prediction(make_transaction, model_version):
    """Store a transaction and its prediction; the decision follows THRESHOLDS unless given."""

    def make(*, score: float, decision: str | None = None, version: ModelVersion | None = None,
             scored_at=None, transaction=None, **transaction_fields: Any) -> Prediction:
        transaction = transaction or make_transaction(**transaction_fields)
        if decision is None:
            decision = "decline" if score >= THRESHOLDS["decline"] else "review" if score >= THRESHOLDS["review"] else "approve"
        return Prediction.objects.create(
            transaction=transaction,
            model_version=version or model_version,
            score=score,
            decision=decision,
            thresholds=THRESHOLDS,
            features={"TX_AMOUNT": float(transaction.amount), "TX_DURING_NIGHT": 0.0},
            reasons=[{"feature": "TX_AMOUNT", "value": float(transaction.amount), "contribution": 0.25}],
            latency_ms=1.0,
            scored_at=scored_at or timezone.now(),
        )

    return make
