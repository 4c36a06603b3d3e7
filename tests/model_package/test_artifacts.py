from __future__ import annotations

import hashlib
import json
from datetime import datetime

import numpy as np
import pytest
import sklearn

from model_package.artifacts import (
    ArtifactError,
    load_artifact,
    manifest_sha256,
    read_manifest,
    save_artifact,
)
from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_manifest(directory, **changes) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    for key, value in changes.items():
        manifest[key] = value
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_a_saved_artifact_loads_as_the_model_that_was_trained(quick_results, artifact_dir):
    result = quick_results["rf"]
    model = load_artifact(artifact_dir, expected_sha256=manifest_sha256(artifact_dir))
    rows = np.random.default_rng(0).uniform(0, 50, size=(20, len(ALL_FEATURE_NAMES)))
    assert model.version == result.version
    assert model.algorithm == "rf"
    assert model.feature_names == ALL_FEATURE_NAMES
    assert model.thresholds == result.thresholds
    assert np.allclose([s.score for s in model.score_many(rows)], result.pipeline.predict_proba(rows)[:, 1], atol=1e-12)


def test_the_manifest_records_versions_windows_fingerprint_metrics_and_hashes(quick_results, artifact_dir):
    result, manifest = quick_results["rf"], read_manifest(artifact_dir)
    assert manifest["libraries"]["scikit-learn"] == sklearn.__version__
    assert set(manifest["libraries"]) == {"python", "scikit-learn", "numpy", "pandas", "joblib"}
    assert manifest["files"]["model.joblib"]["sha256"] == sha256(artifact_dir / "model.joblib")
    assert manifest["feature_names"] == list(ALL_FEATURE_NAMES)
    assert manifest["windows"] == result.windows
    assert manifest["fingerprint"] == result.fingerprint
    assert manifest["metrics"]["auc"] == result.metrics["auc"]
    assert manifest["thresholds"] == {"review": result.thresholds.review, "decline": result.thresholds.decline}
    assert manifest["parameters"]["pipeline"]["model"]["class"] == "RandomForestClassifier"
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None


def test_the_manifest_hash_is_the_artifacts_identity(artifact_dir):
    assert manifest_sha256(artifact_dir) == sha256(artifact_dir / "manifest.json")


def test_one_changed_byte_in_the_model_is_refused_by_name(artifact_dir):
    data = bytearray((artifact_dir / "model.joblib").read_bytes())
    data[len(data) // 2] ^= 0x01
    (artifact_dir / "model.joblib").write_bytes(bytes(data))
    recorded = read_manifest(artifact_dir)["files"]["model.joblib"]["sha256"]
    with pytest.raises(ArtifactError, match=f"model.joblib .* has sha256 [0-9a-f]{{64}}, the manifest says {recorded}"):
        load_artifact(artifact_dir)


def test_a_missing_model_file_is_refused_by_name(artifact_dir):
    (artifact_dir / "model.joblib").unlink()
    with pytest.raises(ArtifactError, match=r"model\.joblib is missing"):
        load_artifact(artifact_dir)


def test_a_missing_manifest_is_refused_by_name(artifact_dir):
    (artifact_dir / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        load_artifact(artifact_dir)


def test_a_manifest_naming_another_scikit_learn_is_refused_by_the_version_check(artifact_dir):
    manifest = read_manifest(artifact_dir)
    rewrite_manifest(artifact_dir, libraries={**manifest["libraries"], "scikit-learn": "1.6.1"})
    # The model file is untouched, so its hash still matches: it is the version check that refuses.
    assert read_manifest(artifact_dir)["files"]["model.joblib"]["sha256"] == sha256(artifact_dir / "model.joblib")
    with pytest.raises(
        ArtifactError, match=f"made with scikit-learn 1.6.1, this environment has {sklearn.__version__}"
    ):
        load_artifact(artifact_dir)


def test_an_edited_manifest_no_longer_matches_the_registered_hash(artifact_dir):
    registered = manifest_sha256(artifact_dir)
    manifest = read_manifest(artifact_dir)
    rewrite_manifest(artifact_dir, thresholds={**manifest["thresholds"], "decline": 1.0})
    with pytest.raises(ArtifactError, match=f"manifest.json .* has sha256 [0-9a-f]{{64}}, expected {registered}"):
        load_artifact(artifact_dir, expected_sha256=registered)


def test_a_manifest_that_is_not_json_is_refused(artifact_dir):
    (artifact_dir / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(artifact_dir)


def test_a_verified_but_unreadable_pickle_gives_a_clear_message_not_a_traceback(artifact_dir):
    (artifact_dir / "model.joblib").write_bytes(b"not a pickle at all")
    manifest = read_manifest(artifact_dir)
    manifest["files"]["model.joblib"]["sha256"] = sha256(artifact_dir / "model.joblib")
    rewrite_manifest(artifact_dir, files=manifest["files"])
    with pytest.raises(ArtifactError, match=r"model.joblib .* cannot be loaded \(\w+\)") as caught:
        load_artifact(artifact_dir)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_manifest_cannot_point_outside_its_directory(artifact_dir):
    manifest = read_manifest(artifact_dir)
    rewrite_manifest(artifact_dir, files={**manifest["files"], "../elsewhere": {"sha256": "0" * 64}})
    with pytest.raises(ArtifactError, match="outside the artifact"):
        load_artifact(artifact_dir)


def test_saving_never_overwrites_an_artifact(quick_results, artifact_dir):
    with pytest.raises(ArtifactError, match="not an empty directory"):
        save_artifact(quick_results["rf"], artifact_dir)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not an artifact directory"):
        load_artifact(tmp_path / "nothing")


def test_a_model_of_the_handbooks_15_features_still_loads_with_them(legacy_artifact):
    model = load_artifact(legacy_artifact)
    assert model.feature_names == FEATURE_NAMES
    assert model.score_one(np.ones(len(FEATURE_NAMES))).model_version == model.version


def test_a_manifest_naming_a_feature_this_package_does_not_compute_is_refused(artifact_dir):
    manifest = read_manifest(artifact_dir)
    rewrite_manifest(artifact_dir, feature_names=[*manifest["feature_names"][:-1], "TX_COLOUR"])
    with pytest.raises(ArtifactError, match=r"uses features this package does not compute .*TX_COLOUR"):
        load_artifact(artifact_dir)
