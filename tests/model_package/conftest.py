"""Small trained models for the model_package tests: few trees, the root conftest's small simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_package.train import DEFAULT_PARAMS

# Small enough to train in well under a second; these tests are about behaviour, not quality.
# hgb: the default model's shape with fewer iterations.
QUICK_PARAMS = {"rf": {"n_estimators": 10}, "logreg": {}, "hgb": {**DEFAULT_PARAMS["hgb"], "max_iter": 40}}
# The root conftest's ALERT_BUDGET: the book's alerts per fraud, at the small simulation's frauds a day.
ALERT_BUDGET = 30


@pytest.fixture(scope="session")
def quick_results(small_transactions):
    """One TrainResult per algorithm, trained on the small simulation with the default protocol and features."""
    from model_package.train import train_model

    return {
        algorithm: train_model(small_transactions, algorithm=algorithm, alert_budget=ALERT_BUDGET, model_params=params)
        for algorithm, params in QUICK_PARAMS.items()
    }


@pytest.fixture
def artifact_dir(quick_results, tmp_path) -> Path:
    """A fresh copy of the quick random forest's artifact, free to tamper with."""
    from model_package.artifacts import save_artifact

    result = quick_results["rf"]
    return save_artifact(result, tmp_path / result.version)
