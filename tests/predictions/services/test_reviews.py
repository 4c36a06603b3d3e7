"""Recording analysts' reviews: a history of verdicts, each setting the transaction's label."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from predictions.models import Review
from predictions.services.reviews import ReviewError, review_record, review_record_bulk


def test_a_review_records_the_analyst_the_time_and_the_note_and_sets_the_label(make_transaction, analyst_user):
    transaction = make_transaction()
    before = timezone.now()

    review = review_record(
        via="admin", transaction=transaction, reviewer=analyst_user, outcome="fraud", notes="card holder called"
    )

    review.refresh_from_db()
    transaction.refresh_from_db()
    assert (review.reviewer, review.outcome, review.notes) == (analyst_user, "fraud", "card holder called")
    assert review.reviewed_at >= before
    assert (transaction.label, transaction.label_source, transaction.labelled_at) == (
        "fraud",
        "review",
        review.reviewed_at,
    )


def test_a_second_review_adds_a_row_and_leaves_the_first_as_it_was(make_transaction, analyst_user):
    transaction = make_transaction()
    first = review_record(
        via="admin", transaction=transaction, reviewer=analyst_user, outcome="fraud", notes="looks stolen"
    )

    second = review_record(
        via="admin", transaction=transaction, reviewer=analyst_user, outcome="legitimate", notes="owner confirmed"
    )

    assert list(Review.objects.filter(transaction=transaction).order_by("pk").values_list("outcome", "notes")) == [
        ("fraud", "looks stolen"),
        ("legitimate", "owner confirmed"),
    ]
    assert first.pk != second.pk
    transaction.refresh_from_db()
    assert transaction.label == "legitimate"


@pytest.mark.parametrize("outcome", ["unknown", "FRAUD", ""])
def test_it_refuses_an_outcome_that_is_not_fraud_or_legitimate(make_transaction, analyst_user, outcome):
    transaction = make_transaction()

    with pytest.raises(ReviewError, match="outcome"):
        review_record(via="admin", transaction=transaction, reviewer=analyst_user, outcome=outcome)

    assert not Review.objects.exists()
    transaction.refresh_from_db()
    assert transaction.label == "unknown"


def test_bulk_reviews_add_one_row_per_transaction_and_label_them_all(make_transaction, analyst_user):
    transactions = [make_transaction() for _ in range(3)]
    untouched = make_transaction()

    reviews = review_record_bulk(via="admin", transactions=transactions, reviewer=analyst_user, outcome="legitimate")

    assert len(reviews) == 3
    assert set(Review.objects.values_list("transaction_id", flat=True)) == {tx.pk for tx in transactions}
    for transaction in transactions:
        transaction.refresh_from_db()
        assert (transaction.label, transaction.label_source) == ("legitimate", "review")
    untouched.refresh_from_db()
    assert untouched.label == "unknown"


def test_bulk_reviews_take_the_same_few_queries_for_one_or_a_hundred(
    make_transaction, analyst_user, django_assert_max_num_queries
):
    transactions = [make_transaction() for _ in range(100)]

    # savepoint, insert reviews, read labels under lock, insert label events, update labels, the admin's
    # log entries (and their content type, once a process), release: independent of the number of transactions.
    with django_assert_max_num_queries(8):
        review_record_bulk(via="admin", transactions=transactions, reviewer=analyst_user, outcome="fraud")

    assert Review.objects.count() == 100


def test_reviews_show_in_the_admins_recent_actions_of_the_reviewer(make_transaction, analyst_user):
    one, *many = [make_transaction() for _ in range(3)]

    review_record(via="api", transaction=one, reviewer=analyst_user, outcome="fraud")
    review_record_bulk(via="admin", transactions=many, reviewer=analyst_user, outcome="legitimate")

    entries = LogEntry.objects.filter(user=analyst_user).order_by("pk")
    assert [(entry.object_repr, entry.get_change_message()) for entry in entries] == [
        (one.transaction_id, "Reviewed: fraud."),
        (many[0].transaction_id, "Reviewed: legitimate."),
        (many[1].transaction_id, "Reviewed: legitimate."),
    ]
    assert entries[0].get_admin_url() == f"/admin/predictions/transaction/{one.pk}/change/"
