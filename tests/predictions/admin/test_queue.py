"""The review queue in the admin: what an analyst sees and does there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from predictions.models import ModelVersion, Review, Transaction

QUEUE = "/admin/predictions/reviewqueueitem/"


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


def _rows(response) -> list[str]:
    """Transaction ids in the order the queue shows them."""
    return [item.transaction.transaction_id for item in response.context["cl"].result_list]


def test_it_shows_flagged_unreviewed_transactions_highest_score_first(analyst, make_prediction, analyst_user):
    make_prediction(score=0.62, transaction_id="tx-review")
    make_prediction(score=0.97, transaction_id="tx-decline")
    make_prediction(score=0.20, transaction_id="tx-approved")
    done = make_prediction(score=0.99, transaction_id="tx-done")
    Review.objects.create(transaction=done.transaction, reviewer=analyst_user, outcome="fraud")

    response = analyst.get(QUEUE)

    assert response.status_code == 200
    assert _rows(response) == ["tx-decline", "tx-review"]


def test_each_row_shows_what_the_analyst_needs(analyst, make_prediction):
    make_prediction(
        score=0.935,
        transaction_id="tx-shown",
        customer_id="C-777",
        terminal_id="T-888",
        amount="123.45",
        timestamp=datetime(2026, 3, 1, 14, 30, tzinfo=UTC),
        scored_at=timezone.now() - timedelta(hours=3, minutes=5),
    )

    page = analyst.get(QUEUE).content.decode()

    for text in (
        "tx-shown",
        "C-777",
        "T-888",
        "123.45\xa0EUR",
        "0.935",
        "Decline",
        "queue-test-v1",
        "3\xa0h",  # in the queue for
        "2026-03-01\xa014:30",
    ):
        assert text in page
    assert 'href="/admin/predictions/transaction/' in page  # the id opens the transaction page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision=decline", ["tx-decline"]),
        ("decision=review", ["tx-old", "tx-review"]),
        ("review_state=reviewed", ["tx-reviewed"]),
        ("review_state=any", ["tx-reviewed", "tx-decline", "tx-old", "tx-review"]),
        ("transaction__label__exact=fraud", ["tx-old"]),
        ("transaction__timestamp__year=2025", ["tx-old"]),
        ("q=tx-review", ["tx-review"]),
        ("q=C-SEARCH", ["tx-decline"]),
        ("q=T-SEARCH", ["tx-review"]),
    ],
)
def test_it_filters_and_searches(analyst, make_prediction, analyst_user, query, expected):
    make_prediction(score=0.95, transaction_id="tx-decline", customer_id="C-SEARCH")
    make_prediction(score=0.60, transaction_id="tx-review", terminal_id="T-SEARCH")
    make_prediction(score=0.70, transaction_id="tx-old", timestamp=datetime(2025, 12, 30, tzinfo=UTC), label="fraud")
    reviewed = make_prediction(score=0.99, transaction_id="tx-reviewed")
    Review.objects.create(transaction=reviewed.transaction, reviewer=analyst_user, outcome="legitimate")

    assert _rows(analyst.get(f"{QUEUE}?{query}")) == expected


def test_it_filters_by_model_version(analyst, make_prediction, model_version):
    other = ModelVersion.objects.create(
        version="queue-test-v0",
        algorithm="logreg",
        artifact_path="/nowhere",
        artifact_sha256="1" * 64,
        feature_names=[],
        thresholds={"review": 0.5, "decline": 0.9},
        trained_at=timezone.now() - timedelta(days=9),
    )
    make_prediction(score=0.8, transaction_id="tx-new-model")
    make_prediction(score=0.7, transaction_id="tx-old-model", version=other)

    assert _rows(analyst.get(f"{QUEUE}?model_version__id__exact={other.pk}")) == ["tx-old-model"]


@pytest.mark.parametrize(("action", "label"), [("confirm_fraud", "fraud"), ("mark_legitimate", "legitimate")])
def test_a_bulk_action_records_a_review_per_transaction_and_labels_them(
    analyst, make_prediction, analyst_user, action, label
):
    chosen = [make_prediction(score=0.9), make_prediction(score=0.8)]
    left = make_prediction(score=0.7)
    selected = {"action": action, "_selected_action": [p.pk for p in chosen]}

    asked = analyst.post(QUEUE, selected)

    assert asked.status_code == 200 and not Review.objects.exists()  # a confirmation page first
    page = asked.content.decode()
    assert "Are you sure? 2 transactions to be" in page
    assert all(p.transaction.transaction_id in page for p in chosen) and left.transaction.transaction_id not in page

    response = analyst.post(QUEUE, {**selected, "post": "yes"}, follow=True)

    assert response.status_code == 200
    reviews = Review.objects.order_by("transaction_id")
    assert [(r.transaction_id, r.reviewer, r.outcome) for r in reviews] == [
        (p.transaction_id, analyst_user, label) for p in chosen
    ]
    assert all(r.reviewed_at > timezone.now() - timedelta(minutes=1) for r in reviews)
    assert set(
        Transaction.objects.filter(pk__in=[p.transaction_id for p in chosen]).values_list("label_source", "label")
    ) == {("review", label)}
    assert _rows(response) == [left.transaction.transaction_id]  # the reviewed ones left the queue
    assert "2 transactions" in response.content.decode()


def test_the_queue_has_no_delete_or_add(analyst, make_prediction):
    make_prediction(score=0.9)
    response = analyst.get(QUEUE)
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert actions == ["", "confirm_fraud", "mark_legitimate"]
    assert not response.context["has_add_permission"]


def test_a_page_of_a_hundred_takes_as_many_queries_as_a_page_of_one(analyst, make_prediction):
    make_prediction(score=0.9)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = analyst.get(QUEUE)
        assert response.status_code == 200
        return len(queries)

    one = count_queries()
    for i in range(99):
        make_prediction(score=0.5 + i / 1000, customer_id=f"C{i}", terminal_id=f"T{i}")
    hundred = count_queries()

    assert hundred == one


def test_the_hundred_row_page_stays_under_a_fixed_query_budget(analyst, make_prediction, django_assert_max_num_queries):
    for i in range(100):
        make_prediction(score=0.5 + i / 1000, customer_id=f"C{i}", terminal_id=f"T{i}")

    # session, user, user and group permissions, the model-version filter's choices, the count, the page,
    # and the date hierarchy's range and days: 9, none of them per row.
    with django_assert_max_num_queries(9):
        response = analyst.get(QUEUE)

    assert len(response.context["cl"].result_list) == 100


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (timedelta(seconds=20), "0\xa0min"),
        (timedelta(minutes=59), "59\xa0min"),
        (timedelta(hours=47), "47\xa0h"),
        (timedelta(days=3, hours=5), "3\xa0d"),
    ],
)
def test_the_time_in_the_queue_is_short(age, shown):
    from predictions.admin.queue import waited

    assert waited(age) == shown
