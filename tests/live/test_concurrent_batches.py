"""Overlapping batches sent at once: every answer is a deliberate one and every id is stored once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.live

BATCHES = 16  # batch i holds ids [i*10, i*10+40): each id is in up to four batches at once
ROUNDS = 3
ALLOWED = {200, 201, 409}  # the batch API's answers: scored, all replayed, stored with other content


def round_items(round_number: int) -> dict[int, dict[str, Any]]:
    """Every id of one round, with one fixed content: a batch that repeats an id repeats it exactly."""
    start = datetime.now(UTC) - timedelta(hours=1)
    return {
        number: {
            "transaction_id": f"live-batch-r{round_number}-{number:04d}",
            "timestamp": (start + timedelta(seconds=number)).isoformat(),
            "customer_id": f"LIVE-BATCH-R{round_number}",
            "terminal_id": f"LIVE-T{number % 7}",
            "amount": f"{10 + number}.50",
        }
        for number in range((BATCHES - 1) * 10 + 40)
    }


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_overlapping_batches_sent_at_once_are_each_scored_and_stored_once(live_service, round_number):
    items = round_items(round_number)
    batches = [[items[number] for number in range(i * 10, i * 10 + 40)] for i in range(BATCHES)]

    def send(batch: list[dict[str, Any]]):
        return live_service.request(
            "POST", "/api/v1/transactions/batch/", token=live_service.scoring_token, json_body={"items": batch}
        )

    with ThreadPoolExecutor(max_workers=BATCHES) as pool:
        answers = list(pool.map(send, batches))

    statuses = [answer.status for answer in answers]
    assert set(statuses) <= ALLOWED, statuses
    scores: dict[str, set[float]] = {}
    for batch, answer in zip(batches, answers, strict=True):
        if answer.status == 409:
            assert answer.json()["code"] == "duplicate_transaction"
            continue
        results = answer.json()["results"]
        assert [result["transaction_id"] for result in results] == [item["transaction_id"] for item in batch]
        for result in results:
            scores.setdefault(result["transaction_id"], set()).add(result["score"])
    # A replay answers the stored result: an id never gets two scores.
    assert {tid for tid, seen in scores.items() if len(seen) > 1} == set()

    listed = live_service.request(
        "GET",
        f"/api/v1/transactions/?customer_id=LIVE-BATCH-R{round_number}&page_size=500",
        token=live_service.analyst_token,
    ).json()
    stored_ids = [row["transaction_id"] for row in listed["results"]]
    assert listed["count"] == len(items)
    assert sorted(stored_ids) == sorted(item["transaction_id"] for item in items.values())

    def predictions_of(transaction_id: str) -> int:
        answer = live_service.request(
            "GET", f"/api/v1/transactions/{transaction_id}/", token=live_service.analyst_token
        )
        assert answer.status == 200, answer.body
        return len(answer.json()["predictions"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = dict(zip(stored_ids, pool.map(predictions_of, stored_ids), strict=True))
    assert {tid: count for tid, count in counts.items() if count != 1} == {}
