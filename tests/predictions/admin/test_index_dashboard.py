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

    # session, user, permissions (2), Django's own "recent actions" box, the dashboard's 5 aggregates,
    # and for the charts: two daily aggregates, the active model, its latest predictions.
    with django_assert_max_num_queries(14):
        assert client.get("/admin/").status_code == 200
    # The charts are drawn once a minute, not for every visit.
    with django_assert_max_num_queries(10):
        assert client.get("/admin/").status_code == 200


def test_the_index_draws_the_30_day_charts_as_inline_svg(client, analyst_user, make_prediction):
    client.force_login(analyst_user)
    make_prediction(score=0.95, scored_at=timezone.now() - timedelta(days=2))

    page = client.get("/admin/").content.decode()

    for chart in ("chart-activity", "chart-precision", "chart-scores", "chart-drift"):
        assert f'<figure id="{chart}"><svg' in page
    assert "Scored per day (UTC)" in page and "Flag precision per day" in page
    assert "<script" not in page.split('id="dashboard-charts"')[1].split("</div>")[0]


def test_a_model_trained_before_references_says_no_reference(client, analyst_user, make_prediction):
    client.force_login(analyst_user)
    make_prediction(score=0.95)

    page = client.get("/admin/").content.decode()

    assert "<strong>no reference</strong>: model queue-test-v1 was trained before" in page


def test_a_psi_over_two_tenths_is_marked(client, analyst_user, make_prediction, model_version):
    model_version.metrics = {
        "reference": {
            "rows": 100,
            "score": {"edges": [0.5], "shares": [0.5, 0.5], "histogram": [0.05] * 20},
            "features": {"TX_AMOUNT": {"edges": [50.0], "shares": [0.9, 0.1]}},
        }
    }
    model_version.save()
    client.force_login(analyst_user)
    for score in (0.2, 0.7):
        make_prediction(score=score, amount=500)  # every amount above the training's 90 %

    page = client.get("/admin/").content.decode()

    assert '<span class="drifting">PSI over 0.2 (a shift worth a look): TX_AMOUNT.</span>' in page


@pytest.mark.django_db
def test_staff_without_the_analyst_role_get_the_plain_index(client):
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    page = client.get("/admin/").content.decode()
    assert 'id="review-dashboard"' not in page


def test_view_site_leads_to_the_api_docs_not_a_404(client, analyst_user):
    client.force_login(analyst_user)

    page = client.get("/admin/").content.decode()

    assert '<a href="/api/v1/docs/">View site</a>' in page
    assert client.get("/api/v1/docs/").status_code == 200
