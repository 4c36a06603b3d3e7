"""The admin index opens on the analysts' dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from predictions.models import Review


def test_the_index_shows_todays_figures_and_the_queue(client, analyst_user, make_prediction):
    client.force_login(analyst_user)
    make_prediction(score=0.95, transaction_id="tx-oldest", scored_at=timezone.now() - timedelta(minutes=30))
    make_prediction(score=0.60)
    make_prediction(score=0.10)
    reviewed = make_prediction(score=0.70)
    Review.objects.create(transaction=reviewed.transaction, reviewer=analyst_user, outcome="fraud")

    page = client.get("/admin/").content.decode()

    # 4 scored today, 3 flagged, 1 reviewed (fraud); queue: tx-oldest (decline) and the 0.60 one (review).
    assert 'id="dashboard-scored">4<' in page
    assert 'id="dashboard-flagged">3<' in page
    assert 'id="dashboard-reviewed">1<' in page
    assert 'id="dashboard-confirmed">1<' in page
    assert "2 waiting" in page
    assert "1 review" in page and "1 decline" in page
    assert "tx-oldest" in page


def test_the_index_takes_a_few_queries(client, analyst_user, make_prediction, django_assert_max_num_queries):
    client.force_login(analyst_user)
    for i in range(30):
        make_prediction(score=0.5 + i / 100)

    # session, user, permissions (2), Django's own "recent actions" box, the dashboard's 5 aggregates.
    with django_assert_max_num_queries(10):
        assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_staff_without_the_analyst_role_get_the_plain_index(client):
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    page = client.get("/admin/").content.decode()
    assert 'id="review-dashboard"' not in page
