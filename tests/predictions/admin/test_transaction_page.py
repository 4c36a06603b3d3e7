"""The transaction page: why the model flagged it, its context, and the review form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from predictions.models import Prediction, Review, Transaction
from predictions.services.integrity import signed

WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _page_url(transaction: Transaction) -> str:
    return f"/admin/predictions/transaction/{transaction.pk}/change/"


def _review_url(transaction: Transaction) -> str:
    return f"/admin/predictions/transaction/{transaction.pk}/review/"


@pytest.fixture
def analyst(client, analyst_user):
    client.force_login(analyst_user)
    return client


@pytest.fixture
def flagged(make_prediction, make_transaction):
    """A flagged transaction with a customer history (one earlier fraud) and a terminal with a known fraud."""
    make_transaction(
        transaction_id="earlier-fraud",
        customer_id="C-9",
        terminal_id="T-OTHER",
        timestamp=WHEN - timedelta(days=3),
        label="fraud",
    )
    make_transaction(
        transaction_id="earlier-fine",
        customer_id="C-9",
        terminal_id="T-OTHER",
        timestamp=WHEN - timedelta(days=10),
        label="legitimate",
    )
    make_transaction(transaction_id="too-old", customer_id="C-9", timestamp=WHEN - timedelta(days=45))
    make_transaction(terminal_id="T-5", customer_id="C-1", timestamp=WHEN - timedelta(days=2), label="fraud")
    make_transaction(terminal_id="T-5", customer_id="C-2", timestamp=WHEN - timedelta(days=4), label="legitimate")
    make_transaction(terminal_id="T-5", customer_id="C-3", timestamp=WHEN - timedelta(days=5))
    return make_prediction(
        score=0.912, transaction_id="tx-flagged", customer_id="C-9", terminal_id="T-5", timestamp=WHEN
    )


def test_it_shows_the_score_decision_reasons_features_and_model_version(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="prediction-score">0.912<' in page
    assert 'id="prediction-decision">decline<' in page
    assert "queue-test-v1" in page
    assert [name for name, _ in response.context["features"]] == ["TX_AMOUNT", "TX_DURING_NIGHT"]
    assert "<td>amount 42.00</td>" in page and "+0.250" in page  # a reason in words, its contribution rounded


def test_the_facts_come_first_in_one_date_format(analyst, flagged):
    page = analyst.get(_page_url(flagged.transaction)).content.decode()

    facts = {
        "amount": 'id="fact-amount">42.00 EUR<',
        "time": 'id="fact-time">2026-03-10 12:00:00<',
        "customer": ">C-9</a>",
        "terminal": ">T-5</a>",
        "score": 'id="prediction-score">0.912<',
        "decision": 'id="prediction-decision">decline<',
        "label": 'id="fact-label" class="label-unknown">unknown<',
    }
    positions = {name: page.find(text) for name, text in facts.items()}
    assert all(position > 0 for position in positions.values()), positions
    assert max(positions.values()) < page.find('id="prediction-reasons"') < page.find('id="customer-history"')
    # Django's own read-only fields further down use the same format.
    assert "2026-03-10 12:00:00" in page.split('id="customer-history"')[1]
    assert "p.m." not in page and "a.m." not in page


def test_reasons_are_said_in_words_with_the_customers_average(analyst, make_transaction, model_version):
    model_version.feature_names = ["TX_AMOUNT", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW"]
    model_version.save()
    prediction = signed(
        Prediction(
            transaction=make_transaction(amount="980.00"),
            model_version=model_version,
            score=0.95,
            decision="decline",
            thresholds=model_version.thresholds,
            features=[980.0, 81.67],
            reasons=[{"feature": "TX_AMOUNT", "value": 980.0, "contribution": 0.039999999999999994}],
            latency_ms=0.01096556963408065,
        )
    )
    prediction.save(force_insert=True)

    page = analyst.get(_page_url(prediction.transaction)).content.decode()

    assert "amount 980.00 is 12x this customer&#x27;s 30-day average (81.67)" in page
    assert "+0.040" in page and "0.0399999" not in page


def test_it_shows_the_customers_last_30_days_with_labels(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    history = [(tx.transaction_id, tx.label) for tx in response.context["customer_history"]]
    assert history == [("tx-flagged", "unknown"), ("earlier-fraud", "fraud"), ("earlier-fine", "legitimate")]


def test_the_history_shows_the_latest_ten_and_links_to_the_whole_list(analyst, flagged, make_transaction):
    for day in range(1, 15):
        make_transaction(transaction_id=f"busy-{day:02d}", customer_id="C-9", timestamp=WHEN - timedelta(hours=day))

    response = analyst.get(_page_url(flagged.transaction))

    history = [tx.transaction_id for tx in response.context["customer_history"]]
    assert history == ["tx-flagged", *(f"busy-{day:02d}" for day in range(1, 10))]
    link = '<a href="/admin/predictions/transaction/?customer_id=C-9" id="customer-history-all">'
    assert link in response.content.decode()
    listed = analyst.get("/admin/predictions/transaction/?customer_id=C-9")
    assert listed.status_code == 200
    # The whole list: the 14, the flagged one, and the customer's 3 earlier ones (too-old among them).
    assert listed.context["cl"].result_count == 14 + 1 + 3


def test_it_shows_the_terminals_recent_fraud_rate(analyst, flagged):
    response = analyst.get(_page_url(flagged.transaction))

    # T-5 in the 30 days up to the transaction: 3 earlier + the transaction itself, 1 labelled fraud -> 1/4.
    rate = response.context["terminal_rate"]
    assert (rate.transactions, rate.frauds) == (4, 1)
    assert 'id="terminal-fraud-rate">0.250<' in response.content.decode()


def test_save_and_next_opens_the_next_unreviewed_item_of_the_queue(analyst, flagged, make_prediction):
    second = make_prediction(score=0.8)
    make_prediction(score=0.7)
    make_prediction(score=0.3)  # approved: not in the queue

    response = analyst.post(_review_url(flagged.transaction), {"outcome": "fraud", "_next": "1"})

    assert response["Location"] == _page_url(second.transaction)


def test_save_and_next_on_the_last_item_goes_back_to_the_empty_queue(analyst, flagged):
    response = analyst.post(_review_url(flagged.transaction), {"outcome": "legitimate", "_next": "1"}, follow=True)

    assert response.redirect_chain[-1][0] == "/admin/predictions/reviewqueueitem/"
    assert "The queue is empty" in response.content.decode()


def test_confirming_with_a_note_records_a_review_and_returns_to_the_queue(analyst, analyst_user, flagged):
    response = analyst.post(_review_url(flagged.transaction), {"outcome": "fraud", "notes": "two cards, one terminal"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/predictions/reviewqueueitem/"
    review = Review.objects.get()
    assert (review.transaction_id, review.reviewer, review.outcome, review.notes) == (
        flagged.transaction_id,
        analyst_user,
        "fraud",
        "two cards, one terminal",
    )
    flagged.transaction.refresh_from_db()
    assert (flagged.transaction.label, flagged.transaction.label_source) == ("fraud", "review")


def test_a_second_review_adds_a_row_and_both_show_on_the_page(analyst, flagged):
    analyst.post(_review_url(flagged.transaction), {"outcome": "fraud", "notes": "first look"})
    analyst.post(_review_url(flagged.transaction), {"outcome": "legitimate", "notes": "customer called back"})

    assert list(Review.objects.order_by("pk").values_list("outcome", "notes")) == [
        ("fraud", "first look"),
        ("legitimate", "customer called back"),
    ]
    page = analyst.get(_page_url(flagged.transaction)).content.decode()
    assert "first look" in page and "customer called back" in page


def test_a_review_with_a_bad_outcome_is_refused_with_a_message(analyst, flagged):
    response = analyst.post(_review_url(flagged.transaction), {"outcome": "unknown"}, follow=True)

    assert not Review.objects.exists()
    assert "not recorded" in response.content.decode()


def test_the_review_url_takes_posts_only(analyst, flagged):
    assert analyst.get(_review_url(flagged.transaction)).status_code == 405


def test_staff_without_the_analyst_role_see_no_form_and_cannot_review(client, flagged):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*_permissions("view_transaction"))
    client.force_login(viewer)

    page = client.get(_page_url(flagged.transaction)).content.decode()
    response = client.post(_review_url(flagged.transaction), {"outcome": "fraud"})

    assert "review-save-next" not in page
    assert response.status_code == 403
    assert not Review.objects.exists()


def _permissions(*codenames: str):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="predictions", codename__in=codenames)


def test_a_transaction_loaded_as_history_says_it_was_never_scored(analyst, make_transaction):
    transaction = make_transaction()
    page = analyst.get(_page_url(transaction)).content.decode()
    assert "never scored" in page
