"""Model versions in the admin: metrics and thresholds side by side; activation only with its permission."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from predictions.models import ModelVersion

LIST = "/admin/predictions/modelversion/"


def _version(name: str, **fields) -> ModelVersion:
    defaults = {
        "algorithm": "rf",
        "artifact_path": "/nowhere",
        "artifact_sha256": "0" * 64,
        "feature_names": ["TX_AMOUNT"],
        "metrics": {"auc": 0.8712, "average_precision": 0.6064, "card_precision_at_k": 0.291, "test": {"frauds": 385}},
        "thresholds": {"review": 0.31, "decline": 0.74},
        "trained_at": timezone.now() - timedelta(days=1),
    }
    return ModelVersion.objects.create(version=name, **{**defaults, **fields})


@pytest.fixture
def model_manager(client, db):
    user = User.objects.create_user("ml-lead", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_modelversion", "activate_modelversion"]))
    client.force_login(user)
    return client


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


def test_the_list_puts_metrics_and_thresholds_side_by_side(analyst):
    _version("v-metrics")

    page = analyst.get(LIST).content.decode()

    for text in ("v-metrics", "0.8712", "0.6064", "0.2910", "0.3100", "0.7400"):
        assert text in page


def test_a_versions_page_shows_every_metric_next_to_the_thresholds(analyst):
    version = _version("v-page")

    page = analyst.get(f"{LIST}{version.pk}/change/").content.decode()

    assert 'class="metrics-thresholds"' in page
    assert "test frauds" in page and "385" in page
    assert "review at score" in page and "0.3100" in page


def test_an_analyst_can_neither_see_nor_use_activate(analyst):
    version = _version("v-analyst")
    _version("v-live", is_active=True)

    listing = analyst.get(LIST)
    page = analyst.get(f"{LIST}{version.pk}/change/").content.decode()
    by_action = analyst.post(LIST, {"action": "activate", "_selected_action": [version.pk]})
    by_button = analyst.post(f"{LIST}{version.pk}/activate/")

    assert listing.context["action_form"] is None
    assert 'id="activate-button"' not in page
    assert by_button.status_code == 403
    assert by_action.status_code in (200, 302)  # the admin ignores an action the user does not have
    assert ModelVersion.objects.get(is_active=True).version == "v-live"


def test_a_model_manager_activates_a_version_with_the_button(model_manager, active_model_version, trained_artifact):
    candidate = _version(
        "v-candidate",
        artifact_path=active_model_version.artifact_path,
        artifact_sha256=active_model_version.artifact_sha256,
    )
    page = model_manager.get(f"{LIST}{candidate.pk}/change/").content.decode()
    assert 'id="activate-button"' in page

    response = model_manager.post(f"{LIST}{candidate.pk}/activate/", follow=True)

    assert response.status_code == 200
    assert ModelVersion.objects.get(is_active=True).version == "v-candidate"
    assert "v-candidate is now active" in response.content.decode()


def test_a_model_manager_activates_a_version_with_the_action(model_manager, active_model_version):
    candidate = _version(
        "v-action",
        artifact_path=active_model_version.artifact_path,
        artifact_sha256=active_model_version.artifact_sha256,
    )

    model_manager.post(LIST, {"action": "activate", "_selected_action": [candidate.pk]})

    assert ModelVersion.objects.get(is_active=True).version == "v-action"


def test_a_broken_artifact_is_not_activated_and_the_reason_is_shown(model_manager):
    broken = _version("v-broken", artifact_path="/nowhere/at/all")
    _version("v-live", is_active=True)

    response = model_manager.post(f"{LIST}{broken.pk}/activate/", follow=True)

    assert ModelVersion.objects.get(is_active=True).version == "v-live"
    assert "cannot be activated" in response.content.decode()


def test_activating_needs_exactly_one_selected_version(model_manager):
    first, second = _version("v-1"), _version("v-2")

    response = model_manager.post(LIST, {"action": "activate", "_selected_action": [first.pk, second.pk]}, follow=True)

    assert "exactly one" in response.content.decode()
    assert not ModelVersion.objects.filter(is_active=True).exists()


def test_the_drift_reference_is_not_listed_among_the_metrics(analyst):
    reference = {"rows": 10, "score": {"edges": [0.5], "shares": [0.5, 0.5], "histogram": [0.05] * 20}, "features": {}}
    version = _version("with-reference", metrics={"auc": 0.8712, "reference": reference})

    page = analyst.get(f"{LIST}{version.pk}/change/").content.decode()

    assert "<th>auc</th><td>0.8712</td>" in page
    assert "reference" not in page.split('class="metrics-thresholds"')[1].split("</div>")[0]
