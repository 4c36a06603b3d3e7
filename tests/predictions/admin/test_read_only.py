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


def test_numbers_are_rounded_for_people(superuser_client, make_transaction, model_version):
    from predictions.services.integrity import signed

    prediction = signed(
        Prediction(
            transaction=make_transaction(),
            model_version=model_version,
            score=0.91234567,
            decision="decline",
            thresholds=model_version.thresholds,
            features=[42.0, 0.0],
            reasons=[{"feature": "TX_AMOUNT", "value": 25.222812, "contribution": 0.039999999999999994}],
            latency_ms=0.01096556963408065,
        )
    )
    prediction.save(force_insert=True)

    listed = superuser_client.get("/admin/predictions/prediction/").content.decode()
    page = superuser_client.get(f"/admin/predictions/prediction/{prediction.pk}/change/").content.decode()

    assert "0.912<" in listed and "0.011 ms" in listed
    assert "TX_AMOUNT = 25.22: contribution +0.040" in page and "0.011 ms" in page
    for noise in ("0.039999", "0.010965", "0.912345"):
        assert noise not in listed + page
