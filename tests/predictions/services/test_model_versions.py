from __future__ import annotations

import shutil

import pytest

from predictions.models import ModelVersion
from predictions.services.events import Actor
from predictions.services.model_versions import (
    ModelVersionError,
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
