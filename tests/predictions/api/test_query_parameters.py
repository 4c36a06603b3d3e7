"""The lists' query parameters: a value the service cannot use is a 400 naming it, never ignored and never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from predictions import rules

pytestmark = pytest.mark.django_db

LIST = "/api/v1/transactions/"


@pytest.fixture
def listed(make_transaction):
    for day in (1, 2, 3):
        make_transaction(transaction_id=f"t-{day}", timestamp=datetime(2026, 3, day, tzinfo=UTC))


def fields_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    return response.json()["fields"]


@pytest.mark.parametrize("url", [LIST, "/api/v1/models/"])
@pytest.mark.parametrize("value", ["null", "0", "-1", "501", "ten", "2.5", ""])
def test_a_page_size_that_is_not_a_whole_number_from_1_to_500_is_a_400(analyst_client, listed, url, value):
    response = analyst_client.get(url, {"page_size": value})

    assert fields_of(response) == {"page_size": [rules.PAGE_SIZE_MESSAGE]}


@pytest.mark.parametrize("value", ["0", "-1", "abc", "last", "1.0", ""])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_400(analyst_client, listed, value):
    assert fields_of(analyst_client.get(LIST, {"page": value})) == {"page": [rules.PAGE_MESSAGE]}


@pytest.mark.parametrize("page", ["3", "99999999999999999999999999999", "9" * 5000])
def test_a_page_past_the_last_one_is_a_404_invalid_page(analyst_client, listed, page):
    response = analyst_client.get(LIST, {"page": page, "page_size": "2"})

    assert response.status_code == 404
    assert (response.json()["code"], response.json()["detail"]) == ("not_found", "Invalid page.")


def test_the_largest_page_size_is_served(analyst_client, listed):
    response = analyst_client.get(LIST, {"page_size": "500", "page": "1"})

    assert response.status_code == 200
    assert response.json()["count"] == 3


# Times that name their zone but do not exist in UTC (year 0 or year 10000 there): a 500 on SQLite, once.
OUT_OF_RANGE_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T09:59:59+10:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T20:00:00-04:00",
]
# Not a time with a zone at all.
NOT_AWARE_TIMES = ["2026-03-01T00:00:00", "2026-03-01", "2026-03-01T00:00:00+25:00", "yesterday", "\x00"]


@pytest.mark.parametrize("name", ["timestamp_after", "timestamp_before"])
@pytest.mark.parametrize("value", OUT_OF_RANGE_TIMES + NOT_AWARE_TIMES)
def test_a_time_filter_that_is_no_time_in_utc_is_a_400_naming_it(analyst_client, listed, name, value):
    assert fields_of(analyst_client.get(LIST, {name: value})) == {name: [rules.FILTER_TIME_MESSAGE]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"timestamp_after": "0001-01-01T00:00:00Z"}, 3),
        ({"timestamp_after": "0001-01-01T10:00:00+10:00"}, 3),
        ({"timestamp_before": "9999-12-31T23:59:59.999999Z"}, 3),
        ({"timestamp_before": "9999-12-31T23:59:59+14:00"}, 3),
        ({"timestamp_after": "2026-03-02T01:00:00+01:00"}, 2),
    ],
)
def test_a_time_filter_at_the_ends_of_the_calendar_works(analyst_client, listed, query, expected):
    response = analyst_client.get(LIST, query)

    assert response.status_code == 200, response.content
    assert response.json()["count"] == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("flagged", "maybe"),
        ("flagged", "1"),
        ("reviewed", "True"),
        ("score_min", "1.5"),
        ("score_max", "-0.1"),
        ("ordering", "scroe"),
        ("ordering", "-score,colour"),
    ],
)
def test_a_filter_or_ordering_the_service_cannot_use_is_a_400_not_ignored(analyst_client, listed, name, value):
    assert list(fields_of(analyst_client.get(LIST, {name: value}))) == [name]


def test_an_empty_filter_is_left_out_as_an_html_form_sends_it(analyst_client, listed):
    query = {"decision": "", "flagged": "", "reviewed": "", "timestamp_after": "", "score_min": "", "ordering": ""}

    response = analyst_client.get(LIST, query)

    assert response.status_code == 200
    assert response.json()["count"] == 3
