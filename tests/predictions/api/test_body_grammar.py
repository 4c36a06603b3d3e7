"""Property: whatever bytes a scoring client sends to transactions/ or transactions/batch/, the answer is a
deliberate one, 201, 200, 400, 409 or 413, in the error shape when it is a 4xx, and exactly one audit row
(ScoringRequest) records it.

The bodies follow the transaction's grammar loosely: each field holds a plausible value or any JSON value,
objects may repeat a key, and the text may hold NUL, lone surrogates (escaped, or as raw bytes that are not
UTF-8), numbers too large for a float or for Python's int parser, nesting around and far beyond the parser's
limit, and padding past the body-size limit.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis
import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from knox.models import AuthToken

from predictions import rules
from predictions.api.parsers import MAX_DEPTH
from predictions.models import ScoringRequest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

BODY_LIMIT = 16 * 1024  # FRAUDSITE_MAX_BODY_BYTES here, so that padding reaches it cheaply
ANSWERS = {200, 201, 400, 409, 413}
ERROR_KEYS = {"status", "code", "detail", "fields", "request_id"}

# --- JSON text, from ordinary to hostile ---------------------------------------------------------------

_ODD_TEXT = st.text(
    alphabet=st.characters(codec=None, categories=["L", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co"]), max_size=12
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    _ODD_TEXT,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@st.composite
def _dumped(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> str:
    """A value as JSON text; a lone surrogate is escaped (ensure_ascii) or left raw (not UTF-8 once encoded)."""
    return json.dumps(draw(values), ensure_ascii=draw(st.booleans()))


def _nested_arrays(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


_RAW_TOKENS = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1" + "0" * 5000,  # over Python's 4,300-digit int limit
        "1" + "0" * 4000,
        "0." + "0" * 400 + "1",
        '"\\ud800"',
        '"a\\udc00"',
        '"\\u0000"',
        '"nul \\u0000 inside"',
        '"\\ud83d\\ude00"',
        "",
        "[1,",
        '{"a"}',
    ]
)
_DEPTHS = st.one_of(st.integers(min_value=MAX_DEPTH - 3, max_value=MAX_DEPTH + 3), st.sampled_from([900, 1100, 5_000]))
JSON_TEXT = st.one_of(_dumped(JSON_VALUES), _RAW_TOKENS, _DEPTHS.map(_nested_arrays), _DEPTHS.map(_nested_objects))

# --- the transaction's fields --------------------------------------------------------------------------

_NOW = datetime.now(UTC)


@st.composite
def _recent_times(draw: st.DrawFn) -> str:
    moment = _NOW - timedelta(minutes=draw(st.integers(min_value=0, max_value=60 * 24 * 40)))
    offset = timezone(timedelta(minutes=15 * draw(st.integers(min_value=-56, max_value=56))))
    text = moment.astimezone(offset).isoformat()
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


_CLEAN_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)
_CLEAN_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _CLEAN_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_CLEAN_TEXT, children, max_size=3),
    max_leaves=8,
)
_PARTIES = st.one_of(st.sampled_from(["C1", "C2", " T1 ", "T2"]), st.from_regex(rules.PARTY_ID_PATTERN))

# Hypothesis draws the same few ids again and again, and the database keeps every example's rows: without
# ids it has never seen, nearly every valid transaction would be a 409.
_FRESH = itertools.count()
_FRESH_IDS = st.builds(lambda: f"fresh-{next(_FRESH)}")

# Values each field accepts (an id from a small pool, so that replays and 409s happen) ...
VALID: dict[str, st.SearchStrategy[Any]] = {
    "transaction_id": st.one_of(
        st.sampled_from(["prop-1", "prop-2"]),  # stored again with other content: 409
        st.from_regex(rules.TRANSACTION_ID_PATTERN),
        _FRESH_IDS,
        _FRESH_IDS,
    ),
    "timestamp": _recent_times(),
    "customer_id": _PARTIES,
    "terminal_id": _PARTIES,
    "amount": st.one_of(
        st.decimals(min_value=0, max_value=rules.AMOUNT_MAX, places=2).map(str),
        st.integers(min_value=0, max_value=int(rules.AMOUNT_MAX)),
        st.decimals(min_value=0, max_value=10**6, places=2).map(float),
    ),
    "currency": st.sampled_from(sorted(rules.CURRENCY_CODES)),
    "metadata": st.dictionaries(_CLEAN_TEXT, _CLEAN_JSON, max_size=4),
}
# ... and values near their edges or past them.
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "transaction_id": st.one_of(st.sampled_from(["", "tx 1", "tx\n", "x" * 65, "tx-\x00"]), st.text(max_size=70)),
    "timestamp": st.one_of(
        st.sampled_from(
            [
                "0001-01-15T00:00:00Z",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "2026-01-05T10:00:00+25:00",
                "2026-01-05T10:00:00",
                "1969-12-31T23:59:59Z",
                "2026-01-31T13:00+01:00",
                " 2026-01-05T10:00:00Z ",
            ]
        ),
        st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    ),
    "customer_id": st.one_of(st.sampled_from(["", "   ", "c" * 65]), st.text(max_size=70)),
    "terminal_id": st.text(max_size=70),
    "amount": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.integers(min_value=-5, max_value=2 * 10**9),
        st.floats(min_value=-1, max_value=2e9),
        st.sampled_from(["", "1e2", " 1.00", "+1", ".5", "١٢", "12.345", "1000000000.01"]),
    ),
    "currency": st.one_of(st.sampled_from(["eur", "000", "", "EURO"]), st.text(max_size=4)),
    "metadata": st.one_of(JSON_VALUES, st.just({"big": "x" * (rules.METADATA_MAX_BYTES + 1)})),
}


def _one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in n draws (Hypothesis draws the ends of an integer range far more often)."""
    return draw(st.sampled_from(range(n))) == n - 1


@st.composite
def transaction_texts(draw: st.DrawFn) -> str:
    """An object's text, written by hand so that a key may appear twice: mostly valid, with a few fields
    given a bad value, any JSON or hostile text, left out, or repeated."""
    spoiled = set(draw(st.just([]) | st.lists(st.sampled_from(rules.TRANSACTION_FIELDS), max_size=3)))
    pairs = []
    for name in rules.TRANSACTION_FIELDS:
        if name not in spoiled:
            pairs.append((name, draw(_dumped(VALID[name]))))
            continue
        kind = draw(st.sampled_from(["invalid", "any", "absent", "twice"]))
        if kind == "invalid":
            pairs.append((name, draw(_dumped(INVALID[name]))))
        elif kind == "any":
            pairs.append((name, draw(JSON_TEXT)))
        elif kind == "twice":
            pairs += [(name, draw(_dumped(VALID[name]))), (name, draw(_dumped(VALID[name])))]
    if _one_in(draw, 10):
        pairs.append((draw(st.sampled_from(["colour", "\ud800", "\x00"])), draw(JSON_TEXT)))
    pairs = draw(st.permutations(pairs))
    return "{" + ",".join(f"{json.dumps(key, ensure_ascii=draw(st.booleans()))}:{text}" for key, text in pairs) + "}"


@st.composite
def batch_texts(draw: st.DrawFn) -> str:
    if _one_in(draw, 20):
        return '{"items":' + draw(JSON_TEXT) + "}"
    items = draw(st.lists(transaction_texts(), max_size=4))
    return '{"items":[' + ",".join(items) + "]}"


@st.composite
def bodies(draw: st.DrawFn, objects: st.SearchStrategy[str]) -> bytes:
    """The request body's bytes: mostly the object, sometimes any JSON text, padded past the size limit,
    with a raw NUL byte, or cut and led by random bytes."""
    text = draw(JSON_TEXT) if _one_in(draw, 10) else draw(objects)
    if _one_in(draw, 30):
        text += " " * BODY_LIMIT
    body = text.encode("utf-8", errors="surrogatepass")  # a raw lone surrogate stays, as bytes that are not UTF-8
    if _one_in(draw, 15):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        body = body[:at] + b"\x00" + body[at:]  # a raw NUL byte, not an escape
    if _one_in(draw, 30):
        body = draw(st.binary(max_size=40)) + body[: draw(st.integers(min_value=0, max_value=len(body)))]
    return body


# --- the property --------------------------------------------------------------------------------------


@pytest.fixture
def scoring_http(scoring_user, active_model_version, settings) -> Client:
    """Django's test client with the scoring token: raw bytes in, the full middleware stack."""
    settings.FRAUDSITE_MAX_BODY_BYTES = BODY_LIMIT
    _, key = AuthToken.objects.create(user=scoring_user, expiry=None)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _assert_deliberate_and_audited(client: Client, url: str, body: bytes) -> None:
    """One request: a deliberate answer, and exactly one audit row that records it."""
    audited_before = ScoringRequest.objects.count()

    response = client.post(url, data=body, content_type="application/json")
    hypothesis.event(f"status {response.status_code}")  # see pytest --hypothesis-show-statistics

    assert response.status_code in ANSWERS, (response.status_code, response.content[:300], body[:300])
    assert ScoringRequest.objects.count() == audited_before + 1, body[:300]
    audit = ScoringRequest.objects.get(request_id=response["X-Request-ID"])
    assert audit.status_code == response.status_code
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == ERROR_KEYS
        assert (error["status"], error["request_id"]) == (response.status_code, response["X-Request-ID"])


_PROPERTY = hypothesis.settings(
    max_examples=120,
    deadline=None,
    database=None,  # nothing written under the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_PROPERTY
@given(body=bodies(transaction_texts()), times=st.integers(min_value=1, max_value=2))
def test_any_body_sent_to_score_one_transaction_is_answered_deliberately_and_audited_once(scoring_http, body, times):
    for _ in range(times):  # a second time: a replay (200) or the same refusal
        _assert_deliberate_and_audited(scoring_http, "/api/v1/transactions/", body)


@_PROPERTY
@given(body=bodies(batch_texts()), times=st.integers(min_value=1, max_value=2))
def test_any_body_sent_to_score_a_batch_is_answered_deliberately_and_audited_once(scoring_http, body, times):
    for _ in range(times):
        _assert_deliberate_and_audited(scoring_http, "/api/v1/transactions/batch/", body)
