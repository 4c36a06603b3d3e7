"""The review queue: flagged, not yet reviewed, highest score first."""

from __future__ import annotations

from predictions.models import Review
from predictions.selectors import ReviewState, review_queue


def _ids(queryset) -> list[str]:
    return [prediction.transaction.transaction_id for prediction in queryset]


def test_it_lists_flagged_transactions_highest_score_first(make_prediction):
    make_prediction(score=0.62, transaction_id="review-low")
    make_prediction(score=0.97, transaction_id="decline-high")
    make_prediction(score=0.81, transaction_id="review-high")
    make_prediction(score=0.10, transaction_id="approved")

    assert _ids(review_queue()) == ["decline-high", "review-high", "review-low"]


def test_a_reviewed_transaction_leaves_the_queue(make_prediction, analyst_user):
    waiting = make_prediction(score=0.7, transaction_id="waiting")
    done = make_prediction(score=0.9, transaction_id="done")
    Review.objects.create(transaction=done.transaction, reviewer=analyst_user, outcome="fraud")

    assert _ids(review_queue()) == ["waiting"]
    assert _ids(review_queue(state=ReviewState.REVIEWED)) == ["done"]
    assert _ids(review_queue(state=ReviewState.ANY)) == ["done", "waiting"]
    assert review_queue(state=ReviewState.ANY).get(pk=waiting.pk).is_reviewed is False


def test_a_rescored_transaction_appears_once_with_its_latest_score(make_prediction):
    first = make_prediction(score=0.95, transaction_id="rescored")
    make_prediction(score=0.55, transaction=first.transaction)

    assert [(p.transaction.transaction_id, p.score) for p in review_queue()] == [("rescored", 0.55)]


def test_a_transaction_rescored_below_the_review_threshold_leaves_the_queue(make_prediction):
    first = make_prediction(score=0.95, transaction_id="cleared-by-new-model")
    make_prediction(score=0.2, transaction=first.transaction)

    assert _ids(review_queue()) == []
