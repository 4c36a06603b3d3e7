"""Who may do what in the admin: analysts review; model activation and user management are for others."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User

QUEUE = "/admin/predictions/reviewqueueitem/"


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


def test_an_analyst_sees_the_queue_but_not_user_management(analyst):
    index = analyst.get("/admin/")
    models = {model["object_name"] for app in index.context["app_list"] for model in app["models"]}

    assert {"ReviewQueueItem", "Transaction", "Prediction", "Review", "ModelVersion"} <= models
    assert not {"User", "Group"} & models
    assert analyst.get(QUEUE).status_code == 200
    assert analyst.get("/admin/auth/user/").status_code == 403
    assert analyst.get("/admin/auth/group/").status_code == 403


@pytest.mark.django_db
def test_the_analyst_group_may_review_but_not_activate_models():
    permissions = set(Group.objects.get(name="analyst").permissions.values_list("codename", flat=True))

    assert {"view_reviewqueueitem", "add_review", "label_transaction", "view_transaction"} <= permissions
    assert "activate_modelversion" not in permissions
    assert not any(codename.endswith(("_user", "_group", "_permission")) for codename in permissions)


@pytest.mark.django_db
def test_staff_create_an_analyst_in_the_admin_who_can_then_use_the_queue(client):
    client.force_login(User.objects.create_superuser("lead", password="pw"))
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "new-analyst",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    user = User.objects.get(username="new-analyst")
    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": "new-analyst",
            "is_active": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name="analyst").pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "09:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""

    client.force_login(User.objects.get(username="new-analyst"))
    assert client.get(QUEUE).status_code == 200


def test_a_user_without_the_analyst_role_cannot_open_the_queue(client, db):
    outsider = User.objects.create_user("outsider", password="pw", is_staff=True)
    client.force_login(outsider)
    assert client.get(QUEUE).status_code == 403


def test_a_viewer_without_review_permissions_gets_no_bulk_actions(client, make_prediction):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_reviewqueueitem"))
    client.force_login(viewer)
    make_prediction(score=0.9)

    response = client.get(QUEUE)

    assert response.status_code == 200
    assert response.context["action_form"] is None
