"""Artifacts: a directory with the fitted pipeline (model.joblib) and a JSON manifest that vouches for it.

Loading checks, in this order, and stops at the first problem with one ArtifactError naming it:
the manifest exists and parses; its sha256 (the artifact's identity) if the caller expects one; every
file's sha256; the library versions; the features (each one this package computes: a model made with
another feature list than today's default keeps its own). Only then is the pickle opened, so unverified
or incompatible bytes are never unpickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from model_package.errors import ArtifactError
from model_package.features import check_feature_names
from model_package.predict import Model
from model_package.result import TrainResult

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
FORMAT = 1
# Versions that must match exactly for the pickle to mean the same model; python by major.minor.
EXACT_LIBRARIES = ("scikit-learn", "numpy", "joblib")
_REQUIRED_KEYS = ("version", "algorithm", "feature_names", "feature_medians", "thresholds", "libraries", "files")


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def save_artifact(result: TrainResult, directory: Path) -> Path:
    """Write model.joblib and manifest.json into directory (created; it must not hold anything yet)."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ArtifactError(f"{directory} already exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(result.pipeline, model_path)
    manifest = {
        "format": FORMAT,
        "version": result.version,
        "created_at": result.created_at.isoformat(),
        "algorithm": result.algorithm,
        "parameters": result.parameters,
        "feature_names": list(result.feature_names),
        "feature_medians": list(result.feature_medians),
        "thresholds": {"review": result.thresholds.review, "decline": result.thresholds.decline},
        "metrics": result.metrics,
        "windows": result.windows,
        "fingerprint": result.fingerprint,
        "libraries": library_versions(),
        "files": {MODEL_FILE: {"sha256": _sha256(model_path), "bytes": model_path.stat().st_size}},
    }
    _write_atomically(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return directory


def manifest_sha256(directory: Path) -> str:
    """sha256 of manifest.json: the artifact's identity (the manifest holds every other file's hash)."""
    return hashlib.sha256(_read(Path(directory), MANIFEST)).hexdigest()


def read_manifest(directory: Path) -> dict:
    """The parsed manifest, without loading the model."""
    return _parse_manifest(_read(Path(directory), MANIFEST), Path(directory))


def load_artifact(directory: Path, *, expected_sha256: str | None = None) -> Model:
    """Verify the artifact in directory (see the module docstring for the checks) and return its Model.

    Each file is read once: the bytes that were hashed are the bytes that are parsed or unpickled.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not an artifact directory")
    raw = _read(directory, MANIFEST)
    if expected_sha256 is not None:
        found = hashlib.sha256(raw).hexdigest()
        if found != expected_sha256:
            raise ArtifactError(f"{MANIFEST} in {directory} has sha256 {found}, expected {expected_sha256}")
    manifest = _parse_manifest(raw, directory)
    missing = [key for key in _REQUIRED_KEYS if key not in manifest]
    if missing:
        raise ArtifactError(f"{MANIFEST} in {directory} lacks {', '.join(missing)}")
    files = _verified_files(directory, manifest["files"])
    _verify_libraries(manifest["libraries"])
    try:
        check_feature_names(manifest["feature_names"])
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"the model in {directory} uses features this package does not compute ({exc})") from None
    pipeline = _unpickle(files[MODEL_FILE], directory)
    try:
        return Model(pipeline=pipeline, manifest=manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"the model in {directory} is not usable: {exc}") from None


def _read(directory: Path, name: str) -> bytes:
    path = directory / name
    if not path.is_file():
        raise ArtifactError(f"{name} is missing in {directory}")
    return path.read_bytes()


def _parse_manifest(raw: bytes, directory: Path) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{MANIFEST} in {directory} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{MANIFEST} in {directory} is not a JSON object")
    return manifest


def _verified_files(directory: Path, files: Any) -> dict[str, bytes]:
    """Every file the manifest lists, read and checked against its recorded sha256."""
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ArtifactError(f"{MANIFEST} in {directory} does not list {MODEL_FILE}")
    contents = {}
    for name, entry in files.items():
        if Path(name).name != name:
            raise ArtifactError(f"{MANIFEST} in {directory} names a file outside the artifact: {name!r}")
        data = _read(directory, name)
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        found = hashlib.sha256(data).hexdigest()
        if found != expected:
            raise ArtifactError(f"{name} in {directory} has sha256 {found}, the manifest says {expected}")
        contents[name] = data
    return contents


def _verify_libraries(made_with: Any) -> None:
    if not isinstance(made_with, dict):
        raise ArtifactError(f"{MANIFEST} has no library versions")
    here = library_versions()
    for name in EXACT_LIBRARIES:
        if made_with.get(name) != here[name]:
            raise ArtifactError(
                f"the model was made with {name} {made_with.get(name)}, this environment has {here[name]}"
            )
    made_python = ".".join(str(made_with.get("python", "")).split(".")[:2])
    if made_python != ".".join(here["python"].split(".")[:2]):
        raise ArtifactError(
            f"the model was made with python {made_with.get('python')}, this is python {here['python']}"
        )


def _unpickle(data: bytes, directory: Path) -> Any:
    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # a verified but unreadable pickle can fail in many ways; say which, no traceback
        raise ArtifactError(f"{MODEL_FILE} in {directory} cannot be loaded ({type(exc).__name__})") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a manifest."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    Path(handle.name).replace(path)
