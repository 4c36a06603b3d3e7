"""activate_model and list_models."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from predictions.models import ModelVersion
from predictions.services.model_versions import model_version_register


def second_version(first: ModelVersion) -> ModelVersion:
    """Another registered version with the same artifact (enough to switch between)."""
    fields = {
        f.name: getattr(first, f.name)
        for f in ModelVersion._meta.concrete_fields
        if f.name not in {"id", "version", "is_active", "activated_at"}
    }
    return ModelVersion.objects.create(**fields, version="second")


@pytest.mark.django_db
def test_activate_model_switches_the_active_version(run, active_model_version):
    second_version(active_model_version)

    ran = run("activate_model", "second")

    assert ModelVersion.objects.get(is_active=True).version == "second"
    assert ran.summary == f"model second is now active (was {active_model_version.version})"


@pytest.mark.django_db
def test_activating_the_active_version_again_changes_nothing(run, active_model_version):
    before = ModelVersion.objects.get(pk=active_model_version.pk).activated_at

    ran = run("activate_model", active_model_version.version)

    assert ModelVersion.objects.get(pk=active_model_version.pk).activated_at == before
    assert ran.summary.endswith("is already active: nothing changed")


@pytest.mark.django_db
def test_an_unknown_version_fails_in_one_line_and_keeps_the_active_one(run, active_model_version):
    with pytest.raises(CommandError, match="unknown model version 'nope'"):
        run("activate_model", "nope")
    assert ModelVersion.objects.get(is_active=True).pk == active_model_version.pk


@pytest.mark.django_db
def test_a_version_whose_artifact_is_broken_is_not_activated(run, active_model_version, tmp_path):
    broken = second_version(active_model_version)
    ModelVersion.objects.filter(pk=broken.pk).update(artifact_path=str(tmp_path / "gone"))

    with pytest.raises(CommandError, match="model version second cannot be activated"):
        run("activate_model", "second")
    assert ModelVersion.objects.get(is_active=True).pk == active_model_version.pk


@pytest.mark.django_db
def test_list_models_marks_the_active_version(run, trained_artifact):
    registered = model_version_register(artifact_dir=trained_artifact)
    second_version(registered)
    run("activate_model", registered.version)

    ran = run("list_models")

    lines = ran.out.strip().splitlines()
    assert lines[0].split() == ["version", "algorithm", "trained", "AUC", "AP", "CP@k", "review", "decline"]
    by_version = {line.lstrip("* ").split()[0]: line for line in lines[1:-1]}
    assert by_version[registered.version].startswith("*")
    assert not by_version["second"].startswith("*")
    auc = f"{registered.metrics['auc']:.3f}"
    assert auc in by_version[registered.version].split()
    assert ran.summary == f"2 model versions, active: {registered.version}"


@pytest.mark.django_db
def test_list_models_with_none_registered_says_how_to_get_one(run):
    assert run("list_models").summary == "no model versions registered (train one with train_model)"


@pytest.mark.django_db
def test_list_models_newest_prints_only_a_name_for_scripts(run, active_model_version):
    second_version(active_model_version)

    assert run("list_models", "--newest").out == "second\n"


@pytest.mark.django_db
def test_list_models_newest_with_none_registered_fails(run):
    with pytest.raises(CommandError, match="no model versions registered"):
        run("list_models", "--newest")
