"""Drift: the training reference a model keeps, and the population stability index against it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model_package.drift import bin_shares, psi, reference_distribution, training_reference


def test_psi_of_two_bins_is_the_value_worked_by_hand():
    # (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 * 0.470004 + 0.3 * 0.916291
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.415888, abs=1e-6)


def test_psi_of_four_bins_is_the_value_worked_by_hand_and_counts_as_drift():
    # -0.15 ln 0.4 - 0.05 ln 0.8 + 0.05 ln 1.2 + 0.15 ln 1.6 = 0.137444 + 0.011157 + 0.009116 + 0.070501
    assert psi([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.228218, abs=1e-6)


def test_the_same_distribution_has_no_drift():
    assert psi([0.1, 0.3, 0.6], [0.1, 0.3, 0.6]) == 0.0


def test_an_empty_bin_gives_a_large_finite_psi_not_infinity():
    value = psi([0.5, 0.5], [1.0, 0.0])
    assert math.isfinite(value) and value > 1


def test_bins_are_closed_on_the_right():
    assert bin_shares(np.array([1.0, 2.0, 3.0, 4.0]), [2.0]) == [0.5, 0.5]
    assert bin_shares(np.array([]), [2.0]) == [0.0, 0.0]


def test_the_reference_cuts_ten_bins_at_the_deciles_and_a_flag_in_two():
    reference = reference_distribution(np.arange(100, dtype=float))
    assert len(reference["shares"]) == 10
    assert reference["shares"] == pytest.approx([0.1] * 10)
    flag = reference_distribution(np.array([0.0] * 70 + [1.0] * 30))
    assert flag == {"edges": [0.0, 1.0], "shares": [0.7, 0.3, 0.0]}


def test_a_shifted_sample_drifts_and_a_fresh_one_from_the_same_law_does_not():
    rng = np.random.default_rng(0)
    reference = reference_distribution(rng.normal(size=20_000))
    same = bin_shares(rng.normal(size=5_000), reference["edges"])
    shifted = bin_shares(rng.normal(loc=1.0, size=5_000), reference["edges"])
    assert psi(reference["shares"], same) < 0.02
    assert psi(reference["shares"], shifted) > 0.2


def test_a_mismatched_number_of_bins_is_refused():
    with pytest.raises(ValueError, match="bins"):
        psi([0.5, 0.5], [1.0])


def test_a_trained_model_keeps_a_reference_for_its_score_and_every_feature(quick_results):
    result = quick_results["hgb"]
    reference = result.metrics["reference"]
    assert set(reference["features"]) == set(result.feature_names)
    assert sum(reference["score"]["histogram"]) == pytest.approx(1.0)
    for distribution in [reference["score"], *reference["features"].values()]:
        assert len(distribution["shares"]) == len(distribution["edges"]) + 1
        assert sum(distribution["shares"]) == pytest.approx(1.0)


def test_the_reference_is_json_and_saved_in_the_manifest(quick_results, tmp_path):
    from model_package.artifacts import read_manifest, save_artifact

    result = quick_results["rf"]
    manifest = read_manifest(save_artifact(result, tmp_path / "model"))
    assert manifest["metrics"]["reference"]["rows"] == result.metrics["reference"]["rows"] > 0


def test_training_reference_names_each_column():
    features = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    reference = training_reference(scores=np.array([0.1, 0.2, 0.9]), features=features, feature_names=["A", "B"])
    # Deciles "lower" of three values: the first below the median, the second from it on.
    assert reference["features"]["A"]["edges"] == [1.0, 2.0]
    assert reference["features"]["B"]["edges"] == [10.0, 20.0]
