"""Registering trained artifacts as model versions, and choosing the active one."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from predictions.errors import DomainError
from predictions.models import AuditAction, ModelVersion
from predictions.services.events import Actor, Change, events_record

logger = logging.getLogger(__name__)


class ModelVersionError(DomainError):
    """A model version that cannot be registered or activated; the message says why."""


class NoReviewBand(ModelVersionError):
    """A model whose thresholds would send nothing to review: analysts would label nothing it flags."""

    code = "no_review_band"


def model_version_review_band_check(*, model_version: ModelVersion) -> None:
    """Raise NoReviewBand if the version's thresholds leave no review band (model_package.thresholds)."""
    from model_package.predict import Thresholds
    from model_package.thresholds import review_band_problem

    thresholds = Thresholds(
        review=float(model_version.thresholds["review"]), decline=float(model_version.thresholds["decline"])
    )
    problem = review_band_problem(thresholds, (model_version.metrics or {}).get("thresholds"))
    if problem:
        raise NoReviewBand(f"model version {model_version.version} cannot be activated: {problem}")


def model_version_register(*, artifact_dir: Path) -> ModelVersion:
    """Verify the artifact in artifact_dir and record it as a (not yet active) model version.

    Registering the same artifact twice returns the existing row; another artifact under a version
    name that is already taken is refused.
    """
    from model_package import artifacts  # scikit-learn: loaded when used, not when the admin is imported

    artifact_dir = Path(artifact_dir).resolve()
    try:
        sha256 = artifacts.manifest_sha256(artifact_dir)
        model = artifacts.load_artifact(artifact_dir, expected_sha256=sha256)
    except artifacts.ArtifactError as exc:
        raise ModelVersionError(str(exc)) from None
    manifest = model.manifest
    existing = ModelVersion.objects.filter(version=model.version).first()
    if existing is not None:
        if existing.artifact_sha256 != sha256:
            raise ModelVersionError(f"model version {model.version} is already registered with another artifact")
        return existing
    trained_at = parse_datetime(str(manifest.get("created_at", ""))) or timezone.now()
    return ModelVersion.objects.create(
        version=model.version,
        algorithm=model.algorithm,
        artifact_path=str(artifact_dir),
        artifact_sha256=sha256,
        feature_names=list(model.feature_names),
        parameters=manifest.get("parameters", {}),
        metrics=manifest.get("metrics", {}),
        thresholds={"review": model.thresholds.review, "decline": model.thresholds.decline},
        training_window=manifest.get("windows", {}),
        training_fingerprint=manifest.get("fingerprint", ""),
        trained_at=trained_at,
    )


def model_version_activate(*, version: str, actor: Actor) -> ModelVersion:
    """Make `version` the one active model; the service picks it up on its next request.

    Refused (NoReviewBand) for a model that would send nothing to review. The AuditEvent names the actor and
    the versions before and after, in the same transaction.
    """
    from model_package import artifacts  # scikit-learn: loaded when used, not when the admin is imported

    candidate = ModelVersion.objects.filter(version=version).first()
    if candidate is None:
        raise ModelVersionError(f"unknown model version {version!r}")
    model_version_review_band_check(model_version=candidate)
    # Verify before switching, outside the write transaction: a broken artifact must never go live.
    try:
        artifacts.load_artifact(Path(candidate.artifact_path), expected_sha256=candidate.artifact_sha256)
    except artifacts.ArtifactError as exc:
        raise ModelVersionError(f"model version {version} cannot be activated: {exc}") from None
    with transaction.atomic():
        previous = ModelVersion.objects.select_for_update().filter(is_active=True).values_list("version", flat=True)
        before = {"active": next(iter(previous), None)}
        ModelVersion.objects.filter(is_active=True).exclude(pk=candidate.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=candidate.pk).update(is_active=True, activated_at=timezone.now())
        events_record(
            actor=actor,
            action=AuditAction.MODEL_ACTIVATED,
            target_type="model_version",
            changes=[Change(version, before, {"active": version})],
        )
        if candidate.is_challenger:
            # The champion cannot also be its own challenger: promoting the challenger ends the comparison.
            _challenger_switch(candidate=None, actor=actor)
    candidate.refresh_from_db()
    logger.info("model version %s activated", version)
    return candidate


def model_version_challenger_set(*, version: str | None, actor: Actor) -> ModelVersion | None:
    """Make `version` the challenger (None: no challenger); the next scoring request scores it as shadow.

    The challenger never decides, so no review band is required; but its artifact must load now, and it
    cannot be the active version. The AuditEvent names the actor and the challenger before and after.
    """
    from model_package import artifacts  # scikit-learn: loaded when used, not when the admin is imported

    candidate = None
    if version is not None:
        candidate = ModelVersion.objects.filter(version=version).first()
        if candidate is None:
            raise ModelVersionError(f"unknown model version {version!r}")
        if candidate.is_active:
            raise ModelVersionError(f"model version {version} is the active model: it cannot also be the challenger")
        try:
            artifacts.load_artifact(Path(candidate.artifact_path), expected_sha256=candidate.artifact_sha256)
        except artifacts.ArtifactError as exc:
            raise ModelVersionError(f"model version {version} cannot be the challenger: {exc}") from None
    with transaction.atomic():
        _challenger_switch(candidate=candidate, actor=actor)
    logger.info("challenger model: %s", version or "none")
    if candidate is not None:
        candidate.refresh_from_db()
    return candidate


def _challenger_switch(*, candidate: ModelVersion | None, actor: Actor) -> None:
    """Inside the caller's transaction: the challenger flag moves to candidate (or nowhere), with its event."""
    current = ModelVersion.objects.select_for_update().filter(is_challenger=True).values_list("version", flat=True)
    before = next(iter(current), None)
    after = candidate.version if candidate is not None else None
    if before == after:
        return
    ModelVersion.objects.filter(is_challenger=True).update(is_challenger=False)
    if candidate is not None:
        ModelVersion.objects.filter(pk=candidate.pk).update(is_challenger=True)
    events_record(
        actor=actor,
        action=AuditAction.CHALLENGER_SET,
        target_type="model_version",
        changes=[Change(after or before, {"challenger": before}, {"challenger": after})],
    )
