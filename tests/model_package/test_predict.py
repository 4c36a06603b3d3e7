from __future__ import annotations

import copy

import numpy as np
import pytest

from model_package.artifacts import load_artifact, save_artifact
from model_package.features import ALL_FEATURE_NAMES, FEATURE_NAMES, feature_table
from model_package.predict import Model, Thresholds, _boosting_scorer, occluded, scorer_for
from model_package.train import train_model

ALGORITHMS = ("rf", "logreg", "hgb")


@pytest.fixture(scope="module")
def models(quick_results, tmp_path_factory) -> dict[str, Model]:
    """Each quick model as the service gets it: saved, then loaded and verified."""
    root = tmp_path_factory.mktemp("predict")
    return {name: load_artifact(save_artifact(result, root / name)) for name, result in quick_results.items()}


@pytest.fixture(scope="module")
def rows(small_transactions) -> np.ndarray:
    """Real feature rows (every feature: the quick models' list) from the small simulation, frauds included."""
    return feature_table(small_transactions, ALL_FEATURE_NAMES).to_numpy()[::37]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_scores_are_scikit_learns_probabilities(models, rows, algorithm):
    model = models[algorithm]
    scores = np.array([scored.score for scored in model.score_many(rows, explain="none")])
    assert np.allclose(scores, model.pipeline.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)


def test_a_forest_scores_what_predict_proba_gives_in_one_thread_to_the_last_bit(models, rows):
    # The stored scores of an rf version must be recomputed exactly by rescore --verify, whatever the scorer.
    forest = models["rf"].pipeline.steps[-1][1]
    in_one_thread = copy.copy(forest).set_params(n_jobs=1)  # the same fitted trees

    scores = np.array([scored.score for scored in models["rf"].score_many(rows, explain="none")])

    assert np.array_equal(scores, in_one_thread.predict_proba(rows)[:, 1])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_row_scores_the_same_alone_or_in_any_batch(models, rows, algorithm):
    model = models[algorithm]
    in_batch = model.score_many(rows, explain="none")
    for i in range(0, len(rows), 25):
        alone = model.score_one(rows[i])
        assert alone.score == model.score_many(rows[i][None], explain="none")[0].score
        assert alone.score == in_batch[i].score


def test_the_decision_follows_the_thresholds_inclusively(models):
    model = models["rf"]
    review, decline = model.thresholds.review, model.thresholds.decline
    assert model.decide(np.nextafter(review, 0)) == "approve"
    assert model.decide(review) == ("decline" if review == decline else "review")
    assert model.decide(decline) == "decline"


def test_decisions_use_the_artifacts_thresholds(quick_results):
    result = quick_results["rf"]
    manifest = {
        "version": "v-test",
        "algorithm": "rf",
        "feature_names": list(result.feature_names),
        "feature_medians": list(result.feature_medians),
        "thresholds": {"review": 0.3, "decline": 0.7},
    }
    model = Model(pipeline=result.pipeline, manifest=manifest)
    assert model.thresholds == Thresholds(review=0.3, decline=0.7)
    assert [model.decide(s) for s in (0.29, 0.3, 0.69, 0.7, 1.0)] == [
        "approve",
        "review",
        "review",
        "decline",
        "decline",
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_reasons_are_the_features_whose_median_lowers_the_score_most(models, rows, algorithm):
    model = models[algorithm]
    medians = np.asarray(model.manifest["feature_medians"])
    row = rows[np.argmax(model.pipeline.predict_proba(rows)[:, 1])]  # the most suspicious row
    scored = model.score_one(row)
    names = model.feature_names
    # Each feature set to its training median, scored by scikit-learn directly.
    copies = np.repeat(row[None], len(names), axis=0)
    copies[np.arange(len(names)), np.arange(len(names))] = medians
    drops = scored.score - model.pipeline.predict_proba(copies)[:, 1]
    expected = [names[j] for j in np.argsort(-drops, kind="stable")[:3] if drops[j] > 0]

    assert [reason.feature for reason in scored.reasons] == expected
    for reason in scored.reasons:
        j = names.index(reason.feature)
        assert reason.value == row[j]
        assert reason.contribution == pytest.approx(drops[j], abs=1e-12)
    assert len(scored.reasons) <= 3


def test_reasons_are_given_for_the_rows_asked(models, rows):
    model = models["rf"]
    flagged = model.score_many(rows)  # "flagged" by default
    assert any(s.decision != "approve" for s in flagged)
    assert all(bool(s.reasons) is False for s in flagged if s.decision == "approve")
    assert any(s.reasons for s in flagged if s.decision != "approve")
    assert all(s.reasons == () for s in model.score_many(rows, explain="none"))
    everything = model.score_many(rows, explain="all")
    assert [s.reasons for s in everything] == [model.score_one(row).reasons for row in rows]


def test_every_result_names_the_model_version(models, rows):
    model = models["hgb"]
    assert {s.model_version for s in model.score_many(rows)} == {model.version}
    assert model.score_one(rows[0]).model_version == model.version


WIDTH = len(ALL_FEATURE_NAMES)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (np.zeros(WIDTH - 1), "shape"),
        (np.zeros((2, WIDTH)), "shape"),
        (np.full(WIDTH, np.nan), "finite"),
    ],
)
def test_bad_feature_rows_are_refused(models, features, message):
    with pytest.raises(ValueError, match=message):
        models["rf"].score_one(features)


@pytest.fixture(scope="module")
def boosting_models(small_transactions, quick_results):
    """Gradient boosting of the default model's shape (the quick one) and of the library's (deeper trees)."""
    library = train_model(small_transactions, algorithm="hgb", model_params={"max_iter": 30}, alert_budget=30)
    return {"default shape": quick_results["hgb"], "library shape": library}


@pytest.mark.parametrize("shape", ["default shape", "library shape"])
def test_boosting_scores_and_occluded_scores_are_scikit_learns_bit_for_bit(boosting_models, rows, shape):
    result = boosting_models[shape]
    compiled, reference = scorer_for(result.pipeline), _boosting_scorer(result.pipeline.named_steps["model"])
    medians = np.asarray(result.feature_medians)
    assert type(compiled).__name__ == "_CompiledBoosting"
    walked = np.concatenate([compiled(rows[i : i + 200]) for i in range(0, len(rows), 200)])  # blocks it walks
    assert np.array_equal(walked, result.pipeline.predict_proba(rows)[:, 1])
    assert np.array_equal(walked, reference(rows))
    assert np.array_equal(compiled(rows), walked)  # more rows than it walks: scikit-learn's own loop
    # Reasons re-walk only the trees whose path tests the occluded feature: the same numbers as scoring copies.
    expected = reference(occluded(rows, medians)).reshape(len(rows), -1)
    assert np.array_equal(compiled.occluded_scores(rows, medians), expected)


def test_boosting_rows_with_a_missing_value_are_scored_by_scikit_learn(boosting_models, rows):
    result = boosting_models["default shape"]
    with_nan = rows[:5].copy()
    with_nan[:, 0] = np.nan
    compiled = scorer_for(result.pipeline)
    assert np.array_equal(compiled(with_nan), result.pipeline.predict_proba(with_nan)[:, 1])


def test_a_model_keeps_its_own_feature_list(small_transactions, tmp_path):
    legacy = train_model(small_transactions, algorithm="rf", feature_names=FEATURE_NAMES, train_days=7, alert_budget=30)
    model = load_artifact(save_artifact(legacy, tmp_path / "legacy"))
    table = feature_table(small_transactions, FEATURE_NAMES).to_numpy()[::37]
    assert model.feature_names == FEATURE_NAMES
    scores = [s.score for s in model.score_many(table, explain="none")]
    assert np.allclose(scores, legacy.pipeline.predict_proba(table)[:, 1], rtol=0, atol=1e-12)
    assert {reason.feature for s in model.score_many(table, explain="all") for reason in s.reasons} <= set(
        FEATURE_NAMES
    )


def test_an_unknown_explain_mode_is_refused(models, rows):
    with pytest.raises(ValueError, match="explain must be one of"):
        models["rf"].score_many(rows, explain="some")
