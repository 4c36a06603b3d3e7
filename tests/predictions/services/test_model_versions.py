from __future__ import annotations

import shutil

import pytest

from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.model_versions import (
    ModelVersionError,
    NoReviewBand,
    model_version_activate,
    model_version_register,
)

ACTOR = Actor(name="tester", via="test")


@pytest.mark.django_db
def test_registering_records_the_artifacts_version_hash_and_thresholds(trained_artifact):
    from model_package.artifacts import manifest_sha256, read_manifest

    version = model_version_register(artifact_dir=trained_artifact)
    manifest = read_manifest(trained_artifact)

    assert version.version == manifest["version"]
    assert version.artifact_sha256 == manifest_sha256(trained_artifact)
    assert 0 <= version.thresholds["review"] <= version.thresholds["decline"] <= 1
    assert version.is_active is False


@pytest.mark.django_db
def test_registering_the_same_artifact_twice_keeps_one_row(trained_artifact):
    first = model_version_register(artifact_dir=trained_artifact)
    second = model_version_register(artifact_dir=trained_artifact)
    assert first.pk == second.pk
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_activating_a_version_deactivates_the_previous_one(trained_artifact, tmp_path):
    first = model_version_register(artifact_dir=trained_artifact)
    model_version_activate(version=first.version, actor=ACTOR)
    second = ModelVersion.objects.create(
        **{
            f.name: getattr(first, f.name)
            for f in ModelVersion._meta.concrete_fields
            if f.name not in {"id", "version", "is_active", "activated_at"}
        },
        version="copy-of-first",
    )

    model_version_activate(version=second.version, actor=ACTOR)

    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == ["copy-of-first"]


@pytest.mark.django_db
def test_an_unknown_version_is_refused_by_name():
    with pytest.raises(ModelVersionError, match="unknown model version 'v-missing'"):
        model_version_activate(version="v-missing", actor=ACTOR)


@pytest.mark.django_db
def test_a_tampered_artifact_is_never_activated(trained_artifact, tmp_path):
    copy = tmp_path / "artifact"
    shutil.copytree(trained_artifact, copy)
    version = model_version_register(artifact_dir=copy)
    model_file = next(p for p in copy.iterdir() if p.name != "manifest.json")
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))

    with pytest.raises(ModelVersionError, match="cannot be activated"):
        model_version_activate(version=version.version, actor=ACTOR)
    assert not ModelVersion.objects.filter(is_active=True).exists()


def _copy_of(original: ModelVersion, **changes) -> ModelVersion:
    fields = {
        f.name: getattr(original, f.name)
        for f in ModelVersion._meta.concrete_fields
        if f.name not in {"id", "is_active", "activated_at"}
    }
    return ModelVersion.objects.create(**{**fields, **changes})


@pytest.mark.django_db
def test_a_model_that_would_send_nothing_to_review_is_never_activated(trained_artifact):
    good = model_version_register(artifact_dir=trained_artifact)
    model_version_activate(version=good.version, actor=ACTOR)
    # As the README's example trained them before issue 14: review and decline both at 0.86.
    bandless = _copy_of(good, version="no-band", thresholds={"review": 0.86, "decline": 0.86})

    with pytest.raises(NoReviewBand) as refused:
        model_version_activate(version=bandless.version, actor=ACTOR)

    message = str(refused.value)
    assert message.startswith("model version no-band cannot be activated: no review band") and "\n" not in message
    assert isinstance(refused.value, ModelVersionError) and refused.value.code == "no_review_band"
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == [good.version]


@pytest.mark.django_db
def test_a_band_that_held_nothing_on_the_days_it_was_chosen_on_is_no_band(trained_artifact):
    good = model_version_register(artifact_dir=trained_artifact)
    chosen = good.metrics["thresholds"]
    empty_band = {**chosen, "decline": {**chosen["decline"], "alerts_per_day": chosen["review"]["alerts_per_day"]}}
    bandless = _copy_of(good, version="empty-band", metrics={**good.metrics, "thresholds": empty_band})

    with pytest.raises(NoReviewBand, match="no transaction scored between"):
        model_version_activate(version=bandless.version, actor=ACTOR)


@pytest.mark.django_db
def test_a_model_of_the_handbooks_15_features_with_a_band_still_activates(legacy_artifact):
    legacy = model_version_register(artifact_dir=legacy_artifact)

    activated = model_version_activate(version=legacy.version, actor=ACTOR)

    assert activated.is_active and len(activated.feature_names) == 15
