"""GET transactions/, transactions/{id}/, models/ and models/active/: analysts' reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from predictions.models import ModelVersion, Prediction, Review

pytestmark = pytest.mark.django_db

LIST = "/api/v1/transactions/"


@pytest.fixture
def scored(make_transaction, active_model_version, analyst_user):
    """Four stored transactions with hand-set predictions, one reviewed, one labelled, one never scored."""

    def predict(tx, score, decision):
        return Prediction.objects.create(
            transaction=tx,
            model_version=active_model_version,
            score=score,
            decision=decision,
            thresholds={"review": 0.5, "decline": 0.8},
            features=[],
            reasons=[],
            latency_ms=1.0,
        )

    low = make_transaction(transaction_id="t-low", timestamp=datetime(2026, 3, 1, 10, tzinfo=UTC), customer_id="C1")
    mid = make_transaction(transaction_id="t-mid", timestamp=datetime(2026, 3, 2, 10, tzinfo=UTC), terminal_id="T9")
    high = make_transaction(
        transaction_id="t-high", timestamp=datetime(2026, 3, 3, 10, tzinfo=UTC), label="fraud", label_source="review"
    )
    make_transaction(transaction_id="t-history", timestamp=datetime(2026, 2, 1, 10, tzinfo=UTC))
    predict(low, 0.10, "approve")
    predict(mid, 0.60, "review")
    predict(high, 0.30, "approve")
    predict(high, 0.95, "decline")  # re-scored: the latest prediction counts
    Review.objects.create(transaction=high, reviewer=analyst_user, outcome="fraud")


def ids(response):
    return [row["transaction_id"] for row in response.json()["results"]]


def test_an_analyst_lists_transactions_newest_first_with_the_latest_score(analyst_client, scored):
    response = analyst_client.get(LIST)

    assert response.status_code == 200
    assert ids(response) == ["t-high", "t-mid", "t-low", "t-history"]
    high = response.json()["results"][0]
    assert (high["score"], high["decision"], high["flagged"], high["reviewed"]) == (0.95, "decline", True, True)
    history = response.json()["results"][3]
    assert (history["score"], history["decision"], history["flagged"]) == (None, None, None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision=review", ["t-mid"]),
        ("decision=approve", ["t-low"]),
        ("flagged=true", ["t-high", "t-mid"]),
        ("flagged=false", ["t-low"]),
        ("reviewed=true", ["t-high"]),
        ("reviewed=false", ["t-mid", "t-low", "t-history"]),
        ("label=fraud", ["t-high"]),
        ("customer_id=C1", ["t-low"]),
        ("terminal_id=T9", ["t-mid"]),
        ("timestamp_after=2026-03-02T10:00:00Z", ["t-high", "t-mid"]),
        ("timestamp_before=2026-03-02T10:00:00Z", ["t-low", "t-history"]),
        ("score_min=0.5", ["t-high", "t-mid"]),
        ("score_max=0.6", ["t-mid", "t-low"]),
        ("score_min=0.2&score_max=0.7&flagged=true", ["t-mid"]),
        ("ordering=-score&score_min=0", ["t-high", "t-mid", "t-low"]),
    ],
)
def test_it_filters_the_list(analyst_client, scored, query, expected):
    assert ids(analyst_client.get(f"{LIST}?{query}")) == expected


def test_a_bad_filter_value_is_a_400_naming_it(analyst_client, scored):
    response = analyst_client.get(f"{LIST}?decision=maybe&score_min=high")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"decision", "score_min"}


def test_the_list_is_paginated(analyst_client, scored):
    page = analyst_client.get(f"{LIST}?page_size=3").json()

    assert page["count"] == 4
    assert len(page["results"]) == 3
    assert page["next"].endswith("page=2&page_size=3")
    assert ids(analyst_client.get(f"{LIST}?page_size=3&page=2")) == ["t-history"]


def test_one_transaction_comes_with_every_prediction_and_review(analyst_client, scored):
    response = analyst_client.get(f"{LIST}t-high/")

    assert response.status_code == 200
    detail = response.json()
    assert [p["score"] for p in detail["predictions"]] == [0.95, 0.30]
    assert detail["reviews"][0]["reviewer"] == "analyst"
    assert detail["reviews"][0]["outcome"] == "fraud"
    assert (detail["label"], detail["label_source"]) == ("fraud", "review")


def test_a_scored_transaction_shows_its_features_reasons_and_request(
    analyst_client, scoring_client, active_model_version, transaction_payload
):
    result = scoring_client.post(LIST, transaction_payload(transaction_id="s:1.a"), format="json").json()

    detail = analyst_client.get(f"{LIST}s:1.a/").json()

    prediction = detail["predictions"][0]
    assert prediction["request_id"] == result["request_id"]
    assert prediction["reasons"] == result["reasons"]
    assert list(prediction["features"]) == list(active_model_version.feature_names)  # model order, on any database


def test_an_unknown_transaction_is_a_json_404(analyst_client, scored):
    response = analyst_client.get(f"{LIST}nope/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_scoring_clients_may_not_read(scoring_client, scored):
    assert scoring_client.get(LIST).status_code == 403
    assert scoring_client.get(f"{LIST}t-high/").status_code == 403
    assert scoring_client.get("/api/v1/models/").status_code == 403


def test_nothing_is_readable_without_credentials(client, scored):
    for url in (LIST, f"{LIST}t-high/", "/api/v1/models/", "/api/v1/models/active/", "/api/v1/schema/"):
        assert client.get(url).status_code == 401, url


# --- model versions -----------------------------------------------------------------------


def test_an_analyst_lists_model_versions_with_metrics_and_thresholds(analyst_client, active_model_version):
    response = analyst_client.get("/api/v1/models/")

    assert response.status_code == 200
    [model] = response.json()["results"]
    assert model["version"] == active_model_version.version
    assert model["is_active"] is True
    assert model["thresholds"] == active_model_version.thresholds
    assert model["metrics"] == active_model_version.metrics
    assert "artifact_path" not in model  # a server path is nobody's business


def test_the_active_model_version(analyst_client, active_model_version):
    response = analyst_client.get("/api/v1/models/active/")

    assert response.status_code == 200
    assert response.json()["version"] == active_model_version.version


def test_no_active_model_version_is_a_404(analyst_client, active_model_version):
    ModelVersion.objects.update(is_active=False)

    response = analyst_client.get("/api/v1/models/active/")

    assert response.status_code == 404
    assert response.json()["detail"] == "No model version is active."


def test_one_model_version_by_name(analyst_client, active_model_version):
    response = analyst_client.get(f"/api/v1/models/{active_model_version.version}/")

    assert response.status_code == 200
    assert response.json()["version"] == active_model_version.version
