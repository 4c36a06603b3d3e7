"""Audit tables (and transactions) cannot be added, changed or deleted in the admin, by anyone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from predictions.models import Prediction, Review, ScoringRequest, Transaction


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


@pytest.fixture
def audit_rows(make_prediction, analyst_user):
    prediction = make_prediction(score=0.9)
    review = Review.objects.create(transaction=prediction.transaction, reviewer=analyst_user, outcome="fraud")
    request = ScoringRequest.objects.create(endpoint="transactions", status_code=201, duration_ms=2.0)
    return {
        "scoringrequest": request,
        "prediction": prediction,
        "review": review,
        "transaction": prediction.transaction,
    }


@pytest.mark.parametrize("model", ["scoringrequest", "prediction", "review", "transaction"])
def test_even_a_superuser_can_only_look(superuser_client, audit_rows, model):
    row = audit_rows[model]
    base = f"/admin/predictions/{model}/"

    assert superuser_client.get(base).status_code == 200
    page = superuser_client.get(f"{base}{row.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    assert superuser_client.get(f"{base}add/").status_code == 403
    assert superuser_client.post(f"{base}{row.pk}/change/", {}).status_code == 403
    assert superuser_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    action_form = superuser_client.get(base).context["action_form"]  # None when a list has no actions at all
    assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)


def test_the_rows_are_still_there_afterwards(superuser_client, audit_rows):
    for model, row in audit_rows.items():
        superuser_client.post(f"/admin/predictions/{model}/{row.pk}/delete/", {"post": "yes"})
    assert (ScoringRequest.objects.count(), Prediction.objects.count(), Review.objects.count()) == (1, 1, 1)
    assert Transaction.objects.count() == 1
