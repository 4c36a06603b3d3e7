"""services.model_loader: the one cached, hash-verified model loader."""

from __future__ import annotations

import shutil
import threading
import time
from unittest import mock

import pytest

from predictions.models import ModelVersion
from predictions.services import model_loader
from predictions.services.events import Actor
from predictions.services.model_loader import ModelUnavailable, active_model, clear_cache, model_for_version
from predictions.services.model_versions import model_version_activate, model_version_register

ACTOR = Actor(name="tester", via="test")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="module")
def second_artifact(small_transactions, tmp_path_factory):
    """Another model version: a logistic regression on the same data (quick to train)."""
    from model_package.artifacts import save_artifact
    from model_package.train import train_model

    result = train_model(small_transactions, algorithm="logreg", alert_budget=3, random_state=0)
    return save_artifact(result, tmp_path_factory.mktemp("second") / result.version)


def count_loads():
    return mock.patch.object(model_loader, "load_artifact", wraps=model_loader.load_artifact)


def test_without_an_active_version_it_raises_model_unavailable():
    with pytest.raises(ModelUnavailable, match="no model version is active"):
        active_model()


def test_it_loads_the_active_artifact_once_per_process(active_model_version):
    with count_loads() as load:
        for _ in range(3):
            version, model = active_model()

    assert load.call_count == 1
    assert version == active_model_version
    assert model.version == active_model_version.version


def test_it_checks_the_registered_hash_when_loading(active_model_version):
    with count_loads() as load:
        active_model()

    assert load.call_args.kwargs == {"expected_sha256": active_model_version.artifact_sha256}


def test_a_newly_activated_version_is_used_on_the_next_request_without_a_restart(active_model_version, second_artifact):
    first_version, _ = active_model()
    second = model_version_register(artifact_dir=second_artifact)

    model_version_activate(version=second.version, actor=ACTOR)
    version, model = active_model()

    assert first_version.version != version.version
    assert (version.version, model.version) == (second.version, second.version)


def test_an_inactive_version_can_be_loaded_by_its_row(active_model_version, second_artifact):
    inactive = model_version_register(artifact_dir=second_artifact)

    model = model_for_version(inactive)

    assert model.version == inactive.version
    assert model_for_version(inactive) is model


def test_a_tampered_artifact_is_refused_by_name(trained_artifact, tmp_path):
    copy = shutil.copytree(trained_artifact, tmp_path / trained_artifact.name)
    version = model_version_register(artifact_dir=copy)
    model_version_activate(version=version.version, actor=ACTOR)
    joblib_file = next(p for p in copy.iterdir() if p.suffix == ".joblib")
    data = bytearray(joblib_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    joblib_file.write_bytes(bytes(data))

    with pytest.raises(ModelUnavailable) as refused:
        active_model()

    assert str(refused.value).startswith(f"model version {version.version} cannot be loaded: ")


def test_a_row_whose_hash_does_not_match_the_artifact_is_refused(active_model_version):
    ModelVersion.objects.filter(pk=active_model_version.pk).update(artifact_sha256="f" * 64)

    with pytest.raises(ModelUnavailable, match=active_model_version.version):
        active_model()


def test_a_row_that_names_another_version_than_its_artifact_is_refused(active_model_version):
    ModelVersion.objects.filter(pk=active_model_version.pk).update(version="rf-renamed")

    with pytest.raises(ModelUnavailable) as refused:
        active_model()

    assert str(refused.value) == (
        f"model version rf-renamed cannot be loaded: the artifact at {active_model_version.artifact_path} "
        f"is version {active_model_version.version}, not rf-renamed"
    )


def test_a_failed_load_is_retried_after_a_pause_not_on_every_request(active_model_version):
    ModelVersion.objects.filter(pk=active_model_version.pk).update(artifact_sha256="f" * 64)
    with count_loads() as load:
        for _ in range(3):
            with pytest.raises(ModelUnavailable):
                active_model()
        assert load.call_count == 1
        later = time.monotonic() + 60
        with mock.patch.object(model_loader.time, "monotonic", return_value=later), pytest.raises(ModelUnavailable):
            active_model()
        assert load.call_count == 2


def test_threads_asking_at_once_share_one_load(active_model_version):
    real_load = model_loader.load_artifact

    def slow_load(*args, **kwargs):
        time.sleep(0.2)  # long enough for every thread to arrive while the first is loading
        return real_load(*args, **kwargs)

    models = []
    with mock.patch.object(model_loader, "load_artifact", side_effect=slow_load) as load:
        threads = [
            threading.Thread(target=lambda: models.append(model_for_version(active_model_version))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert load.call_count == 1
    assert len(models) == 8
    assert all(model is models[0] for model in models)


def test_a_model_of_the_handbooks_15_features_keeps_loading_with_its_own_list(legacy_artifact):
    from model_package.features import FEATURE_NAMES

    legacy = model_version_register(artifact_dir=legacy_artifact)
    model_version_activate(version=legacy.version, actor=ACTOR)

    version, model = active_model()

    assert version.version == legacy.version
    assert model.feature_names == FEATURE_NAMES


def test_a_model_naming_a_feature_the_package_does_not_compute_is_unavailable(trained_artifact, tmp_path):
    import json

    from model_package.artifacts import manifest_sha256

    copy = shutil.copytree(trained_artifact, tmp_path / trained_artifact.name)
    version = model_version_register(artifact_dir=copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["feature_names"][-1] = "TX_COLOUR"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    ModelVersion.objects.filter(pk=version.pk).update(artifact_sha256=manifest_sha256(copy))

    with pytest.raises(ModelUnavailable, match="TX_COLOUR"):
        model_for_version(ModelVersion.objects.get(pk=version.pk))
